/**
 * The FUSE adapter alone: a real kernel mount served IN THIS PROCESS over a local-directory Vfs
 * (test/fuse-local-vfs.ts). Only asynchronous fs calls and child processes touch the mount here: a
 * synchronous call would block the event loop that answers it.
 */
import { execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { chown, lstat, mkdir, mkdtemp, open, readFile, readdir, rm, stat, writeFile, chmod, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createFuseOperations, kernelTimeouts, mountVfs, READ_ONLY_HANDLE, toNativeStatfs, type FuseAdapterOptions, type FuseMount } from '../fs/fuse/adapter.js';
import { toFuseErrno } from '../fs/fuse/errno.js';
import { forLibfuse3, libfuse3Options, libfuseOptionString } from '../fs/fuse/libfuse-options.js';
import { parseMounts } from '../fs/fuse/mount-table.js';
import { loadFuseNative } from '../fs/fuse/native.js';
import { FsError } from '../fs/errors.js';
import { createLocalVfs } from './fuse-local-vfs.js';

const execFileAsync = promisify(execFile);
const REMOTE_UID = 1234;
const REMOTE_GID = 2345;

let base: string;
let src: string;
let mnt: string;
let vfs: ReturnType<typeof createLocalVfs>;
let mount: FuseMount | undefined;

function adapterOptions(overrides: Partial<FuseAdapterOptions> = {}): FuseAdapterOptions {
  return {
    mountpoint: mnt,
    fsname: 'tester@example.test:/srv/site',
    readOnly: false,
    allowOther: false,
    attrTimeout: 0,
    entryTimeout: 0,
    opTimeoutMs: 30_000,
    ownership: { idmap: 'user', remoteUid: REMOTE_UID, remoteGid: REMOTE_GID, localUid: 0, localGid: 0, umask: undefined },
    ...overrides,
  };
}

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'devmount-fuse-'));
  src = join(base, 'src');
  mnt = join(base, 'mnt');
  await mkdir(src);
  await mkdir(mnt);
  await writeFile(join(src, 'mine.txt'), 'owned by the remote user');
  await chown(join(src, 'mine.txt'), REMOTE_UID, REMOTE_GID);
  await writeFile(join(src, 'theirs.txt'), 'owned by someone else');
  await chown(join(src, 'theirs.txt'), 5, 6);
  vfs = createLocalVfs(src);
  mount = await mountVfs(vfs, adapterOptions());
});

