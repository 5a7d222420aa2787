/**
 * The memory cache as a decorator (sshfs cache.c `cache_wrap`): `createCachedRemoteFs(inner)` returns a
 * RemoteFs of the same shape as `inner` and, beside it, the control of the cache (a CacheLayer, layer.ts).
 * Lookups are answered from attribute, negative, listing and link entries while fresh; READDIR replies fill
 * attributes so `ls -l` and lookups cost no extra round trip; every mutation forwards to `inner`, then patches
 * or drops exactly the entries it affected. A reply is stored only if no mutation touched its path meanwhile
 * (generations.ts). File contents live in a separate byte-bounded data cache validated by size+mtime; a
 * read-only open of a small file is served from it.
 *
 * `enabled: false` (`-o cache=no`) selects a pass-through at construction, so no call pays for a check.
 */
import { constants } from 'node:fs';
import { FsError, isFsError } from '../errors.js';
import { isDir, isRegular, isSymlink, opensReadOnly } from '../posix.js';
import type { ClosableRemoteFs, RemoteFile, SetAttr } from '../remote/types.js';
import { ChangeEmitter } from '../change-emitter.js';
import type { CacheMirror, FreshEntry } from './mirror.js';
import type { Attr, ChangeListener, DirEntry, StatFs } from '../types.js';
import { DataCache } from './data-cache.js';
import { ForwardingRemoteFs, type WrappedRemoteFs } from './forwarding-remote-fs.js';
import { Generations } from './generations.js';
import type { CacheControl, CacheLayer } from './layer.js';
import { createMemoryFile } from './memory-file.js';
import { MetadataCache, type AttrLookup, type Listing, type ListedFile } from './metadata-cache.js';
import { resolveCacheOptions, type CacheOptions } from './options.js';
import { childOf, normalizePath, parentOf } from '../paths.js';

/** The memory cache over `inner`: its file system and, beside it, its control. */
export function createCachedRemoteFs(inner: WrappedRemoteFs, overrides: Partial<CacheOptions> = {}): CacheLayer {
  const options = resolveCacheOptions(overrides);
  if (!options.enabled) return Object.freeze({ fs: new ForwardingRemoteFs(inner), control: noCacheControl(options) });
  return CachingRemoteFs.layer(inner, options);
}

const CREATES_OR_TRUNCATES = constants.O_CREAT | constants.O_TRUNC;
/** Above this many changed names, a cached listing is read again instead of re-stat'ing each name. */
const MAX_DIRTY_NAMES_TO_RESTAT = 32;

class CachingRemoteFs implements ClosableRemoteFs {
  /** Handed beside this file system (layer()); its functions work on the state below. */
  private readonly control: CacheControl;
  private readonly listeners = new ChangeEmitter();
  private readonly mirrors = new Set<CacheMirror>();
  private readonly meta: MetadataCache;
  private readonly data: DataCache;
  private readonly gens = new Generations();
  /** Identical lookups in flight share one request, if nothing touched the path since it started. */
  private readonly pending = new Map<string, { readonly startedAt: number; readonly promise: Promise<unknown> }>();
  private readonly counters = {
    attrHits: 0, attrMisses: 0, negativeHits: 0, dirHits: 0, dirMisses: 0, linkHits: 0, linkMisses: 0,
    dataHits: 0, dataMisses: 0, memoryOpens: 0, racesRefused: 0, sharedLookups: 0, remoteChanges: 0,
  };

  constructor(private readonly inner: WrappedRemoteFs, private readonly options: CacheOptions) {
    this.meta = new MetadataCache(options, (event) => {
      this.counters.remoteChanges += 1;
      this.listeners.emit(event);
    }, (path, changed) => {
      for (const mirror of this.mirrors) mirror.forget(path, changed);
    }, (root, known) => {
      for (const mirror of this.mirrors) mirror.forgetSubtree(root, known);
    });
    this.data = new DataCache(options.dataCacheBytes);
    this.control = this.controlObject();
  }

  /** The file system and its control: the class's public members are the RemoteFs ones only. */
  static layer(inner: WrappedRemoteFs, options: CacheOptions): CacheLayer {
    const fs = new CachingRemoteFs(inner, options);
    return Object.freeze({ fs, control: fs.control });
  }

  // ---- lookups ---------------------------------------------------------------------------------------

