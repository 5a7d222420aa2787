/**
 * Kernel cache invalidation (fs/fuse/kernel-cache.ts, native/fuse3/src/invalidator.h) on a real mount of the
 * whole stack over a real sshd, served IN THIS PROCESS (only asynchronous fs calls touch the mount). The
 * kernel's attribute and entry timeouts are 300 s here, and the first test shows the kernel really answers
 * from its own copy for that long. Every later test changes a file on the server, lets the caches learn of it
 * the way devmount does — a refresh (what `devmount refresh` and the remote watcher call), a write through the
 * VFS by another route than this kernel mount (the dev server's, `serve`'s private mount's), a fresh reply
 * unlike the cached one — and expects stat(2) and read(2) through the mount to show it at once. Without the
 * invalidation the kernel would keep showing the old size for 300 s: these tests fail.
 */
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FuseMount } from '../fs/fuse/adapter.js';
import { loadFuseNative } from '../fs/fuse/native.js';
import type { Vfs } from '../fs/vfs/types.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { CACHE_TTL_MS, eventuallyEqual, KERNEL_TIMEOUT_S, longCachedVfs, mountWithLongKernelTimeouts, type LongKernelMount } from './helpers/long-kernel-mount.js';
import { createCliEnv, isMounted, type CliEnv } from './mount-cli-helpers.js';
import { eventually } from './helpers/eventually.js';


