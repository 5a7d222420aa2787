/**
 * The fast-files table (native/fuse3/src/fast-files.h, fs/fuse/fast-files.ts) on a real mount of the whole
 * stack over a real sshd, served IN THIS PROCESS (only asynchronous fs calls touch the mount): getattr and
 * small-file reads are answered on libfuse's threads once cached, and no answer outlives a change: writes
 * through the mount (also while a table handle is open), renames and removals, server-side changes after a
 * refresh or after the cache's TTL. The kernel's own attribute and entry caches are off (0 s), so every
 * stat reaches the file system and the table's counters show who answered.
 */
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CacheOptions } from '../fs/cache/options.js';
import { mountVfs, type FuseMount } from '../fs/fuse/adapter.js';
import { loadFuseNative } from '../fs/fuse/native.js';
import { createSftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { createVfs } from '../fs/vfs/vfs.js';
import type { Vfs } from '../fs/vfs/types.js';
import { harnessConnector } from './harness/connect.js';
import { kernelCachesOffOptions } from './helpers/fuse-probe-mount.js';
import { startSshd, type Sshd } from './harness/sshd.js';

const CACHE_TTL_MS = 1500;

interface MountedStack {
  readonly vfs: Vfs;
  readonly mount: FuseMount;
  readonly mnt: string;
  close(): Promise<void>;
}

/**
 * SFTP → cache (`cache` options) → VFS → a FUSE mount served in this process, kernel caches off.
 * `askedGetattr`: each path whose getattr reached JavaScript (the table did not answer it) is pushed here.
 */
async function mountStack(sshd: Sshd, cache: Partial<CacheOptions>, askedGetattr?: string[]): Promise<MountedStack> {
  const sftp = await createSftpRemoteFs(harnessConnector(sshd), sshd.root);
  const vfs = createVfs(sftp, { cache });
  const served = askedGetattr ? new Proxy(vfs, {
    get: (target, key, receiver) => key === 'getattr'
      ? (path: string) => {
        askedGetattr.push(path);
        return target.getattr(path);
      }
      : Reflect.get(target, key, receiver),
  }) : vfs;
  const mnt = await mkdtemp(join(tmpdir(), 'devmount-fastfiles-'));
  const mount = await mountVfs(served, kernelCachesOffOptions(mnt));
  return {
    vfs,
    mount,
    mnt,
    async close() {
      await mount.unmount();
      await vfs.close();
      await rm(mnt, { recursive: true, force: true });
    },
  };
}

describe('fast-files table on a mount over sshd', () => {
  let sshd: Sshd;
  let stack: MountedStack;
  let vfs: Vfs;
  let mount: FuseMount;
  let mnt: string;
  const server = (name: string) => join(sshd.root, name);
  const local = (name: string) => join(mnt, name);
  const counters = () => {
    const c = mount.fastFiles();
    if (!c) throw new Error('the libfuse 3 binding is not loaded: no fast-files table');
    return c;
  };

  beforeAll(async () => {
    // npm install builds the libfuse 3 binding (scripts/build-native.mjs); CI has a compiler and libfuse3-dev.
    expect(loadFuseNative().fastFiles).toBeDefined();
    sshd = await startSshd();
    await writeFile(server('small.txt'), 'first version\n');
    await mkdir(server('dir'));
    await writeFile(server('dir/inner.txt'), 'inside\n');
    stack = await mountStack(sshd, { attrTimeoutMs: CACHE_TTL_MS, dirTimeoutMs: CACHE_TTL_MS, negativeTimeoutMs: CACHE_TTL_MS });
    ({ vfs, mount, mnt } = stack);
  });

  afterAll(async () => {
    await stack?.close();
    await sshd?.stop();
  });

  it('answers getattr, then open/read/release of a cached small file, without JavaScript', async () => {
    const before = counters();
    expect((await stat(local('small.txt'))).size).toBe(14);
    expect((await stat(local('small.txt'))).size).toBe(14);
    expect(await readFile(local('small.txt'), 'utf8')).toBe('first version\n'); // cached by this read
    expect(await readFile(local('small.txt'), 'utf8')).toBe('first version\n');
    expect(await readFile(local('small.txt'), 'utf8')).toBe('first version\n');
    const after = counters();
    expect(after.getattrs - before.getattrs).toBeGreaterThanOrEqual(2);
    expect(after.opens - before.opens).toBeGreaterThanOrEqual(2);
    expect(after.reads - before.reads).toBeGreaterThanOrEqual(2);
    expect(after.contentBytes).toBeGreaterThanOrEqual(14);
  });

  it('answers access(2) without W_OK from the table (the lookup of the name and the ACCESS itself)', async () => {
    expect((await stat(local('small.txt'))).size).toBe(14); // in the table
    const before = counters().getattrs;
    for (let i = 0; i < 3; i++) await access(local('small.txt'), constants.R_OK);
    expect(counters().getattrs - before).toBe(6);
    await access(local('small.txt'), constants.W_OK); // asked of JavaScript (EROFS on a read-only mount)
    await expect(access(local('missing.txt'), constants.R_OK)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a write through the mount is seen at once, also through a table handle opened before it', async () => {
    await writeFile(server('shared.txt'), 'old bytes');
    expect(await readFile(local('shared.txt'), 'utf8')).toBe('old bytes'); // content now in the table
    const opensBefore = counters().opens;
    const reader = await open(local('shared.txt'), constants.O_RDONLY);
    try {
      expect(counters().opens).toBe(opensBefore + 1); // a table handle
      const first = Buffer.alloc(64);
      const { bytesRead } = await reader.read(first, 0, 64, 0);
      expect(first.subarray(0, bytesRead).toString()).toBe('old bytes');
      const escalationsBefore = counters().escalations;
      await writeFile(local('shared.txt'), 'new and longer bytes');
      expect((await stat(local('shared.txt'))).size).toBe(20);
      const again = Buffer.alloc(64);
      const second = await reader.read(again, 0, 64, 0);
      expect(again.subarray(0, second.bytesRead).toString()).toBe('new and longer bytes');
      expect(counters().escalations).toBe(escalationsBefore + 1);
    } finally {
      await reader.close();
    }
    expect(await readFile(local('shared.txt'), 'utf8')).toBe('new and longer bytes');
    expect(await readFile(server('shared.txt'), 'utf8')).toBe('new and longer bytes');
  });

  it('a file open for writing reports its buffered size, never a cached one', async () => {
    await writeFile(server('growing.txt'), 'x');
    expect((await stat(local('growing.txt'))).size).toBe(1);
    const writer = await open(local('growing.txt'), constants.O_WRONLY | constants.O_APPEND);
    try {
      await writer.write(Buffer.alloc(100, 0x61));
      expect((await stat(local('growing.txt'))).size).toBe(101);
      await writer.write(Buffer.alloc(50, 0x62));
      expect((await stat(local('growing.txt'))).size).toBe(151);
    } finally {
      await writer.close();
    }
    expect((await stat(local('growing.txt'))).size).toBe(151);
  });

  it('renames and removals through the mount drop the old names at once, directories with their contents', async () => {
    await writeFile(server('from.txt'), 'moving');
    expect(await readFile(local('from.txt'), 'utf8')).toBe('moving');
    expect((await stat(local('from.txt'))).size).toBe(6);
    await rename(local('from.txt'), local('to.txt'));
    await expect(stat(local('from.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(local('to.txt'), 'utf8')).toBe('moving');
    await unlink(local('to.txt'));
    await expect(stat(local('to.txt'))).rejects.toMatchObject({ code: 'ENOENT' });

    expect(await readFile(local('dir/inner.txt'), 'utf8')).toBe('inside\n');
    await rename(local('dir'), local('moved'));
    await expect(stat(local('dir/inner.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readFile(local('moved/inner.txt'), 'utf8')).toBe('inside\n');
  });

  it('a change made on the server shows after a refresh, and after the cache TTL without one', async () => {
    await writeFile(server('remote.txt'), 'v1');
    expect(await readFile(local('remote.txt'), 'utf8')).toBe('v1');
    expect(await readFile(local('remote.txt'), 'utf8')).toBe('v1');
    await writeFile(server('remote.txt'), 'version 2');
    vfs.refresh('/remote.txt');
    expect((await stat(local('remote.txt'))).size).toBe(9);
    expect(await readFile(local('remote.txt'), 'utf8')).toBe('version 2');
    expect(await readFile(local('remote.txt'), 'utf8')).toBe('version 2'); // cached again

    await writeFile(server('remote.txt'), 'the third version');
    expect((await stat(local('remote.txt'))).size).toBe(9); // within the TTL: the cached answer, as before
    await new Promise((resolve) => setTimeout(resolve, CACHE_TTL_MS + 300));
    expect((await stat(local('remote.txt'))).size).toBe(17);
    expect(await readFile(local('remote.txt'), 'utf8')).toBe('the third version');
  });
});

/** The table's bucket of a path (fast-files.h: FNV-1a over its bytes, FF_BUCKETS = 65536). */
function tableBucket(path: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(path)) hash = Math.imul(hash ^ byte, 16777619) >>> 0;
  return hash & 0xffff;
}

/** Two names in `dir` whose paths share a bucket of the table (the first pair among f0, f1, …). */
function namesSharingABucket(dir: string): [string, string] {
  const byBucket = new Map<number, string>();
  for (let i = 0; i < 100_000; i++) {
    const name = `f${i}`;
    const bucket = tableBucket(`${dir}/${name}`);
    const other = byBucket.get(bucket);
    if (other !== undefined) return [other, name];
    byBucket.set(bucket, name);
  }
  throw new Error(`no two names in ${dir} share a bucket`);
}

describe('fast-files table: paths that share a bucket', () => {
  let sshd: Sshd;
  let stack: MountedStack;
  const askedGetattr: string[] = [];
  const [first, second] = namesSharingABucket('/shared');

  beforeAll(async () => {
    sshd = await startSshd();
    await mkdir(join(sshd.root, 'shared'));
    await writeFile(join(sshd.root, 'shared', first), 'first');
    await writeFile(join(sshd.root, 'shared', second), 'second');
    // Long enough that nothing expires during the test: every miss below would be the table losing an entry.
    stack = await mountStack(sshd, { attrTimeoutMs: 60_000, dirTimeoutMs: 60_000, negativeTimeoutMs: 60_000 }, askedGetattr);
  });

  afterAll(async () => {
    await stack?.close();
    await sshd?.stop();
  });

  it('storing one path again keeps the other (whichever of the two comes first in the bucket)', async () => {
    const shared = join(stack.mnt, 'shared');
    expect((await readdir(shared)).sort()).toEqual([first, second].sort()); // the listing puts both
    expect(await readFile(join(shared, first), 'utf8')).toBe('first'); // stored again, with its content
    askedGetattr.length = 0;
    expect((await stat(join(shared, second))).size).toBe(6);
    expect(askedGetattr).not.toContain(`/shared/${second}`);
    expect(await readFile(join(shared, second), 'utf8')).toBe('second');
    askedGetattr.length = 0;
    expect((await stat(join(shared, first))).size).toBe(5);
    expect(askedGetattr).not.toContain(`/shared/${first}`);
  });
});

describe('fast-files table with auto_cache', () => {
  let sshd: Sshd;
  let stack: MountedStack;

  beforeAll(async () => {
    sshd = await startSshd();
    await writeFile(join(sshd.root, 'page.html'), '<p>one</p>');
    stack = await mountStack(sshd, { autoCache: true });
  });

  afterAll(async () => {
    await stack?.close();
    await sshd?.stop();
  });

  it('every open still asks the server, and getattr then reports the new size (reads are not cut to the old one)', async () => {
    const page = join(stack.mnt, 'page.html');
    expect(await readFile(page, 'utf8')).toBe('<p>one</p>');
    expect(await readFile(page, 'utf8')).toBe('<p>one</p>');
    await writeFile(join(sshd.root, 'page.html'), '<p>two, longer</p>');
    expect(await readFile(page, 'utf8')).toBe('<p>two, longer</p>');
    expect(stack.mount.fastFiles()?.opens).toBe(0);
  });
});
