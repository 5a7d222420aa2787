/**
 * How the caches hold what they hold (to keep the daemon's RSS ≤ 200 MB throughout): listings as packed records that
 * answer exactly what the Attr objects did, cached bytes that never pin a larger buffer, and the scan of
 * fresh listings that chooses a tar stream's files (fs/prefetch) instead of a second copy of the tree.
 */
import { constants } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCachedRemoteFs, type CachedRemoteFs } from '../fs/cache/cached-remote-fs.js';
import { DataCache } from '../fs/cache/data-cache.js';
import { ListingAttrs } from '../fs/cache/listing-attrs.js';
import type { CacheOptions } from '../fs/cache/options.js';
import type { Attr } from '../fs/types.js';
import { createLocalRemoteFs, type LocalRemoteFs } from './helpers/local-remote-fs.js';

function attrOf(n: number, overrides: Partial<Attr> = {}): Attr {
  return {
    mode: constants.S_IFREG | 0o644,
    size: n * 100 + 7,
    uid: 1000 + n,
    gid: 2000 + n,
    nlink: 1,
    // Epoch milliseconds with a fraction, a size past 2^32 for one: the packed record must keep every bit.
    atimeMs: 1_700_000_000_123.5 + n,
    mtimeMs: 1_700_000_001_000 + n,
    ctimeMs: 1_700_000_002_000 + n,
    ...overrides,
  };
}

describe('ListingAttrs', () => {
  it('answers what a Map of Attr objects answered: values, unknown (null), absent, order', () => {
    const table = new ListingAttrs(2);
    const big = attrOf(1, { size: 2 ** 40 + 3, mode: constants.S_IFDIR | 0o2775 });
    table.set('a', attrOf(0));
    table.set('b', big);
    table.set('new', null);
    expect(table.size).toBe(3);
    expect(table.get('a')).toEqual(attrOf(0));
    expect(table.get('b')).toEqual(big);
    expect(table.get('new')).toBeNull();
    expect(table.get('missing')).toBeUndefined();
    expect(table.has('new')).toBe(true);
    expect(table.has('missing')).toBe(false);
    expect(Object.isFrozen(table.get('a'))).toBe(true);
    expect([...table.keys()]).toEqual(['a', 'b', 'new']);
    expect([...table]).toEqual([['a', attrOf(0)], ['b', big], ['new', null]]);
  });

  it('replaces in place, reuses the records of removed names and grows past its first size', () => {
    const table = new ListingAttrs(1);
    for (let i = 0; i < 50; i += 1) table.set(`n${i}`, attrOf(i));
    table.set('n3', attrOf(99));
    table.set('n4', null);
    table.set('n5', attrOf(5, { size: 0 }));
    expect(table.delete('n10')).toBe(true);
    expect(table.delete('n10')).toBe(false);
    table.set('late', attrOf(77));
    expect(table.size).toBe(50);
    expect(table.get('n3')).toEqual(attrOf(99));
    expect(table.get('n4')).toBeNull();
    expect(table.get('n5')?.size).toBe(0);
    expect(table.get('n10')).toBeUndefined();
    expect(table.get('late')).toEqual(attrOf(77));
    for (const i of [0, 11, 49]) expect(table.get(`n${i}`)).toEqual(attrOf(i));
    // Replacing keeps a name's place; a removed and re-added name goes last, as with a Map.
    const names = [...table.keys()];
    expect(names.indexOf('n3')).toBe(3);
    expect(names.at(-1)).toBe('late');
  });

  it('forEachKnown reports mode, size and mtime of every name with attributes, and skips unknown ones', () => {
    const table = new ListingAttrs();
    table.set('f', attrOf(1));
    table.set('unknown', null);
    table.set('d', attrOf(2, { mode: constants.S_IFDIR | 0o755 }));
    const seen: Array<[string, number, number, number]> = [];
    table.forEachKnown((name, mode, size, mtimeMs) => seen.push([name, mode, size, mtimeMs]));
    expect(seen).toEqual([
      ['f', attrOf(1).mode, attrOf(1).size, attrOf(1).mtimeMs],
      ['d', constants.S_IFDIR | 0o755, attrOf(2).size, attrOf(2).mtimeMs],
    ]);
  });
});

