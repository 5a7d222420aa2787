/**
 * What a request waited for on a remote tree (real sshd with a shell): under the dev server's request scope,
 * a listing on its way (`listing-wait`, the find listing of the tree) and the tar stream of small files
 * (`tar-wait`) are logged with the request id, the subtree and how long the wait took; the SFTP operations
 * themselves too (fs/trace.ts).
 */
import { constants } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createCachedRemoteFs } from '../fs/cache/cached-remote-fs.js';
import { createSftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { createVfsOver } from '../fs/vfs/vfs.js';
import { prefetchingLayer } from './helpers/prefetch-layer.js';
import { createRequestScope } from '../devserver/request-scope.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

let sshd: Sshd;
let root: string;

beforeAll(async () => {
  sshd = await startSshd();
  root = join(sshd.root, 'site');
  await mkdir(join(root, 'a', 'b'), { recursive: true });
  for (let i = 0; i < 20; i++) await writeFile(join(root, 'a', 'b', `f${i}.txt`), `file ${i}\n`);
});

afterAll(async () => {
  await sshd?.stop();
});

test('listing and tar-stream waits, and the SFTP operations, are logged under the request that waited', async () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = {
    debug: (obj: object, msg: string) => { lines.push({ ...obj, msg }); },
    info: () => undefined,
    warn: () => undefined,
    error: () => undefined,
  };
  const scope = createRequestScope();
  const sftp = await createSftpRemoteFs(harnessConnector(sshd), root, { logger: log, operationContext: scope });
  const layer = prefetchingLayer(createCachedRemoteFs(sftp), {
    shell: { shell: sftp.selfCheckingShell, serverRoot: sftp.remoteRoot },
    log,
    operationContext: scope,
    options: { readsBeforeContent: 1 },
  });
  const { fs, prefetcher } = layer;
  const vfs = createVfsOver(layer, sftp);
  try {
    // The root's READDIR starts the find listing of the whole tree; /a/b, asked for at once, waits for it.
    await scope.run('list-1', async () => {
      const rootListing = fs.readdir('/');
      expect((await fs.readdir('/a/b')).length).toBe(20);
      await rootListing;
    });
    await prefetcher.idle();
    // The first read under the listed tree starts the tar stream of its small files and waits for its own.
    const text = await scope.run('read-1', async () => {
      const fh = await vfs.open('/a/b/f3.txt', constants.O_RDONLY);
      try {
        return (await vfs.read(fh, 0, 100)).toString();
      } finally {
        await vfs.release(fh);
      }
    });
    expect(text).toBe('file 3\n');
    await prefetcher.idle();
    expect(lines).toEqual(expect.arrayContaining([
      { reqId: 'list-1', op: 'readdir', path: '/', ms: expect.any(Number), msg: 'remote operation' },
      { reqId: 'list-1', op: 'listing-wait', path: '/a/b', root: '/', ms: expect.any(Number), msg: 'remote operation' },
      { reqId: 'read-1', op: 'tar-wait', path: '/a/b/f3.txt', root: '/', ms: expect.any(Number), msg: 'remote operation' },
    ]));
    // Nothing was logged for a request that did not ask for it.
    expect(lines.filter((l) => l.msg === 'remote operation').every((l) => l.reqId === 'list-1' || l.reqId === 'read-1')).toBe(true);
  } finally {
    await vfs.close();
  }
});