afterAll(async () => {
  await mount?.unmount();
  await vfs?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

describe('through a real mount', () => {
  test('the mount is served by the libfuse 3 binding and shows our fsname and type', async () => {
    expect(loadFuseNative().libfuse).toBe(3);
    const entry = parseMounts(await readFile('/proc/self/mounts', 'utf8')).find((m) => m.mountpoint === mnt);
    expect(entry?.source).toBe('tester@example.test:/srv/site');
    expect(entry?.fstype).toBe('fuse.devmount');
  });

  test('libfuse options: one list; libfuse 2 spellings libfuse 3 refuses are dropped; fuse-native\'s string rides in fsname', () => {
    expect(libfuse3Options({ fsname: 'a,b c', readOnly: true, allowOther: true, extraOptions: ['big_writes', 'max_write=65536', 'default_permissions', 'max_read=131072'] }))
      .toEqual(['fsname=a_b_c', 'subtype=devmount', 'ro', 'allow_other', 'default_permissions', 'max_read=131072']);
    expect(forLibfuse3(['nonempty', 'large_read', 'atomic_o_trunc', 'kernel_cache'])).toEqual(['kernel_cache']);
    expect(libfuseOptionString({ ...adapterOptions({ readOnly: true }), attrTimeout: 0, entryTimeout: 0 }))
      .toBe('tester@example.test:/srv/site,big_writes,attr_timeout=0,entry_timeout=0,negative_timeout=0,ro');
  });

  test('idmap=user: the remote user\'s files show as ours, others keep their ids; chown maps back', async () => {
    const mine = await stat(join(mnt, 'mine.txt'));
    expect([mine.uid, mine.gid]).toEqual([0, 0]);
    const theirs = await stat(join(mnt, 'theirs.txt'));
    expect([theirs.uid, theirs.gid]).toEqual([5, 6]);
    await chown(join(mnt, 'theirs.txt'), 0, 0);
    const onServer = await stat(join(src, 'theirs.txt'));
    expect([onServer.uid, onServer.gid]).toEqual([REMOTE_UID, REMOTE_GID]);
  });

  test('readdir lists the entries (plus . and ..) and missing names are ENOENT', async () => {
    expect((await readdir(mnt)).sort()).toEqual(['mine.txt', 'theirs.txt']);
    const { stdout } = await execFileAsync('ls', ['-a', mnt]);
    expect(stdout.split('\n')).toEqual(expect.arrayContaining(['.', '..']));
    await expect(stat(join(mnt, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('large writes: dd bs=1M reaches the VFS in 1 MiB pieces, intact', async () => {
    const before = vfs.calls.get('write') ?? 0;
    await execFileAsync('dd', ['if=/dev/urandom', `of=${join(mnt, 'big.bin')}`, 'bs=1M', 'count=4', 'status=none']);
    const writes = (vfs.calls.get('write') ?? 0) - before;
    expect(writes).toBeLessThanOrEqual(4); // 128 KiB pieces (libfuse 2's big_writes) would be 32 calls, 4 KiB ones 1024
    const [a, b] = await Promise.all([readFile(join(mnt, 'big.bin')), readFile(join(src, 'big.bin'))]);
    expect(a.equals(b)).toBe(true);
    expect(a.length).toBe(4 * 1024 * 1024);
  });

  test('utimens with different access and modification times (fuse-native 2.2.6 passed the access time twice)', async () => {
    expect(loadFuseNative().utimensPassesMtime).toBe(true);
    const atime = new Date('2020-01-02T03:04:05Z');
    const mtime = new Date('2019-06-07T08:09:10Z');
    await utimes(join(mnt, 'theirs.txt'), atime, mtime);
    const onServer = await stat(join(src, 'theirs.txt'));
    expect(onServer.mtimeMs).toBe(mtime.getTime());
    expect(onServer.atimeMs).toBe(atime.getTime());
  });

  test('reads: the binding copies the answer in C; any offset and length, short at end of file, empty past it', async () => {
    const native = loadFuseNative();
    expect(native.readTakesData).toBe(true);
    const data = Buffer.from(Array.from({ length: 300_001 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
    await writeFile(join(src, 'odd.bin'), data);
    const fh = await open(join(mnt, 'odd.bin'), 'r');
    try {
      for (const [pos, len] of [[0, 4096], [1, 131_072], [299_990, 4096], [123_457, 70_000], [300_001, 10], [400_000, 10]] as const) {
        const buf = Buffer.alloc(len, 0xee);
        const { bytesRead } = await fh.read(buf, 0, len, pos);
        const want = data.subarray(pos, pos + len);
        expect(bytesRead).toBe(want.length);
        expect(buf.subarray(0, bytesRead).equals(want)).toBe(true);
      }
    } finally {
      await fh.close();
    }
    expect((await readFile(join(mnt, 'odd.bin'))).equals(data)).toBe(true);
  });

  test('close of a read-only file is answered in C (no FLUSH reaches the VFS); a written one is flushed', async () => {
    expect(loadFuseNative().flushSkipsReadOnly).toBe(true);
    await writeFile(join(src, 'flushme.txt'), 'hello');
    const before = vfs.calls.get('flush') ?? 0;
    expect(await readFile(join(mnt, 'flushme.txt'), 'utf8')).toBe('hello');
    expect(vfs.calls.get('flush') ?? 0).toBe(before);
    await writeFile(join(mnt, 'flushme.txt'), 'changed');
    expect(vfs.calls.get('flush') ?? 0).toBeGreaterThan(before);
    expect(await readFile(join(src, 'flushme.txt'), 'utf8')).toBe('changed');
  });

  test('chmod, mkdir and statfs reach the VFS', async () => {
    await chmod(join(mnt, 'mine.txt'), 0o600);
    expect((await stat(join(src, 'mine.txt'))).mode & 0o777).toBe(0o600);
    await mkdir(join(mnt, 'sub'), 0o750);
    expect((await lstat(join(src, 'sub'))).isDirectory()).toBe(true);
    const { stdout } = await execFileAsync('stat', ['-f', '-c', '%b %S', mnt]);
    const [blocks, size] = stdout.trim().split(' ').map(Number);
    expect((blocks ?? 0) * (size ?? 0)).toBeGreaterThan(0);
  });
});

describe('operation table without a kernel', () => {
  const call = <T extends unknown[]>(fn: ((...args: [...T, (code: number, value?: unknown) => void]) => void) | undefined, ...args: T) =>
    new Promise<{ code: number; value?: unknown }>((resolve) => fn?.(...args, (code: number, value?: unknown) => resolve({ code, value })));

  test('uid=, gid= and umask= override what the server reports', async () => {
    const ops = createFuseOperations(vfs, adapterOptions({ ownership: { idmap: 'none', localUid: 0, localGid: 0, uid: 42, gid: 43, umask: 0o027 } }));
    const r = await call(ops.getattr, '/theirs.txt');
    expect(r.code).toBe(0);
    const st = r.value as { uid: number; gid: number; mode: number };
    expect([st.uid, st.gid, st.mode & 0o777, st.mode & 0o170000]).toEqual([42, 43, 0o750, 0o100000]);
  });

  test('create is exclusive: an existing name answers EEXIST and drops the stale cache entry', async () => {
    const ops = createFuseOperations(vfs, adapterOptions());
    const refreshes = vfs.calls.get('refresh') ?? 0;
    const r = await call(ops.create, '/mine.txt', 0o644);
    expect(r.code).toBe(-17); // EEXIST
    expect(vfs.calls.get('refresh')).toBe(refreshes + 1);
  });

  test('handles travel as VFS handle + 1 (fuse-native ignores a handle of 0), read-only ones marked with bit 31', async () => {
    const ops = createFuseOperations(vfs, adapterOptions());
    const opened = await call(ops.open, '/mine.txt', 0);
    expect(opened.code).toBe(0);
    expect(opened.value).toBeGreaterThan(READ_ONLY_HANDLE);
    const writable = await call(ops.open, '/mine.txt', fsConstants.O_RDWR);
    expect(writable.value).toBeGreaterThan(0);
    expect(writable.value).toBeLessThan(READ_ONLY_HANDLE);
    expect((await call(ops.flush, '/mine.txt', opened.value as number)).code).toBe(0); // stock fuse-native still calls it
    expect((await call(ops.release, '/mine.txt', writable.value as number)).code).toBe(0);
    const buf = Buffer.alloc(5);
    const n = await new Promise<number>((resolve) => ops.read?.('/mine.txt', opened.value as number, buf, 5, 0, resolve));
    expect(n).toBe(5);
    expect(buf.toString()).toBe('owned');
    expect((await call(ops.release, '/mine.txt', opened.value as number)).code).toBe(0);
    expect((await call(ops.release, '/mine.txt', opened.value as number)).code).toBe(-9); // EBADF: already released
  });

  test('utimens: UTIME_NOW/UTIME_OMIT (1073 ms after fuse-native\'s conversion) mean now', async () => {
    const ops = createFuseOperations(vfs, adapterOptions());
    const before = Date.now();
    expect((await call(ops.utimens, '/mine.txt', 1073, 1073)).code).toBe(0);
    expect((await stat(join(src, 'mine.txt'))).mtimeMs).toBeGreaterThanOrEqual(before - 1000);
  });

  test('kernel timeouts: as given, else the caches\' own when the kernel copy is invalidated, else libfuse\'s 1 s', () => {
    const follow = { attr: 20, entry: 30 };
    expect(kernelTimeouts({ attrTimeout: 0, entryTimeout: 5, cacheTimeouts: follow }, true)).toEqual({ attr: 0, entry: 5 });
    expect(kernelTimeouts({ attrTimeout: undefined, entryTimeout: undefined, cacheTimeouts: follow }, true)).toEqual({ attr: 20, entry: 30 });
    expect(kernelTimeouts({ attrTimeout: undefined, entryTimeout: undefined, cacheTimeouts: follow }, false)).toEqual({ attr: 1, entry: 1 });
    expect(kernelTimeouts({ attrTimeout: undefined, entryTimeout: undefined, cacheTimeouts: undefined }, true)).toEqual({ attr: 1, entry: 1 });
  });

  test('errors become negative errno in one place', () => {
    expect(toFuseErrno(new FsError('ENOENT'))).toBe(-2);
    expect(toFuseErrno(new FsError('ENOTEMPTY'))).toBe(-39);
    expect(toFuseErrno(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe(-13);
    const seen: unknown[] = [];
    expect(toFuseErrno(new Error('surprise'), (e) => seen.push(e))).toBe(-5);
    expect(seen).toHaveLength(1);
  });

  test('statfs counts beyond 32 bits are scaled into a larger block size', () => {
    const s = toNativeStatfs({ bsize: 512, frsize: 512, blocks: 2 ** 40, bfree: 2 ** 39, bavail: 2 ** 39, files: 2 ** 33, ffree: 10, favail: 10, namemax: 255 });
    expect(s.blocks).toBeLessThanOrEqual(0xffff_ffff);
    expect(s.blocks * s.frsize).toBe(2 ** 40 * 512);
    expect(s.files).toBe(0xffff_ffff);
  });
});

test('fs/fuse and the control socket never call synchronous fs functions', async () => {
  const dirs = ['fs/fuse', 'cli/control'];
  const offenders: string[] = [];
  for (const dir of dirs) {
    const root = new URL(`../${dir}/`, import.meta.url);
    for (const name of await readdir(root)) {
      if (!name.endsWith('.ts')) continue;
      const text = await readFile(new URL(name, root), 'utf8');
      if (/\b(?:[a-z]+Sync|execSync|spawnSync)\s*\(/.test(text)) offenders.push(`${dir}/${name}`);
    }
  }
  for (const file of ['cli/mount-service.ts', 'cli/mount-stack.ts', 'cli/mount-preflight.ts', 'cli/daemon.ts']) {
    const text = await readFile(new URL(`../${file}`, import.meta.url), 'utf8');
    if (/\b(?:[a-z]+Sync|execSync|spawnSync)\s*\(/.test(text)) offenders.push(file);
  }
  expect(offenders).toEqual([]);
});

describe('the binding\'s own timeout', () => {
  test('a read the VFS never answers fails with ETIMEDOUT after fuseTimeoutMs, and the mount goes on serving', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'devmount-fuse-timeout-'));
    const from = join(dir, 'src');
    const at = join(dir, 'mnt');
    await mkdir(from);
    await mkdir(at);
    await writeFile(join(from, 'stuck.txt'), 'never arrives');
    await writeFile(join(from, 'fine.txt'), 'arrives');
    const local = createLocalVfs(from);
    let stuckHandle = -1;
    const hanging: typeof local = {
      ...local,
      open: async (path, flags) => {
        const fh = await local.open(path, flags);
        if (path === '/stuck.txt') stuckHandle = fh;
        return fh;
      },
      readTransient: (fh, position, length) =>
        fh === stuckHandle ? new Promise<Buffer>(() => undefined) : local.readTransient(fh, position, length),
    };
    const timed = await mountVfs(hanging, adapterOptions({ mountpoint: at, fuseTimeoutMs: 300 }));
    try {
      const failure = await readFile(join(at, 'stuck.txt')).then(() => null, (err: NodeJS.ErrnoException) => err.code);
      expect(failure).toBe('ETIMEDOUT');
      expect(await readFile(join(at, 'fine.txt'), 'utf8')).toBe('arrives');
    } finally {
      await timed.unmount();
      await local.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