describe('DataCache bytes', () => {
  const attr = (size: number): Attr => attrOf(0, { size });

  it('a file cut out of a larger buffer (a tar entry in an SSH packet) is stored as its own copy', () => {
    const cache = new DataCache(1024 * 1024);
    const packet = Buffer.alloc(32 * 1024, 0x61);
    packet.write('hello', 1000);
    const view = packet.subarray(1000, 1005);
    cache.set('/f', attr(5), view);
    const stored = cache.get('/f', attr(5));
    expect(stored?.toString()).toBe('hello');
    expect(stored?.buffer).not.toBe(packet.buffer);
    expect(stored?.buffer.byteLength).toBeLessThanOrEqual(Buffer.poolSize);
    packet.fill(0); // the packet's memory is reused: the cached copy must not change
    expect(cache.get('/f', attr(5))?.toString()).toBe('hello');
  });

  it('a buffer that is (mostly) its own memory is stored as it is, without a copy', () => {
    const cache = new DataCache(1024 * 1024);
    const own = Buffer.alloc(20_000, 1);
    const pooled = Buffer.from('small file'); // a view of Node's shared 8 KiB pool
    const mostly = Buffer.alloc(30_000, 2).subarray(0, 20_000);
    cache.set('/own', attr(own.length), own);
    cache.set('/pooled', attr(pooled.length), pooled);
    cache.set('/mostly', attr(mostly.length), mostly);
    expect(cache.get('/own', attr(own.length))).toBe(own);
    expect(cache.get('/pooled', attr(pooled.length))).toBe(pooled);
    expect(cache.get('/mostly', attr(mostly.length))).toBe(mostly);
  });
});

describe('listedFiles (the files a tar stream may carry)', () => {
  let dir: string;
  let inner: LocalRemoteFs;
  let clock: number;
  let fs: CachedRemoteFs;

  const options = (): Partial<CacheOptions> => ({ now: () => clock });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'devmount-listed-'));
    inner = createLocalRemoteFs(dir);
    clock = 1_000;
    await mkdir(join(dir, 'site', 'css', 'deep'), { recursive: true });
    await mkdir(join(dir, 'site', 'unlisted'));
    await mkdir(join(dir, 'other'));
    await writeFile(join(dir, 'site', 'index.html'), 'x'.repeat(10));
    await writeFile(join(dir, 'site', 'big.bin'), 'x'.repeat(5000));
    await writeFile(join(dir, 'site', 'css', 'a.css'), 'x'.repeat(20));
    await writeFile(join(dir, 'site', 'css', 'deep', 'b.css'), 'x'.repeat(30));
    await writeFile(join(dir, 'site', 'unlisted', 'c.txt'), 'x'.repeat(40));
    await writeFile(join(dir, 'other', 'd.txt'), 'x'.repeat(50));
    await symlink('css', join(dir, 'site', 'link-to-css'));
    fs = createCachedRemoteFs(inner, options());
    for (const d of ['/', '/site', '/site/css', '/site/css/deep', '/other']) await fs.readdir(d);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const listed = (root: string, maxBytes: number) =>
    fs.listedFiles(root, maxBytes).map((f) => [f.path, f.size]).sort((a, b) => String(a[0]).localeCompare(String(b[0])));

  it('names the regular files up to the size limit at every depth of fresh listings, relative to the root', async () => {
    // Not named: big.bin (over the limit), the symlink (not followed, as find -H), unlisted/c.txt (never listed).
    expect(listed('/site', 1000)).toEqual([['css/a.css', 20], ['css/deep/b.css', 30], ['index.html', 10]]);
    expect(listed('/', 1000).map((f) => f[0])).toEqual(['other/d.txt', 'site/css/a.css', 'site/css/deep/b.css', 'site/index.html']);
    expect(listed('/site/css', 25)).toEqual([['a.css', 20]]);
    const [a] = fs.listedFiles('/site/css', 25);
    expect(a?.mtimeMs).toBe((await fs.lstat('/site/css/a.css')).mtimeMs);
    // Costs no call: it reads the cache only.
    inner.resetCounts();
    fs.listedFiles('/', 1000);
    expect(inner.count()).toBe(0);
  });

  it('leaves out names changed through the mount, directories without a fresh listing, and expired listings', async () => {
    await fs.setattr('/site/index.html', { mode: 0o600 });
    expect(listed('/site', 1000).map((f) => f[0])).toEqual(['css/a.css', 'css/deep/b.css']);
    fs.refresh('/site/css/deep'); // forgets that listing and its parent's (a name may have appeared there)
    expect(listed('/site', 1000).map((f) => f[0])).toEqual([]);
    await fs.readdir('/site/css');
    expect(listed('/site', 1000).map((f) => f[0])).toEqual(['css/a.css']);
    clock += 60_000;
    expect(fs.listedFiles('/site', 1000)).toEqual([]);
  });

  it('is empty with the cache off', async () => {
    const off = createCachedRemoteFs(inner, { ...options(), enabled: false });
    await off.readdir('/site');
    expect(off.listedFiles('/', 1000)).toEqual([]);
  });
});
