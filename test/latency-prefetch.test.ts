/**
 * The prefetch over a slow link: the harness sshd behind the latency lab's delay proxy (20 ms RTT).
 * A cold walk of a tree, as `find` or `git status` does it, must cost a fixed number of round trips — one
 * listing — not one per name; and reading every small file must come from one tar stream. Counted, not
 * timed (the machine is shared; speed lives in `npm run bench:mount`).
 */
import { constants } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createCachedRemoteFs } from '../fs/cache/cached-remote-fs.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { createVfsOver } from '../fs/vfs/vfs.js';
import { prefetchingLayer } from './helpers/prefetch-layer.js';
import { startDelayProxy, type DelayProxy } from '../scripts/delay-proxy.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

const DIRS = 40;
const FILES = 10;

let sshd: Sshd;
let proxy: DelayProxy;

beforeAll(async () => {
  sshd = await startSshd();
  proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: 10 });
  for (let d = 0; d < DIRS; d++) {
    const dir = join(sshd.root, 'site', `d${String(d).padStart(2, '0')}`);
    await mkdir(dir, { recursive: true });
    for (let f = 0; f < FILES; f++) await writeFile(join(dir, `f${f}.html`), `<p>${d}/${f}</p>\n`);
  }
});

afterAll(async () => {
  await proxy?.close();
  await sshd?.stop();
});

test('a cold walk of 40 directories and 400 files over 20 ms RTT costs one listing and one tar stream, not a round trip per name', async () => {
  const sftp: SftpRemoteFs = await createSftpRemoteFs(harnessConnector(sshd, {}, proxy.port), join(sshd.root, 'site'));
  let remoteCalls = 0;
  const counted = new Proxy(sftp, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        remoteCalls += 1;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const layer = prefetchingLayer(createCachedRemoteFs(counted), { shell: { shell: counted, serverRoot: sftp.remoteRoot }, options: { readsBeforeContent: 4 } });
  const { prefetcher } = layer;
  const vfs = createVfsOver(layer, counted);
  try {
    // What find(1) does: readdir, then lstat every name, depth first.
    const walk = async (dir: string): Promise<number> => {
      let files = 0;
      for (const entry of await vfs.readdir(dir)) {
        const path = dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`;
        const attr = await vfs.getattr(path);
        if ((attr.mode & constants.S_IFMT) === constants.S_IFDIR) files += await walk(path);
        else files += 1;
      }
      return files;
    };
    expect(await walk('/')).toBe(DIRS * FILES);
    // The root's own READDIR (its listing would come last in find's stream) and one execStream (find, with
    // the exec probe inside it): no per-directory READDIR, no per-name LSTAT.
    expect(remoteCalls).toBe(2);
    expect(prefetcher.stats()).toMatchObject({ jobs: 1, findJobs: 1, truncatedJobs: 0, failedJobs: 0 });

    // What git status does on a fresh mount: read every file, in path order.
    const seen: string[] = [];
    for (let d = 0; d < DIRS; d++) {
      for (let f = 0; f < FILES; f++) {
        const fh = await vfs.open(`/d${String(d).padStart(2, '0')}/f${f}.html`, constants.O_RDONLY);
        try {
          seen.push((await vfs.read(fh, 0, 4096)).toString());
        } finally {
          await vfs.release(fh);
        }
      }
    }
    expect(seen[0]).toBe('<p>0/0</p>\n');
    expect(seen[DIRS * FILES - 1]).toBe(`<p>${DIRS - 1}/${FILES - 1}</p>\n`);
    await prefetcher.idle();
    // The first reads (before the tar stream starts) go over SFTP; everything after comes from the stream.
    expect(remoteCalls).toBeLessThanOrEqual(2 + 4 + 1);
    expect(prefetcher.stats().files).toBeGreaterThanOrEqual(DIRS * FILES - 4);
  } finally {
    await vfs.close();
  }
}, 60_000);