describe('kernel caches on a mount over sshd, invalidated instead of expired', () => {
  let sshd: Sshd;
  let vfs: Vfs;
  let mounted: LongKernelMount | undefined;
  let mount: FuseMount;
  let mnt: string;
  /** The VFS caches' clock: moved forward to make their entries expire, while the kernel's run on real time. */
  let clockOffsetMs = 0;
  /** Paths whose getattr reached JavaScript. */
  const asked: string[] = [];
  const server = (name: string) => join(sshd.root, name);
  const local = (name: string) => join(mnt, name);
  const sizeOf = async (name: string) => (await stat(local(name))).size;
  const sent = () => mount.kernelCache()?.sent ?? 0;

  beforeAll(async () => {
    // npm install builds the libfuse 3 binding (scripts/build-native.mjs); CI has a compiler and libfuse3-dev.
    expect(loadFuseNative().invalidation).toBeDefined();
    sshd = await startSshd();
    for (const name of ['held.txt', 'refreshed.txt', 'written.txt', 'contradicted.txt', 'streamed.bin']) await writeFile(server(name), 'v1');
    await mkdir(server('tree/deep'), { recursive: true });
    await writeFile(server('tree/deep/leaf.txt'), 'v1');
    vfs = await longCachedVfs(sshd, () => performance.now() + clockOffsetMs);
    const served = new Proxy(vfs, {
      get: (target, key, receiver) => key === 'getattr'
        ? (path: string) => {
          asked.push(path);
          return target.getattr(path);
        }
        : Reflect.get(target, key, receiver),
    });
    mounted = await mountWithLongKernelTimeouts(served, 'devmount-kcache-');
    mount = mounted.mount;
    mnt = mounted.mountpoint;
    expect(mount.kernelTimeouts).toEqual({ attr: KERNEL_TIMEOUT_S, entry: KERNEL_TIMEOUT_S });
  });

  afterAll(async () => {
    await mounted?.close();
    await vfs?.close();
    await sshd?.stop();
  });

  it('the kernel answers from its own copy: a change nobody reported stays unseen, and stat never reaches us', async () => {
    expect(await sizeOf('held.txt')).toBe(2);
    const askedBefore = asked.length;
    const tableBefore = mount.fastFiles()?.getattrs ?? 0;
    await writeFile(server('held.txt'), 'v2 is longer');
    for (let i = 0; i < 3; i++) expect(await sizeOf('held.txt')).toBe(2);
    // Neither JavaScript nor the fast-files table was asked: the kernel answered all three.
    expect(asked.length).toBe(askedBefore);
    expect(mount.fastFiles()?.getattrs ?? 0).toBe(tableBefore);
  });

  it('a refresh of a file (devmount refresh, the remote watcher) is seen by the next stat and read', async () => {
    expect(await readFile(local('refreshed.txt'), 'utf8')).toBe('v1');
    await writeFile(server('refreshed.txt'), 'v2 is longer');
    expect(await sizeOf('refreshed.txt')).toBe(2); // still the kernel's copy
    const sentBefore = sent();
    vfs.refresh('/refreshed.txt');
    expect(await eventuallyEqual(() => sizeOf('refreshed.txt'), 12)).toBe(12);
    expect(await readFile(local('refreshed.txt'), 'utf8')).toBe('v2 is longer');
    expect(sent()).toBeGreaterThan(sentBefore);
  });

  it('a refresh of the whole tree reaches a file deep inside it that the kernel holds', async () => {
    expect(await sizeOf('tree/deep/leaf.txt')).toBe(2);
    await writeFile(server('tree/deep/leaf.txt'), 'v2 is longer');
    expect(await sizeOf('tree/deep/leaf.txt')).toBe(2);
    vfs.refresh();
    expect(await eventuallyEqual(() => sizeOf('tree/deep/leaf.txt'), 12)).toBe(12);
    expect(await readFile(local('tree/deep/leaf.txt'), 'utf8')).toBe('v2 is longer');
  });

  it('a write through the VFS by another route than this kernel mount is seen through the mount', async () => {
    expect(await sizeOf('written.txt')).toBe(2);
    const fh = await vfs.open('/written.txt', constants.O_WRONLY | constants.O_TRUNC);
    await vfs.write(fh, Buffer.from('written elsewhere'), 0);
    await vfs.release(fh);
    expect(await eventuallyEqual(() => sizeOf('written.txt'), 17)).toBe(17);
    expect(await readFile(local('written.txt'), 'utf8')).toBe('written elsewhere');
  });

  it('a write of many blocks through the VFS by another route is seen through the mount, the kernel told once it landed, not per block', async () => {
    expect(await sizeOf('streamed.bin')).toBe(2);
    const queued = () => mount.kernelCache()?.queued ?? 0;
    const fh = await vfs.open('/streamed.bin', constants.O_WRONLY | constants.O_TRUNC);
    const afterOpen = queued();
    // 16 blocks of write-behind (1 MiB each), many in flight at once: each landing changes the file on the server.
    const block = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < 8; i++) await vfs.write(fh, block.fill(i + 1), i * block.length);
    // The kernel now holds the size of the first half (getattr reports buffered bytes too): only the change told
    // once the rest has landed can move it on.
    expect(await sizeOf('streamed.bin')).toBe(8 * block.length);
    for (let i = 8; i < 16; i++) await vfs.write(fh, block.fill(i + 1), i * block.length);
    await vfs.release(fh);
    expect(await eventuallyEqual(() => sizeOf('streamed.bin'), 16 * block.length)).toBe(16 * block.length);
    const head = await readFile(local('streamed.bin'));
    expect(head[0]).toBe(1);
    expect(head[head.length - 1]).toBe(16);
    // The file and its directory, once per moment nothing was in flight (fs/vfs/held-forgets.ts); per block it was 32.
    expect(queued() - afterOpen).toBeGreaterThan(0);
    expect(queued() - afterOpen).toBeLessThanOrEqual(8);
  });

  it('a name removed on the server: stat answers ENOENT, and creating it again through the mount works', async () => {
    await writeFile(server('recreated.txt'), 'v1');
    expect(await sizeOf('recreated.txt')).toBe(2); // the kernel now holds the name for 300 s
    await rm(server('recreated.txt'));
    // Before anyone told the caches: the open itself finds out, and the caller sees ENOENT, never ESTALE.
    await expect(readFile(local('recreated.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    vfs.refresh('/recreated.txt');
    expect(await eventuallyEqual(() => stat(local('recreated.txt')).then(() => 'found', (err: NodeJS.ErrnoException) => err.code), 'ENOENT')).toBe('ENOENT');
    await writeFile(local('recreated.txt'), 'created again');
    expect(await readFile(server('recreated.txt'), 'utf8')).toBe('created again');
  });

  it('a fresh reply that contradicts the cache (after the VFS entry expired) is seen through the mount', async () => {
    expect(await sizeOf('contradicted.txt')).toBe(2);
    await writeFile(server('contradicted.txt'), 'v2 is longer');
    clockOffsetMs += CACHE_TTL_MS + 1000; // the VFS's entries expire; the kernel's do not
    expect(await sizeOf('contradicted.txt')).toBe(2); // the kernel still answers alone
    expect((await vfs.getattr('/contradicted.txt')).size).toBe(12); // e.g. the dev server's stat
    expect(await eventuallyEqual(() => sizeOf('contradicted.txt'), 12)).toBe(12);
    expect(await readFile(local('contradicted.txt'), 'utf8')).toBe('v2 is longer');
  });
});

describe('devmount mount with 300 s kernel timeouts: the remote watcher and `devmount refresh`', () => {
  const LONG = `cache_timeout=300,attr_timeout=${KERNEL_TIMEOUT_S},entry_timeout=${KERNEL_TIMEOUT_S}`;
  let sshd: Sshd;
  let cli: CliEnv;
  let watched: string;
  let plain: string;

  beforeAll(async () => {
    sshd = await startSshd();
    await writeFile(join(sshd.root, 'watched.txt'), 'v1');
    await writeFile(join(sshd.root, 'refreshed.txt'), 'v1');
    cli = await createCliEnv();
    watched = await cli.newMountpoint('watched');
    plain = await cli.newMountpoint('plain');
    for (const [mp, extra] of [[watched, ',remote_watch=inotify'], [plain, '']] as const) {
      const r = await cli.run(['mount', ...cli.sshArgs(sshd), '-o', LONG + extra, `127.0.0.1:${sshd.root}`, mp]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
  });

  afterAll(async () => {
    for (const mp of [watched, plain]) if (cli && mp && (await isMounted(mp))) await cli.run(['unmount', mp]);
    await cli?.cleanup();
    await sshd?.stop();
  });

  it('a server-side edit the watcher reports is seen by stat and read long before the kernel timeout', async () => {
    expect(await readFile(join(watched, 'watched.txt'), 'utf8')).toBe('v1');
    await writeFile(join(sshd.root, 'watched.txt'), 'v2 is longer');
    await eventually(async () => (await stat(join(watched, 'watched.txt'))).size === 12);
    expect(await readFile(join(watched, 'watched.txt'), 'utf8')).toBe('v2 is longer');
  });

  it('after `devmount refresh FILE`, stat and read see the server-side edit', async () => {
    expect(await readFile(join(plain, 'refreshed.txt'), 'utf8')).toBe('v1');
    await writeFile(join(sshd.root, 'refreshed.txt'), 'v2 is longer');
    expect((await stat(join(plain, 'refreshed.txt'))).size).toBe(2); // nobody told the caches yet
    const r = await cli.run(['refresh', join(plain, 'refreshed.txt')]);
    expect(r.code).toBe(0);
    await eventually(async () => (await stat(join(plain, 'refreshed.txt'))).size === 12, 2000);
    expect(await readFile(join(plain, 'refreshed.txt'), 'utf8')).toBe('v2 is longer');
  });
});
