/**
 * The metadata prefetch (fs/prefetch) over the real stack — createSftpRemoteFs → createCachedRemoteFs →
 * withPrefetch — against the harness sshd: one `find -printf` (or, on a server without a shell, a READDIR
 * walk) fills the cache so lookups cost no round trip; awkward names, symlinks, a 50k-entry directory,
 * server-side changes within the TTL rules, and a mutation racing the listing.
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createCachedRemoteFs } from '../fs/cache/cached-remote-fs.js';
import type { CacheLayer } from '../fs/cache/layer.js';
import type { PrefetchOptions } from '../fs/prefetch/index.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { createVfsOver } from '../fs/vfs/vfs.js';
import type { Vfs } from '../fs/vfs/types.js';
import { promisify } from 'node:util';
import { harnessConnector } from './harness/connect.js';
import { prefetchingLayer, type PrefetchingLayer } from './helpers/prefetch-layer.js';
import { startSshd, type Sshd } from './harness/sshd.js';

const execFileAsync = promisify(execFile);

/** Counts every call that reaches the SFTP RemoteFs: each is at least one round trip. */
function counting(inner: SftpRemoteFs): { fs: SftpRemoteFs; calls: () => number; byName: Map<string, number> } {
  const byName = new Map<string, number>();
  const fs = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function' || typeof prop !== 'string') return value;
      return (...args: unknown[]) => {
        byName.set(prop, (byName.get(prop) ?? 0) + 1);
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { fs, byName, calls: () => [...byName.values()].reduce((a, b) => a + b, 0) };
}

const AWKWARD = ['with space.txt', 'new\nline.txt', 'fünke ✓.txt', '-leading-dash', '--', "quote'd \"both\".txt", 'tab\there'];

interface Stack {
  readonly sftp: SftpRemoteFs;
  readonly counter: ReturnType<typeof counting>;
  /** The prefetch layer over the cache; `fs` is its file system, `prefetcher` its Prefetcher. */
  readonly layer: PrefetchingLayer;
  readonly fs: PrefetchingLayer['fs'];
  readonly prefetcher: PrefetchingLayer['prefetcher'];
  /** Advances the cache's and the prefetcher's clock (to step over TTLs without sleeping). */
  advance(ms: number): void;
  close(): Promise<void>;
}

async function openStack(sshd: Sshd, root: string, useShell: boolean, prefetch: Partial<PrefetchOptions> = {}): Promise<Stack> {
  const sftp = await createSftpRemoteFs(harnessConnector(sshd), root);
  const counter = counting(sftp);
  let offset = 0;
  const now = () => performance.now() + offset;
  const cache: CacheLayer = createCachedRemoteFs(counter.fs, { now, dirTimeoutMs: 20_000, attrTimeoutMs: 20_000, negativeTimeoutMs: 20_000 });
  const layer = prefetchingLayer(cache, {
    ...(useShell ? { shell: { shell: counter.fs, serverRoot: sftp.remoteRoot } } : {}),
    options: { now, ...prefetch },
  });
  const { fs, prefetcher } = layer;
  return { sftp, counter, layer, fs, prefetcher, advance: (ms) => { offset += ms; }, close: () => fs.close() };
}

/** open + read (up to `max` bytes) + release through the VFS, as an application reading a file does. */
async function readWhole(vfs: Vfs, path: string, max = 1 << 20): Promise<Buffer> {
  const fh = await vfs.open(path, constants.O_RDONLY);
  try {
    return await vfs.read(fh, 0, max);
  } finally {
    await vfs.release(fh);
  }
}

function typeOf(mode: number): number {
  return mode & constants.S_IFMT;
}

for (const variant of [{ name: 'shell (find -printf)', sftpOnly: false }, { name: 'SFTP only (READDIR walk)', sftpOnly: true }]) {
  describe(`prefetch with ${variant.name}`, () => {
    let sshd: Sshd;
    let root: string;

    beforeAll(async () => {
      sshd = await startSshd({ sftpOnly: variant.sftpOnly });
      root = join(sshd.root, 'site');
      await mkdir(join(root, 'a', 'b', 'c'), { recursive: true });
      await mkdir(join(root, 'empty'));
      for (const name of AWKWARD) await writeFile(join(root, 'a', name), `content of ${name}\n`);
      for (let i = 0; i < 30; i++) await writeFile(join(root, 'a', 'b', `f${i}.php`), 'x'.repeat(i));
      await writeFile(join(root, 'a', 'b', 'c', 'deep.txt'), 'deep');
      await symlink('a/b/c/deep.txt', join(root, 'link-to-deep'));
      await symlink('does/not/exist', join(root, 'a', 'dangling link'));
      await symlink('b', join(root, 'a', 'dir-link'));
    });

    afterAll(async () => {
      await sshd?.stop();
    });

    test('one name found starts nothing; a second in its directory lists the whole tree once; every later lookup and listing is answered from the cache', async () => {
      const stack = await openStack(sshd, root, true);
      try {
        await stack.fs.lstat('/a');
        await stack.prefetcher.idle();
        await expect(stack.fs.lstat('/to-be-created')).rejects.toMatchObject({ code: 'ENOENT' });
        await stack.prefetcher.idle();
        // A lone name (a `cat` of one file), and one about to be created (a `dd` into a new file), are not a walk.
        expect(stack.prefetcher.stats().jobs).toBe(0);
        await stack.fs.lstat('/empty');
        await stack.prefetcher.idle();
        const after = stack.counter.calls();
        const p = stack.prefetcher.stats();
        expect(p.jobs).toBe(1);
        if (variant.sftpOnly) {
          expect(p.walkJobs).toBe(1);
          expect(p.findJobs).toBe(0);
        } else {
          expect(p.findJobs).toBe(1);
          expect(stack.counter.byName.get('execStream')).toBe(1);
          expect(stack.counter.byName.get('readdir') ?? 0).toBe(0);
        }
        const names = ['/a', '/a/b', '/a/b/c', '/a/b/c/deep.txt', '/empty', '/link-to-deep', '/a/dangling link', '/a/dir-link', ...AWKWARD.map((n) => `/a/${n}`)];
        for (const name of names) {
          const ours = await stack.fs.lstat(name);
          const server = await lstat(join(root, name));
          expect(typeOf(ours.mode), name).toBe(typeOf(server.mode));
          expect(ours.mode & 0o7777, name).toBe(server.mode & 0o7777);
          if (typeOf(server.mode) !== constants.S_IFDIR) expect(ours.size, name).toBe(server.size);
          expect(ours.mtimeMs, name).toBe(Math.floor(server.mtimeMs / 1000) * 1000);
          expect(ours.uid, name).toBe(server.uid);
        }
        expect(new Set((await stack.fs.readdir('/a')).map((e) => e.name))).toEqual(new Set([...AWKWARD, 'b', 'dangling link', 'dir-link']));
        expect((await stack.fs.readdir('/a/b')).length).toBe(31);
        expect(await stack.fs.readdir('/empty')).toEqual([]);
        await expect(stack.fs.lstat('/a/missing')).rejects.toMatchObject({ code: 'ENOENT' });
        expect(stack.counter.calls()).toBe(after);
        // Symlinks are listed as links (lstat), and their targets still resolve through the server.
        expect(await stack.fs.readlink('/link-to-deep')).toBe('a/b/c/deep.txt');
        expect((await stack.fs.stat('/link-to-deep')).size).toBe(4);
      } finally {
        await stack.close();
      }
    });

    test('a server-side create or delete shows once the listing TTL has passed, not before', async () => {
      const stack = await openStack(sshd, root, true);
      try {
        expect((await stack.fs.readdir('/a/b')).map((e) => e.name)).not.toContain('server-new.txt');
        await writeFile(join(root, 'a', 'b', 'server-new.txt'), 'n');
        await unlink(join(root, 'a', 'b', 'f0.php'));
        try {
          const within = (await stack.fs.readdir('/a/b')).map((e) => e.name);
          expect(within).not.toContain('server-new.txt');
          expect(within).toContain('f0.php');
          stack.advance(21_000);
          const after = (await stack.fs.readdir('/a/b')).map((e) => e.name);
          expect(after).toContain('server-new.txt');
          expect(after).not.toContain('f0.php');
          expect((await stack.fs.lstat('/a/b/server-new.txt')).size).toBe(1);
          await expect(stack.fs.lstat('/a/b/f0.php')).rejects.toMatchObject({ code: 'ENOENT' });
        } finally {
          await rm(join(root, 'a', 'b', 'server-new.txt'));
          await writeFile(join(root, 'a', 'b', 'f0.php'), '');
        }
      } finally {
        await stack.close();
      }
    });

    test('a mutation through the mount while the listing runs wins over the listing', async () => {
      const stack = await openStack(sshd, root, true);
      try {
        await writeFile(join(root, 'a', 'b', 'c', 'racy.txt'), 'old');
        await stack.fs.lstat('/a/b/c/deep.txt'); // one name found in /a/b/c starts nothing
        await stack.fs.lstat('/a/b/c/deep.txt'); // a second starts the prefetch of /a/b/c
        expect(stack.prefetcher.stats().jobs).toBe(1);
        await stack.fs.unlink('/a/b/c/racy.txt'); // sent while it runs; bumps the generation of /a/b/c
        await stack.prefetcher.idle();
        expect((await stack.fs.readdir('/a/b/c')).map((e) => e.name)).toEqual(['deep.txt']);
        await expect(stack.fs.lstat('/a/b/c/racy.txt')).rejects.toMatchObject({ code: 'ENOENT' });
      } finally {
        await stack.close();
      }
    });

    test('open+read+close of a small cached file costs no round trip while its attributes are fresh', async () => {
      const stack = await openStack(sshd, root, true);
      const vfs = createVfsOver(stack.layer, stack.counter.fs);
      try {
        const readAll = async (path: string) => (await readWhole(vfs, path, 4096)).toString();
        await stack.fs.readdir('/'); // the first access lists the tree
        await stack.prefetcher.idle();
        expect(await readAll('/a/with space.txt')).toBe('content of with space.txt\n');
        const before = stack.counter.calls();
        const snap = new Map(stack.counter.byName);
        for (let i = 0; i < 5; i++) expect(await readAll('/a/with space.txt')).toBe('content of with space.txt\n');
        expect(await vfs.getattr('/a/with space.txt')).toMatchObject({ size: 26 });
        expect([...stack.counter.byName].filter(([k, v]) => snap.get(k) !== v)).toEqual([]);
        expect(stack.counter.calls()).toBe(before);
      } finally {
        await vfs.close();
      }
    });

    test('after a few reads under a listed tree, its small files arrive in one tar stream (with a shell)', async () => {
      const stack = await openStack(sshd, root, true, { readsBeforeContent: 3 });
      const vfs = createVfsOver(stack.layer, stack.counter.fs);
      const readAll = (path: string) => readWhole(vfs, path);
      try {
        await stack.fs.readdir('/');
        await stack.prefetcher.idle();
        for (let i = 27; i < 30; i++) await readAll(`/a/b/f${i}.php`);
        await stack.prefetcher.idle();
        const before = stack.counter.calls();
        const files = [...Array.from({ length: 27 }, (_, i) => `/a/b/f${i}.php`), ...AWKWARD.map((n) => `/a/${n}`), '/a/b/c/deep.txt'];
        for (const file of files) expect((await readAll(file)).equals(await readFile(join(root, file))), file).toBe(true);
        const stats = stack.prefetcher.stats();
        if (variant.sftpOnly) {
          expect(stats.files).toBe(0);
          expect(stack.counter.calls()).toBeGreaterThan(before);
        } else {
          expect(stats.files).toBeGreaterThanOrEqual(files.length);
          expect(stack.counter.calls()).toBe(before);
        }
      } finally {
        await vfs.close();
      }
    });

    test('the tar stream carries the small files the fresh listings name, not a file changed through the mount', async () => {
      const stack = await openStack(sshd, root, true, { readsBeforeContent: 2 });
      const vfs = createVfsOver(stack.layer, stack.counter.fs);
      const readAll = (path: string) => readWhole(vfs, path);
      const changed = '/a/b/f3.php';
      try {
        await stack.fs.readdir('/');
        await stack.prefetcher.idle();
        const fh = await vfs.open(changed, constants.O_WRONLY);
        try {
          await vfs.write(fh, Buffer.from('NEW'), 0);
        } finally {
          await vfs.release(fh);
        }
        for (const file of ['/a/b/f28.php', '/a/b/f29.php']) await readAll(file);
        await stack.prefetcher.idle();
        const stats = stack.prefetcher.stats();
        // Every regular file of the tree (other tests add some) is small here; all but the changed one come.
        const regular = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
        if (variant.sftpOnly) expect(stats.files).toBe(0);
        else expect(stats.files).toBe(regular - 1);
        expect((await readAll(changed)).toString()).toBe('NEW');
        expect((await readAll('/a/b/f4.php')).toString()).toBe('xxxx');
      } finally {
        await writeFile(join(root, 'a', 'b', 'f3.php'), 'xxx');
        await vfs.close();
      }
    });
  });
}

describe('prefetch limits', () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  test('a directory with 50,000 entries is listed whole, and lookups in it need no round trip', async () => {
    const big = join(sshd.root, 'big');
    await mkdir(big);
    // On the server side with one xargs, not 50k Node calls: the suite shares two cores.
    await execFileAsync('bash', ['-c', 'seq 0 49999 | sed s/^/n/ | xargs touch'], { cwd: big });
    const stack = await openStack(sshd, big, true);
    try {
      const entries = await stack.fs.readdir('/');
      expect(entries.length).toBe(50_000);
      await stack.prefetcher.idle();
      const after = stack.counter.calls();
      for (const i of [0, 1, 12_345, 49_999]) expect((await stack.fs.lstat(`/n${i}`)).size).toBe(0);
      await expect(stack.fs.lstat('/n50000')).rejects.toMatchObject({ code: 'ENOENT' });
      expect(stack.counter.calls()).toBe(after);
      expect(stack.prefetcher.stats()).toMatchObject({ findJobs: 1, truncatedJobs: 0 });
    } finally {
      await stack.close();
      await rm(big, { recursive: true });
    }
  }, 60_000);

  test('a tree larger than the entry cap primes what it completed and lists deeper subtrees on their own', async () => {
    const tree = join(sshd.root, 'capped');
    for (let d = 0; d < 6; d++) {
      await mkdir(join(tree, `d${d}`), { recursive: true });
      for (let f = 0; f < 10; f++) await writeFile(join(tree, `d${d}`, `f${f}`), 'x');
    }
    const sftp = await createSftpRemoteFs(harnessConnector(sshd), tree);
    const cache = createCachedRemoteFs(sftp);
    const { fs, prefetcher } = prefetchingLayer(cache, { shell: { shell: sftp, serverRoot: sftp.remoteRoot }, options: { maxEntriesPerJob: 25 } });
    try {
      const names = (await fs.readdir('/')).map((e) => e.name).sort();
      expect(names).toEqual(['d0', 'd1', 'd2', 'd3', 'd4', 'd5']);
      for (let d = 0; d < 6; d++) expect((await fs.readdir(`/d${d}`)).length).toBe(10);
      for (let d = 0; d < 6; d++) expect((await fs.lstat(`/d${d}/f9`)).size).toBe(1);
      const stats = prefetcher.stats();
      expect(stats.truncatedJobs).toBeGreaterThanOrEqual(1);
      expect(stats.entries).toBeLessThanOrEqual(stats.jobs * 25);
    } finally {
      await fs.close();
      await rm(tree, { recursive: true });
    }
  });
});
