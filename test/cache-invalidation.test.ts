/**
 * The cache decorator's rules, on a local-directory RemoteFs that counts calls: hits cost no call, every
 * mutation invalidates exactly what it changed, a slow reply racing a mutation is not stored (sshfs
 * write_ctr), TTLs, refresh, the data cache and cache=no.
 */
import { constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile, mkdir, appendFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCachedRemoteFs, type CachedRemoteFs } from '../fs/cache/cached-remote-fs.js';
import { CACHE_DEFAULTS, type CacheOptions } from '../fs/cache/options.js';
import { isFsError } from '../fs/errors.js';
import type { ChangeEvent } from '../fs/types.js';
import { createLocalRemoteFs, type LocalRemoteFs } from './helpers/local-remote-fs.js';

let dir: string;
let inner: LocalRemoteFs;
let clock: number;

function cached(overrides: Partial<CacheOptions> = {}): CachedRemoteFs {
  return createCachedRemoteFs(inner, { now: () => clock, ...overrides });
}

async function expectErrno(promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(() => null, (e: unknown) => e);
  expect(isFsError(err) ? err.code : err).toBe(code);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devmount-cache-'));
  inner = createLocalRemoteFs(dir);
  clock = 1_000;
  await mkdir(join(dir, 'd'));
  await writeFile(join(dir, 'd', 'a.txt'), 'alpha');
  await writeFile(join(dir, 'd', 'b.txt'), 'bravo!');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('attribute cache', () => {
  it('answers a second lstat from the cache until the TTL passes', async () => {
    const fs = cached();
    expect((await fs.lstat('/d/a.txt')).size).toBe(5);
    expect((await fs.lstat('/d/a.txt')).size).toBe(5);
    expect(inner.count('lstat')).toBe(1);
    clock += CACHE_DEFAULTS.attrTimeoutMs + 1;
    await fs.lstat('/d/a.txt');
    expect(inner.count('lstat')).toBe(2);
    expect(fs.stats().attrHits).toBe(1);
  });

  it('fills attributes from READDIR so lookups and missing names cost no call', async () => {
    const fs = cached();
    const names = (await fs.readdir('/d')).map((e) => e.name).sort();
    expect(names).toEqual(['a.txt', 'b.txt']);
    inner.resetCounts();
    expect((await fs.lstat('/d/b.txt')).size).toBe(6);
    expect((await fs.stat('/d/a.txt')).size).toBe(5);
    await expectErrno(fs.lstat('/d/missing'), 'ENOENT');
    await fs.readdir('/d');
    expect(inner.count()).toBe(0);
  });

  it('stores negative entries and drops them when the name is created through the cache', async () => {
    const fs = cached();
    await expectErrno(fs.lstat('/new.txt'), 'ENOENT');
    await expectErrno(fs.lstat('/new.txt'), 'ENOENT');
    expect(inner.count('lstat')).toBe(1);
    const file = await fs.open('/new.txt', constants.O_CREAT | constants.O_WRONLY, 0o644);
    await file.write(Buffer.from('hello'), 0);
    await file.close();
    expect((await fs.lstat('/new.txt')).size).toBe(5);
  });

  it('a write through an open file invalidates the size', async () => {
    const fs = cached();
    expect((await fs.lstat('/d/a.txt')).size).toBe(5);
    const file = await fs.open('/d/a.txt', constants.O_WRONLY);
    await file.write(Buffer.from('-and-more'), 5);
    await file.close();
    expect((await fs.lstat('/d/a.txt')).size).toBe(14);
    const listed = (await fs.readdir('/d')).find((e) => e.name === 'a.txt');
    expect(listed?.attr.size).toBe(14);
  });

  it('patches the parent listing on unlink, mkdir and create without re-reading it', async () => {
    const fs = cached();
    await fs.readdir('/d');
    await fs.unlink('/d/a.txt');
    await fs.mkdir('/d/sub', 0o755);
    await (await fs.open('/d/c.txt', constants.O_CREAT | constants.O_WRONLY, 0o644)).close();
    inner.resetCounts();
    const names = (await fs.readdir('/d')).map((e) => e.name).sort();
    expect(names).toEqual(['b.txt', 'c.txt', 'sub']);
    expect(inner.count('readdir')).toBe(0);
    await expectErrno(fs.lstat('/d/a.txt'), 'ENOENT');
  });

  it('after many creates a cached listing is read again in one call rather than re-stat\'ed name by name', async () => {
    const fs = cached();
    await fs.readdir('/d');
    for (let i = 0; i < 40; i += 1) await (await fs.open(`/d/n${i}`, constants.O_CREAT | constants.O_WRONLY, 0o644)).close();
    inner.resetCounts();
    expect((await fs.readdir('/d')).length).toBe(42);
    expect(inner.count('readdir')).toBe(1);
    expect(inner.count('lstat')).toBe(0);
  });

  it('a symlink replaced through the cache reads back its new target', async () => {
    const fs = cached();
    await fs.symlink('a.txt', '/d/link');
    expect(await fs.readlink('/d/link')).toBe('a.txt');
    expect(await fs.readlink('/d/link')).toBe('a.txt');
    expect(inner.count('readlink')).toBe(1);
    await fs.unlink('/d/link');
    await fs.symlink('b.txt', '/d/link');
    expect(await fs.readlink('/d/link')).toBe('b.txt');
    expect((await fs.stat('/d/link')).size).toBe(6);
  });

  it('rename invalidates both sides and the moved subtree', async () => {
    const fs = cached();
    await fs.readdir('/');
    await fs.readdir('/d');
    await fs.lstat('/d/a.txt');
    await fs.rename('/d', '/e');
    await expectErrno(fs.lstat('/d/a.txt'), 'ENOENT');
    await expectErrno(fs.lstat('/d'), 'ENOENT');
    expect((await fs.readdir('/e')).map((e) => e.name).sort()).toEqual(['a.txt', 'b.txt']);
    expect((await fs.readdir('/')).map((e) => e.name)).toEqual(['e']);
  });

  it('rename over an existing file replaces its cached attributes and data', async () => {
    const fs = cached();
    expect((await fs.readFile('/d/b.txt')).toString()).toBe('bravo!');
    await fs.rename('/d/a.txt', '/d/b.txt');
    expect((await fs.lstat('/d/b.txt')).size).toBe(5);
    expect((await fs.readFile('/d/b.txt')).toString()).toBe('alpha');
    await expectErrno(fs.lstat('/d/a.txt'), 'ENOENT');
  });

  it('a failed mutation forgets what it might have changed', async () => {
    const fs = cached();
    await fs.readdir('/');
    await expectErrno(fs.rmdir('/d'), 'ENOTEMPTY');
    expect((await fs.readdir('/d')).length).toBe(2);
    await expectErrno(fs.unlink('/d'), 'EISDIR');
    expect((await fs.readdir('/')).map((e) => e.name)).toEqual(['d']);
  });
});

describe('generation counter', () => {
  it('does not store an lstat reply that raced a write', async () => {
    const fs = cached();
    const release = inner.holdReply('lstat', '/d/a.txt');
    const slow = fs.lstat('/d/a.txt'); // the server answers size 5, the reply is held back
    await new Promise((r) => setTimeout(r, 20));
    const file = await fs.open('/d/a.txt', constants.O_WRONLY);
    await file.write(Buffer.from('0123456789'), 0);
    await file.close();
    release();
    expect((await slow).size).toBe(5);
    expect((await fs.lstat('/d/a.txt')).size).toBe(10); // the stale 5 was not cached
    expect(fs.stats().racesRefused).toBeGreaterThanOrEqual(1);
  });

  it('does not store a listing that raced a create', async () => {
    const fs = cached();
    const release = inner.holdReply('readdir', '/d');
    const slow = fs.readdir('/d');
    await new Promise((r) => setTimeout(r, 20));
    await fs.mkdir('/d/late', 0o755);
    release();
    expect((await slow).map((e) => e.name)).not.toContain('late');
    expect((await fs.readdir('/d')).map((e) => e.name)).toContain('late');
  });

  it('stores a reply about a path the racing mutation did not touch', async () => {
    const fs = cached();
    const release = inner.holdReply('lstat', '/d/b.txt');
    const slow = fs.lstat('/d/b.txt');
    await new Promise((r) => setTimeout(r, 20));
    await fs.unlink('/d/a.txt');
    release();
    await slow;
    inner.resetCounts();
    await fs.lstat('/d/b.txt');
    expect(inner.count('lstat')).toBe(0);
  });
});

describe('changes made on the server', () => {
  it('are seen after the TTL, and at once after refresh(path) or refresh()', async () => {
    const fs = cached({ attrTimeoutMs: 500, dirTimeoutMs: 500 });
    await fs.readdir('/d');
    await writeFile(join(dir, 'd', 'server-side.txt'), 'x');
    await appendFile(join(dir, 'd', 'a.txt'), '++');
    expect((await fs.readdir('/d')).map((e) => e.name)).not.toContain('server-side.txt');
    expect((await fs.lstat('/d/a.txt')).size).toBe(5);
    fs.refresh('/d');
    expect((await fs.readdir('/d')).map((e) => e.name)).toContain('server-side.txt');
    expect((await fs.lstat('/d/a.txt')).size).toBe(7);
    await writeFile(join(dir, 'd', 'two.txt'), 'y');
    expect((await fs.readdir('/d')).map((e) => e.name)).not.toContain('two.txt');
    fs.refresh();
    expect((await fs.readdir('/d')).map((e) => e.name)).toContain('two.txt');
    await writeFile(join(dir, 'd', 'three.txt'), 'z');
    clock += 501;
    expect((await fs.readdir('/d')).map((e) => e.name)).toContain('three.txt');
  });

  it('refresh of a known file re-reads only that file, keeping the parent listing', async () => {
    const fs = cached();
    await fs.readdir('/d');
    await fs.readFile('/d/a.txt');
    await writeFile(join(dir, 'd', 'a.txt'), 'changed on the server');
    await rm(join(dir, 'd', 'b.txt'));
    inner.resetCounts();
    fs.refresh('/d/a.txt');
    fs.refresh('/d/b.txt');
    expect((await fs.readFile('/d/a.txt')).toString()).toBe('changed on the server');
    expect((await fs.readdir('/d')).map((e) => e.name)).toEqual(['a.txt']);
    expect(inner.count('readdir')).toBe(0);
  });

  it('refresh of a single new name makes it visible even though the parent listing is cached', async () => {
    const fs = cached();
    await fs.readdir('/d');
    await writeFile(join(dir, 'd', 'fresh.txt'), 'x');
    await expectErrno(fs.lstat('/d/fresh.txt'), 'ENOENT');
    fs.refresh('/d/fresh.txt');
    expect((await fs.lstat('/d/fresh.txt')).size).toBe(1);
  });

  it('emit remote change events when a fresh listing contradicts the expired one', async () => {
    const fs = cached();
    const events: ChangeEvent[] = [];
    fs.onChange((e) => events.push(e));
    await fs.readdir('/d');
    await writeFile(join(dir, 'd', 'new.txt'), 'x');
    await rm(join(dir, 'd', 'b.txt'));
    await writeFile(join(dir, 'd', 'a.txt'), 'changed content');
    clock += CACHE_DEFAULTS.dirTimeoutMs + 1;
    await fs.readdir('/d');
    expect(events).toEqual(expect.arrayContaining([
      { path: '/d/new.txt', kind: 'create', origin: 'remote' },
      { path: '/d/b.txt', kind: 'delete', origin: 'remote' },
      { path: '/d/a.txt', kind: 'modify', origin: 'remote' },
    ]));
    expect(events).toHaveLength(3);
  });
});

describe('data cache', () => {
  it('readFile is served from memory while size and mtime match', async () => {
    const fs = cached();
    expect((await fs.readFile('/d/a.txt')).toString()).toBe('alpha');
    expect((await fs.readFile('/d/a.txt')).toString()).toBe('alpha');
    expect(inner.count('readFile')).toBe(1);
    expect(fs.stats().dataHits).toBe(1);
  });

  it('open+read+close of a small cached file costs no call while its attributes are fresh', async () => {
    const fs = cached();
    await fs.readFile('/d/b.txt');
    inner.resetCounts();
    const file = await fs.open('/d/b.txt', constants.O_RDONLY);
    expect((await file.read(0, 100)).toString()).toBe('bravo!');
    expect((await file.read(2, 2)).toString()).toBe('av');
    await file.close();
    expect(inner.count()).toBe(0);
  });

  it('is invalidated by writes, truncates and renames through the cache', async () => {
    const fs = cached();
    await fs.readFile('/d/a.txt');
    const file = await fs.open('/d/a.txt', constants.O_WRONLY);
    await file.write(Buffer.from('A'), 0);
    await file.close();
    expect((await fs.readFile('/d/a.txt')).toString()).toBe('Alpha');
    await fs.setattr('/d/a.txt', { size: 2 });
    expect((await fs.readFile('/d/a.txt')).toString()).toBe('Al');
    await fs.readFile('/d/b.txt');
    await fs.rename('/d/a.txt', '/d/b.txt');
    expect((await fs.readFile('/d/b.txt')).toString()).toBe('Al');
  });

  it('a changed size or mtime on the server is noticed once the attributes expire', async () => {
    const fs = cached();
    await fs.readFile('/d/a.txt');
    await writeFile(join(dir, 'd', 'a.txt'), 'omega');
    await utimes(join(dir, 'd', 'a.txt'), 1_000_000, 1_000_000);
    expect((await fs.readFile('/d/a.txt')).toString()).toBe('alpha');
    clock += CACHE_DEFAULTS.attrTimeoutMs + 1;
    expect((await fs.readFile('/d/a.txt')).toString()).toBe('omega');
  });

  it('auto_cache revalidates on open and reports the change', async () => {
    const fs = cached({ autoCache: true });
    const events: ChangeEvent[] = [];
    fs.onChange((e) => events.push(e));
    await fs.readFile('/d/a.txt');
    await writeFile(join(dir, 'd', 'a.txt'), 'a longer text');
    const file = await fs.open('/d/a.txt', constants.O_RDONLY);
    expect((await file.read(0, 100)).toString()).toBe('a longer text');
    await file.close();
    expect(events).toContainEqual({ path: '/d/a.txt', kind: 'modify', origin: 'remote' });
  });

  it('is bounded by bytes', async () => {
    const fs = cached({ dataCacheBytes: 64 * 1024 });
    for (let i = 0; i < 20; i += 1) await writeFile(join(dir, `f${i}`), Buffer.alloc(4000, i));
    for (let i = 0; i < 20; i += 1) expect((await fs.readFile(`/f${i}`))[0]).toBe(i);
    expect(fs.stats().dataBytes).toBeLessThanOrEqual(64 * 1024);
    expect(fs.stats().dataEntries).toBeGreaterThan(0);
  });
});

describe('bounds and modes', () => {
  it('keeps at most maxEntries metadata entries (LRU)', async () => {
    const fs = cached({ maxEntries: 50 });
    await mkdir(join(dir, 'many'));
    for (let i = 0; i < 120; i += 1) await writeFile(join(dir, 'many', `n${i}`), '');
    for (let i = 0; i < 120; i += 1) await fs.lstat(`/many/n${i}`);
    expect(fs.stats().entries).toBeLessThanOrEqual(50);
    inner.resetCounts();
    await fs.lstat('/many/n119'); // most recent: still cached
    expect(inner.count()).toBe(0);
    await fs.lstat('/many/n0'); // evicted
    expect(inner.count('lstat')).toBe(1);
  });

  it('cache=no sends every call to the server', async () => {
    const fs = cached({ enabled: false });
    await fs.lstat('/d/a.txt');
    await fs.lstat('/d/a.txt');
    await fs.readFile('/d/a.txt');
    await fs.readFile('/d/a.txt');
    expect(inner.count('lstat')).toBe(2);
    expect(inner.count('readFile')).toBe(2);
    expect(fs.stats()).toEqual({});
  });

  it('shares one request between identical lookups in flight', async () => {
    const fs = cached();
    const results = await Promise.all([fs.lstat('/d/a.txt'), fs.lstat('/d/a.txt'), fs.lstat('/d/a.txt')]);
    expect(results.map((a) => a.size)).toEqual([5, 5, 5]);
    expect(inner.count('lstat')).toBe(1);
  });

  it('prime() fills the caches from a bulk listing unless a mutation raced it', async () => {
    const fs = cached();
    const startedAt = fs.generation();
    const entries = await inner.readdir('/d');
    fs.prime('/d', entries, startedAt);
    inner.resetCounts();
    expect((await fs.lstat('/d/a.txt')).size).toBe(5);
    expect(inner.count()).toBe(0);
    const before = fs.generation();
    await fs.unlink('/d/a.txt');
    fs.prime('/d', entries, before);
    await expectErrno(fs.lstat('/d/a.txt'), 'ENOENT');
    expect(await readFile(join(dir, 'd', 'b.txt'), 'utf8')).toBe('bravo!');
  });
});
