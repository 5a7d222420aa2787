/**
 * A caching decorator over any FileSource (same shape in, same shape out, as sshfs's cache_wrap): stat,
 * realpath and small whole-file reads are answered from memory until the source's own watch() reports a
 * change under that path. A cache hit costs no fs call at all, which is what lets the dev server keep up with
 * nginx. Remote sources work the same way: their watch() is the invalidation feed.
 *
 * Race rule (sshfs cache.c `wrctr`): a result is stored only if no invalidation happened while it was being
 * fetched (`generation` unchanged), so a read racing an edit can never pin stale content.
 * Memory: whole files up to `maxFileBytes`, evicted oldest-first past `maxTotalBytes`.
 */
import type { Readable } from 'node:stream';
import type { FileSource, SourceChange, SourceEntry, SourceStat } from '../file-source.js';

export interface CacheOptions {
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
}

export const DEFAULT_CACHE_OPTIONS: CacheOptions = Object.freeze({ maxFileBytes: 1 << 20, maxTotalBytes: 64 << 20 });

export class CachedFileSource implements FileSource {
  readonly description: string;
  private readonly inner: FileSource;
  private readonly options: CacheOptions;
  // All four maps are keyed by site path and cleared together by invalidate(); JS is single-threaded, so the
  // only race is between an await and an invalidation, handled by `generation`.
  private readonly stats = new Map<string, SourceStat | null>();
  private readonly realpaths = new Map<string, string | null>();
  private readonly files = new Map<string, Buffer>();
  private readonly listings = new Map<string, SourceEntry[]>();
  /**
   * Paths reached through a symlink. A change is reported under the target's path, never the link's, so
   * aliases inside the root are forgotten on every change, and aliases leading outside the root (served with
   * --follow-symlinks; nobody watches there) are never cached at all.
   */
  private readonly aliases = new Set<string>();
  private readonly outside = new Set<string>();
  private fileBytes = 0;
  private generation = 0;
  private readonly unsubscribe: () => void;
  private readonly listeners = new Set<(changes: readonly SourceChange[]) => void>();

  constructor(inner: FileSource, options: CacheOptions = DEFAULT_CACHE_OPTIONS) {
    this.inner = inner;
    this.description = inner.description;
    this.options = Object.freeze({ ...options });
    this.unsubscribe = inner.watch((changes) => {
      this.invalidate(changes);
      for (const listener of this.listeners) listener(changes);
    });
  }

  /** Synchronous peek for the hot path: the cached stat, or undefined when not cached. */
  peekStat(path: string): SourceStat | null | undefined {
    return this.stats.get(path);
  }

  async stat(path: string): Promise<SourceStat | null> {
    const hit = this.stats.get(path);
    if (hit !== undefined) return hit;
    const gen = this.generation;
    const value = await this.inner.stat(path);
    if (gen === this.generation && !this.outside.has(path)) this.stats.set(path, value);
    return value;
  }

  /** Never cached: asked only for a 404's log line, and the answer must be about now. */
  lookupError(path: string): Promise<string | null> {
    return this.inner.lookupError?.(path) ?? Promise.resolve(null);
  }

  async realpath(path: string): Promise<string | null> {
    const hit = this.realpaths.get(path);
    if (hit !== undefined) return hit;
    const gen = this.generation;
    const value = await this.inner.realpath(path);
    if (gen !== this.generation) return value;
    this.realpaths.set(path, value);
    const plain = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    if (value === null) {
      this.outside.add(path);
      this.forgetOne(path);
    } else if (value !== plain) {
      this.aliases.add(path);
    }
    return value;
  }

  async readFile(path: string): Promise<Buffer> {
    const hit = this.files.get(path);
    if (hit) return hit;
    const gen = this.generation;
    const data = await this.inner.readFile(path);
    if (gen === this.generation && data.length <= this.options.maxFileBytes && !this.outside.has(path)) this.store(path, data);
    return data;
  }

  /** The cached content when present (no promise, no fs call). */
  peekFile(path: string): Buffer | undefined {
    return this.files.get(path);
  }

  createReadStream(path: string, range?: { start: number; end: number }): Readable {
    return this.inner.createReadStream(path, range);
  }

  async readdir(path: string): Promise<SourceEntry[]> {
    const hit = this.listings.get(path);
    if (hit) return hit;
    const gen = this.generation;
    const value = await this.inner.readdir(path);
    if (gen === this.generation) this.listings.set(path, value);
    return value;
  }

  localPath(path: string): Promise<string | null> {
    return this.inner.localPath(path);
  }

  watch(listener: (changes: readonly SourceChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.listeners.clear();
    this.clearAll();
    await this.inner.close();
  }

  private store(path: string, data: Buffer): void {
    this.files.set(path, data);
    this.fileBytes += data.length;
    // Map iteration is insertion order: the first keys are the oldest.
    for (const [key, buf] of this.files) {
      if (this.fileBytes <= this.options.maxTotalBytes) break;
      this.files.delete(key);
      this.fileBytes -= buf.length;
    }
  }

  private invalidate(changes: readonly SourceChange[]): void {
    this.generation++;
    for (const change of changes) {
      if (change.kind === 'unknown' || change.path === '/') {
        this.clearAll();
        return;
      }
    }
    for (const change of changes) this.forgetTree(change.path);
    for (const alias of this.aliases) this.forgetOne(alias);
    this.aliases.clear();
    // A change may also turn a link that pointed outside into a plain file: ask again.
    for (const path of this.outside) this.realpaths.delete(path);
    this.outside.clear();
  }

  private forgetOne(path: string): void {
    this.stats.delete(path);
    this.realpaths.delete(path);
    const buf = this.files.get(path);
    if (buf) {
      this.files.delete(path);
      this.fileBytes -= buf.length;
    }
  }

  /** Drops the path, everything below it (it may have been a directory or a symlink) and its parent's listing. */
  private forgetTree(path: string): void {
    const prefix = `${path}/`;
    for (const map of [this.stats, this.realpaths, this.listings] as Map<string, unknown>[]) {
      for (const key of map.keys()) if (key === path || key.startsWith(prefix)) map.delete(key);
    }
    for (const [key, buf] of this.files) {
      if (key === path || key.startsWith(prefix)) {
        this.files.delete(key);
        this.fileBytes -= buf.length;
      }
    }
    const parent = path.slice(0, path.lastIndexOf('/')) || '/';
    this.listings.delete(parent);
    this.listings.delete(parent === '/' ? '/' : `${parent}/`);
  }

  private clearAll(): void {
    this.aliases.clear();
    this.outside.clear();
    this.stats.clear();
    this.realpaths.clear();
    this.files.clear();
    this.listings.clear();
    this.fileBytes = 0;
  }
}