  /** A cached answer (counted as a hit; a negative entry throws ENOENT), or undefined on a miss. */
  private fromCache(lookup: AttrLookup, path: string): Attr | undefined {
    if (lookup.kind === 'hit') {
      this.counters.attrHits += 1;
      return lookup.attr;
    }
    if (lookup.kind === 'negative') {
      this.counters.negativeHits += 1;
      throw new FsError('ENOENT', undefined, path);
    }
    this.counters.attrMisses += 1;
    return undefined;
  }

  async lstat(rawPath: string): Promise<Attr> {
    const path = normalizePath(rawPath);
    const cached = this.fromCache(this.meta.lookupLstat(path), path);
    if (cached) return cached;
    return this.shared(`lstat:${path}`, path, async (startedAt) => {
      try {
        const attr = await this.inner.lstat(path);
        if (this.storable(path, startedAt)) this.meta.storeLstat(path, attr);
        return attr;
      } catch (err) {
        if (isFsError(err, 'ENOENT') && this.storable(path, startedAt)) this.meta.storeNegative(path);
        throw err;
      }
    });
  }

  async stat(rawPath: string): Promise<Attr> {
    const path = normalizePath(rawPath);
    const cached = this.fromCache(this.meta.lookupStat(path), path);
    if (cached) return cached;
    return this.shared(`stat:${path}`, path, async (startedAt) => {
      const attr = await this.inner.stat(path);
      if (this.storable(path, startedAt)) this.meta.storeStat(path, attr);
      return attr;
    });
  }

  async readdir(rawPath: string): Promise<DirEntry[]> {
    const dir = normalizePath(rawPath);
    const listing = this.meta.freshListing(dir);
    // Many names changed through this mount (a copy into the directory): one READDIR beats a stat per name.
    if (listing && listing.dirty.size <= MAX_DIRTY_NAMES_TO_RESTAT) {
      this.counters.dirHits += 1;
      return this.materialize(dir, listing);
    }
    this.counters.dirMisses += 1;
    return this.shared(`readdir:${dir}`, dir, async (startedAt) => {
      const entries = await this.inner.readdir(dir);
      if (this.storable(dir, startedAt)) this.storeListing(dir, entries, startedAt);
      return entries;
    });
  }

  async readlink(rawPath: string): Promise<string> {
    const path = normalizePath(rawPath);
    const cached = this.meta.lookupLink(path);
    if (cached !== undefined) {
      this.counters.linkHits += 1;
      return cached;
    }
    this.counters.linkMisses += 1;
    const startedAt = this.gens.current();
    const target = await this.inner.readlink(path);
    if (this.storable(path, startedAt)) this.meta.storeLink(path, target);
    return target;
  }

  async readFile(rawPath: string): Promise<Buffer> {
    const path = normalizePath(rawPath);
    return this.readFileUnder(path, await this.stat(path));
  }

  async statfs(path: string): Promise<StatFs> {
    return this.inner.statfs(normalizePath(path));
  }

  // ---- open ------------------------------------------------------------------------------------------

  async open(rawPath: string, flags: number, mode?: number): Promise<RemoteFile> {
    const path = normalizePath(rawPath);
    if ((flags & CREATES_OR_TRUNCATES) === 0) {
      const startedAt = this.gens.current();
      return this.openExisting(path, flags, mode).catch((err: unknown) => {
        // A name the cache had but the server no longer has: a fresh reply that contradicts the cache.
        if (isFsError(err, 'ENOENT') && this.storable(path, startedAt)) this.meta.storeNegative(path);
        throw err;
      });
    }
    const file = await this.mutate([path, parentOf(path)], [], () => this.inner.open(path, flags, mode), () => {
      if (flags & constants.O_CREAT) this.meta.nameAdded(path);
      else this.meta.invalidateAttr(path);
      this.data.delete(path);
    }, [path]);
    return this.wrapFile(file);
  }

  /** Opens a file that is not created or truncated: a small one read-only from memory, else on the server. */
  private async openExisting(path: string, flags: number, mode?: number): Promise<RemoteFile> {
    const readOnly = opensReadOnly(flags);
    if (readOnly && this.options.dataCacheBytes > 0) {
      const attr = this.options.autoCache ? await this.revalidate(path) : await this.stat(path);
      if (this.isSmallFile(attr)) {
        this.counters.memoryOpens += 1;
        return createMemoryFile(path, await this.readFileUnder(path, attr), attr);
      }
    }
    return this.wrapFile(await this.inner.open(path, flags, mode));
  }

  // ---- mutations -------------------------------------------------------------------------------------

