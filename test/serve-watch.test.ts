/**
 * Watch strategy: a directory on a FUSE mount (a real sshfs mount of the harness sshd) is polled
 * automatically, and an edit made on the server side — invisible to inotify — reaches the browser as a
 * reload event and the cache as fresh content.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { filesystemTypeOf, isNetworkFilesystem } from '../devserver/sources/fs-type.js';
import { LocalFileSource } from '../devserver/sources/local.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { rawRequest, startServer } from './serve-fixture.js';
import { eventually } from './helpers/eventually.js';

const execFileAsync = promisify(execFile);

describe('filesystem type detection', () => {
  test('reads /proc/self/mountinfo', async () => {
    expect(await filesystemTypeOf('/proc/self')).toBe('proc');
    expect(isNetworkFilesystem('fuse.sshfs')).toBe(true);
    expect(isNetworkFilesystem('nfs4')).toBe(true);
    expect(isNetworkFilesystem('ext4')).toBe(false);
    expect(isNetworkFilesystem(null)).toBe(false);
  });
});

describe('a site on an sshfs mount', () => {
  let sshd: Sshd;
  let mountPoint: string;
  let mounted = false;

  beforeAll(async () => {
    sshd = await startSshd();
    await writeFile(path.join(sshd.root, 'index.html'), '<html><body>v1</body></html>');
    mountPoint = await mkdtemp(path.join(tmpdir(), 'devmount-serve-sshfs-'));
    await execFileAsync('sshfs', [`${sshd.user}@127.0.0.1:${sshd.root}`, mountPoint, '-p', String(sshd.port),
      '-o', `IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath},StrictHostKeyChecking=yes,`
        + 'BatchMode=yes,cache=no,attr_timeout=0,entry_timeout=0'], { timeout: 20_000 });
    mounted = true;
  });

  afterAll(async () => {
    if (mounted) await execFileAsync('fusermount3', ['-u', '-z', mountPoint]).catch(() => execFileAsync('umount', ['-l', mountPoint]));
    if (mountPoint) await rm(mountPoint, { recursive: true, force: true });
    await sshd?.stop();
  });

  test('is polled automatically, and a server-side edit reloads and is served fresh', async () => {
    const source = await LocalFileSource.open(mountPoint, { watch: 'auto' });
    expect(source.watchMode).toMatchObject({ kind: 'poll', fsType: 'fuse.sshfs' });
    await source.close();
    const server = await startServer(mountPoint, {}, { watch: { pollMs: 200 } });
    try {
      expect((await rawRequest(server.port, '/')).text).toContain('v1');
      const reloadsBefore = server.liveReload?.sent.reload ?? 0;
      // Written on the server's side of the mount, as a colleague's deploy would: the kernel never sees it.
      await mkdir(path.join(sshd.root, 'sub'), { recursive: true });
      await writeFile(path.join(sshd.root, 'index.html'), '<html><body>v2 from the server</body></html>');
      await eventually(async () => (await rawRequest(server.port, '/')).text.includes('v2 from the server'), 15_000, 'the server-side edit');
      await eventually(() => (server.liveReload?.sent.reload ?? 0) > reloadsBefore, 15_000, 'a reload event');
    } finally {
      await server.close();
    }
  });
});
