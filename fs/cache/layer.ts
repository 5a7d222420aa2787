/**
 * The shape of every cache layer (sshfs cache.c `cache_wrap`: the wrapper is an operations table of the same
 * shape as the one it wraps). A layer is a RemoteFs exactly like what it wraps — the VFS and the next layer up
 * call nothing else on it — and, handed beside it, its control: what the stack's owner, the VFS and the
 * prefetcher ask of the caches besides file operations. A decorator takes a CacheLayer and returns one, so
 * the layers stack in any order and each states only what it changes (docs/architecture.md, "Cache layers").
 */
import type { ClosableRemoteFs } from '../remote/types.js';
import type { ChangeListener, DirEntry } from '../types.js';
import type { CacheMirror, FreshEntry } from './mirror.js';
import type { ListedFile } from './metadata-cache.js';
import type { CacheOptions } from './options.js';

export type { ListedFile } from './metadata-cache.js';

/**
 * Control of the caches below a layer's file system. A plain frozen object of functions: a decorator that
 * changes a member builds its own with `{ ...below, member }`, sharing the rest (nothing is forwarded).
 */
export interface CacheControl {
  /** The memory cache's resolved options (`enabled: false` is `-o cache=no`). */
  readonly options: CacheOptions;
  /** Drops cached state at and below `path`, or everything (`devmount refresh`, remote watchers). */
  refresh(path?: string): void;
  /** Counters: hits, misses, entries, bytes… of every layer. */
  stats(): Readonly<Record<string, number>>;
  /** Changes noticed on the server when a fresh reply contradicts an expired entry (origin 'remote'). */
  onChange(listener: ChangeListener): () => void;
  /** The generation to remember before a bulk listing or fetch starts (pass it to `prime`/`primeData`). */
  generation(): number;
  /** Stores a listing fetched elsewhere (fs/bulk) unless a mutation touched `dir` since `startedAt`. */
  prime(dir: string, entries: readonly DirEntry[], startedAt: number): void;
  /** True while a listing of `dir` is cached and fresh (lookups of its names then cost no round trip; fs/prefetch). */
  hasFreshListing(dir: string): boolean;
  /**
   * How long the cached listing of `dir` stays fresh, in ms; 0 when there is none or a name in it changed through
   * this mount since it was read (readdir re-stats those): then a copy of readdir's answer may not be kept.
   */
  listingFreshForMs(dir: string): number;
  /**
   * Regular files of at most `maxBytes` below `root` that fresh cached listings name, with their listed size
   * and mtime, paths relative to `root` (fs/prefetch picks the files of one tar stream from them).
   */
  listedFiles(root: string, maxBytes: number): ListedFile[];
  /**
   * Stores file contents fetched elsewhere (fs/prefetch: many small files in one tar stream; fs/cache/disk) when
   * the cached attributes still say this size and mtime and no mutation touched the path since `startedAt`.
   */
  primeData(path: string, expected: { readonly size: number; readonly mtimeMs: number }, data: Buffer, startedAt: number): boolean;
  /** Fresh cached attributes of `path`, how long they stay fresh, and its whole content when cached. */
  freshEntry(path: string): FreshEntry | undefined;
  /** Registers a copy of cached answers, told of every change to them (CacheMirror); returns the unsubscriber. */
  mirror(mirror: CacheMirror): () => void;
}

/** One layer of the cache stack: its file system, and beside it the control of the caches it includes. */
export interface CacheLayer {
  readonly fs: ClosableRemoteFs;
  readonly control: CacheControl;
}