  async mkdir(rawPath: string, mode: number): Promise<void> {
    const path = normalizePath(rawPath);
    await this.mutate([path, parentOf(path)], [], () => this.inner.mkdir(path, mode), () => this.meta.nameAdded(path), [path]);
  }

  async rmdir(rawPath: string): Promise<void> {
    const path = normalizePath(rawPath);
    await this.mutate([path, parentOf(path)], [path], () => this.inner.rmdir(path), () => {
      this.meta.nameRemoved(path, true);
      this.data.dropSubtree(path);
    }, [path]);
  }

  async unlink(rawPath: string): Promise<void> {
    const path = normalizePath(rawPath);
    await this.mutate([path, parentOf(path)], [], () => this.inner.unlink(path), () => {
      this.meta.nameRemoved(path, false);
      this.data.delete(path);
    }, [path]);
  }

  async rename(rawFrom: string, rawTo: string): Promise<void> {
    const from = normalizePath(rawFrom);
    const to = normalizePath(rawTo);
    // A file can only replace a file, so when `from` is known not to be a directory neither side has a
    // subtree and we skip the scan of every cached key.
    const subtrees = !this.meta.knownNotDirectory(from);
    await this.mutate([from, to, parentOf(from), parentOf(to)], subtrees ? [from, to] : [], () => this.inner.rename(from, to), () => {
      this.meta.nameRemoved(from, subtrees);
      this.meta.nameRemoved(to, subtrees);
      this.meta.nameAdded(to);
      if (subtrees) {
        this.data.dropSubtree(from);
        this.data.dropSubtree(to);
      } else {
        this.data.delete(from);
        this.data.delete(to);
      }
    }, [from, to]);
  }

  async symlink(target: string, rawPath: string): Promise<void> {
    const path = normalizePath(rawPath);
    await this.mutate([path, parentOf(path)], [], () => this.inner.symlink(target, path), () => this.meta.nameAdded(path), [path]);
  }

  async link(rawExisting: string, rawPath: string): Promise<void> {
    const existing = normalizePath(rawExisting);
    const path = normalizePath(rawPath);
    await this.mutate([existing, path, parentOf(path)], [], () => this.inner.link(existing, path), () => {
      this.meta.nameAdded(path);
      this.meta.invalidateAttr(existing); // nlink changed
    }, [path, existing]);
  }

  async setattr(rawPath: string, attrs: SetAttr): Promise<void> {
    const path = normalizePath(rawPath);
    await this.mutate([path], [], () => this.inner.setattr(path, attrs), () => {
      this.meta.invalidateAttr(path);
      if (attrs.size !== undefined || attrs.mtimeMs !== undefined) this.data.delete(path);
    }, [path]);
  }

  // ---- control -------------------------------------------------------------------------------------

  /**
   * The control handed beside this file system. Its functions do the work in place rather than call a method
   * of the same name: `hasFreshListing` is asked twice on every lookup through fs/prefetch, and a lookup
   * answered from the cache costs no more calls than it did when these were methods of the file system.
   */
  private controlObject(): CacheControl {
    return Object.freeze({
      options: this.options,
      refresh: (rawPath?: string): void => {
        const path = normalizePath(rawPath ?? '/');
        this.gens.touchTree(path);
        if (this.meta.lastKnownNotDirectory(path)) {
          // A known file (what a remote watcher reports, many at a time): forget it and mark it for re-stat in
          // its parent's listing; the listing's names stay valid and no scan of every cached key is needed.
          this.meta.forget(path);
          this.meta.invalidateAttr(path);
          this.data.delete(path);
          return;
        }
        this.meta.dropSubtree(path);
        this.data.dropSubtree(path);
        if (path !== '/') {
          // The parent's listing may not know a name created on the server: forget it too.
          this.meta.dropListing(parentOf(path));
          this.meta.invalidateAttr(path);
        }
      },
      stats: (): Readonly<Record<string, number>> => Object.freeze({
        ...this.counters,
        entries: this.meta.entries,
        dataEntries: this.data.entries,
        dataBytes: this.data.bytes,
      }),
      onChange: (listener: ChangeListener): (() => void) => this.listeners.add(listener),
      generation: (): number => this.gens.current(),
      prime: (rawDir: string, entries: readonly DirEntry[], startedAt: number): void => {
        const dir = normalizePath(rawDir);
        if (!this.storable(dir, startedAt)) return;
        this.storeListing(dir, entries, startedAt);
      },
      hasFreshListing: (dir: string): boolean => this.meta.freshListing(normalizePath(dir)) !== undefined,
      listingFreshForMs: (dir: string): number => {
        const listing = this.meta.freshListing(normalizePath(dir));
        return listing && listing.dirty.size === 0 ? Math.max(0, listing.expires - this.options.now()) : 0;
      },
      listedFiles: (root: string, maxBytes: number): ListedFile[] => this.meta.filesWithin(normalizePath(root), maxBytes),
      primeData: (rawPath: string, expected: { readonly size: number; readonly mtimeMs: number }, data: Buffer, startedAt: number): boolean => {
        const path = normalizePath(rawPath);
        if (!this.storable(path, startedAt)) return false;
        const known = this.meta.lookupLstat(path);
        if (known.kind !== 'hit' || !isRegular(known.attr.mode)) return false;
        if (known.attr.size !== expected.size || known.attr.mtimeMs !== expected.mtimeMs || data.length !== expected.size) return false;
        this.storeData(path, known.attr, data);
        return true;
      },
      freshEntry: (path: string): FreshEntry | undefined => this.freshEntry(path),
      mirror: (mirror: CacheMirror): (() => void) => {
        this.mirrors.add(mirror);
        return () => {
          this.mirrors.delete(mirror);
        };
      },
    });
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  // ---- internals -------------------------------------------------------------------------------------

  private freshEntry(rawPath: string): FreshEntry | undefined {
    const path = normalizePath(rawPath);
    const fresh = this.meta.freshLstat(path);
    if (!fresh) return undefined;
    const freshForMs = fresh.expires - this.options.now();
    if (freshForMs <= 0) return undefined;
    return this.freshOf(path, fresh.attr, freshForMs);
  }

  private storeListing(dir: string, entries: readonly DirEntry[], startedAt: number): void {
    this.meta.storeListing(dir, entries, (child) => !this.gens.unchangedSince(child, startedAt));
    if (this.mirrors.size === 0) return;
    const freshForMs = this.options.dirTimeoutMs;
    for (const { name, attr } of entries) {
      const path = childOf(dir, name);
      // Not the names that moved while the READDIR was in flight: the listing marked them for re-stat.
      if (!this.gens.unchangedSince(path, startedAt)) continue;
      const fresh = this.freshOf(path, attr, freshForMs);
      for (const mirror of this.mirrors) mirror.stored(path, fresh);
    }
  }

  private storeData(path: string, attr: Attr, bytes: Buffer): void {
    this.data.set(path, attr, bytes);
    if (this.mirrors.size === 0) return;
    const fresh = this.freshEntry(path);
    if (fresh) for (const mirror of this.mirrors) mirror.stored(path, fresh);
  }

  /** `attr` for `freshForMs` more, with the cached content when an open may be answered from it. */
  private freshOf(path: string, attr: Attr, freshForMs: number): FreshEntry {
    const content = this.smallFileContent(path, attr);
    return content ? { attr, freshForMs, content } : { attr, freshForMs };
  }

  /**
   * The cached whole content of a small regular file with these attributes, if any. Never with auto_cache:
   * there every open asks the server first (revalidate), so no copy may answer an open without us.
   */
  private smallFileContent(path: string, attr: Attr): Buffer | undefined {
    if (this.options.autoCache || !this.isSmallFile(attr)) return undefined;
    return this.data.peek(path, attr);
  }

  /** A regular file a read-only open reads whole into memory (and the fast-files table may then answer). */
  private isSmallFile(attr: Attr): boolean {
    return isRegular(attr.mode) && attr.size <= this.options.smallFileBytes && attr.size <= this.data.maxFileBytes;
  }

  private storable(path: string, startedAt: number): boolean {
    if (this.gens.unchangedSince(path, startedAt)) return true;
    this.counters.racesRefused += 1;
    return false;
  }

  private shared<T>(key: string, path: string, run: (startedAt: number) => Promise<T>): Promise<T> {
    const existing = this.pending.get(key);
    if (existing && this.gens.unchangedSince(path, existing.startedAt)) {
      this.counters.sharedLookups += 1;
      return existing.promise as Promise<T>;
    }
    const startedAt = this.gens.current();
    const promise = run(startedAt).finally(() => {
      if (this.pending.get(key)?.promise === promise) this.pending.delete(key);
    });
    this.pending.set(key, { startedAt, promise });
    return promise;
  }

  /** Turns a cached listing into entries; names changed through this mount are re-stat'ed (in parallel). */
  private async materialize(dir: string, listing: Listing): Promise<DirEntry[]> {
    const names = [...listing.attrs.keys()];
    const attrs = await Promise.all(names.map(async (name): Promise<Attr | null> => {
      const known = listing.attrs.get(name);
      if (known && !listing.dirty.has(name)) return known;
      try {
        return await this.lstat(childOf(dir, name));
      } catch (err) {
        if (isFsError(err, 'ENOENT')) return null; // removed meanwhile: not listed
        throw err;
      }
    }));
    const entries: DirEntry[] = [];
    names.forEach((name, i) => {
      const attr = attrs[i];
      if (attr) entries.push({ name, attr });
    });
    return entries;
  }

  private async readFileUnder(path: string, attr: Attr): Promise<Buffer> {
    if (isDir(attr.mode)) throw new FsError('EISDIR', undefined, path);
    const cached = this.data.get(path, attr);
    if (cached) {
      this.counters.dataHits += 1;
      return cached;
    }
    this.counters.dataMisses += 1;
    // Many requests for one page at once (a dev server under load) share one download.
    return this.shared(`readFile:${path}`, path, async (startedAt) => {
      const bytes = await this.inner.readFile(path, attr.size);
      if (this.storable(path, startedAt)) this.storeData(path, attr, bytes);
      return bytes;
    });
  }

  /** auto_cache: ask the server; cached bytes that the reply contradicts were changed there. */
  private async revalidate(path: string): Promise<Attr> {
    const startedAt = this.gens.current();
    const attr = await this.inner.stat(path);
    if (this.storable(path, startedAt)) {
      if (this.data.contradicts(path, attr)) {
        this.data.delete(path);
        this.counters.remoteChanges += 1;
        this.listeners.emit({ path, kind: 'modify', origin: 'remote' });
      }
      // A plain file's lstat is this stat: one that moved is dropped too, or getattr would keep the old size and
      // the kernel would cut reads of the new content to it.
      const known = this.meta.lookupLstat(path);
      if (known.kind === 'hit' && !isSymlink(known.attr.mode) && (known.attr.size !== attr.size || known.attr.mtimeMs !== attr.mtimeMs)) {
        this.meta.invalidateAttr(path);
      }
      this.meta.storeStat(path, attr);
    }
    return attr;
  }

  /**
   * Runs a mutation. The paths are marked before (a reply already in flight must not be stored) and after
   * (nor one that started while the mutation was in flight). On failure we cannot know what landed, so the
   * `uncertain` paths and their parents' listings are forgotten instead of patched.
   */
  private async mutate<T>(exact: readonly string[], trees: readonly string[], op: () => Promise<T>, onSuccess: () => void, uncertain: readonly string[]): Promise<T> {
    const mark = (): void => {
      for (const path of exact) this.gens.touch(path);
      for (const path of trees) this.gens.touchTree(path);
    };
    mark();
    try {
      const result = await op();
      onSuccess();
      return result;
    } catch (err) {
      for (const path of uncertain) {
        this.meta.forgetUncertain(path);
        this.data.delete(path);
      }
      throw err;
    } finally {
      mark();
    }
  }

  /** Writes and truncates through an open file change its size and mtime: same rules as setattr. */
  private wrapFile(file: RemoteFile): RemoteFile {
    const changed = async (op: () => Promise<void>): Promise<void> => {
      const path = normalizePath(file.path);
      await this.mutate([path], [], op, () => {
        this.meta.invalidateAttr(path);
        this.data.delete(path);
      }, [path]);
    };
    return Object.freeze({
      path: file.path,
      read: (position: number, length: number) => file.read(position, length),
      readInto: (position: number, target: Buffer) => file.readInto(position, target),
      write: (data: Buffer, position: number) => changed(() => file.write(data, position)),
      ftruncate: (size: number) => changed(() => file.ftruncate(size)),
      fstat: () => file.fstat(),
      fsync: () => file.fsync(),
      close: () => file.close(),
    });
  }
}

/** `cache=no`: the file system is a pass-through (ForwardingRemoteFs); nothing is cached, so nothing to control. */
function noCacheControl(options: CacheOptions): CacheControl {
  return Object.freeze({
    options,
    refresh: (): void => undefined,
    stats: (): Readonly<Record<string, number>> => Object.freeze({}),
    onChange: (): (() => void) => () => undefined,
    generation: (): number => 0,
    prime: (): void => undefined,
    hasFreshListing: (): boolean => false,
    listingFreshForMs: (): number => 0,
    listedFiles: (): ListedFile[] => [],
    primeData: (): boolean => false,
    freshEntry: (): undefined => undefined,
    mirror: (): (() => void) => () => undefined,
  });
}
