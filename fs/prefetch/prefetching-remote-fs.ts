/**
 * The prefetch as a decorator over the cache (the shape sshfs's cache.c gives its layers): a CachedRemoteFs
 * whose lookups and listings first wait for a bulk listing of their directory (prefetcher.ts), then ask the
 * cache, which by then answers from the primed listing. Everything else is forwarded unchanged, so
 * mutations keep the cache's own invalidation rules.
 */
import { constants } from 'node:fs';
import type { CachedRemoteFs } from '../cache/cached-remote-fs.js';
import { ForwardingCachedRemoteFs } from '../cache/forwarding-cached-remote-fs.js';
import { normalizePath, parentOf } from '../paths.js';
import { isPlainRead } from '../posix.js';
import type { RemoteFile } from '../remote/types.js';
import type { Attr, DirEntry } from '../types.js';
import type { PrefetchOptions } from './options.js';
import { createOperationTracer, type OperationContext } from '../trace.js';
import { Prefetcher, type PrefetchLogger, type PrefetchShell, type PrefetchStats } from './prefetcher.js';

export interface PrefetchingRemoteFs extends CachedRemoteFs {
  prefetchStats(): PrefetchStats;
  /** Resolves when no background listing is running. */
  prefetchIdle(): Promise<void>;
}

export interface PrefetchInputs {
  /** The exec side of the connection and the server path of '/'; omit on servers known to have no shell. */
  readonly shell?: PrefetchShell;
  readonly options?: Partial<PrefetchOptions>;
  readonly log?: PrefetchLogger;
  /** Who waits for a listing or a tar stream (fs/trace.ts); such waits are logged with it at debug level. */
  readonly operationContext?: OperationContext;
}

/** With the cache off (`cache=no`) nothing could hold a listing: the cache is returned unchanged. */
export function withPrefetch(cache: CachedRemoteFs, inputs: PrefetchInputs = {}): CachedRemoteFs {
  return withPrefetcher(cache, inputs).fs;
}

/** withPrefetch, with its Prefetcher as the control object (start-up prefetch, warm-start.ts); null with the cache off. */
export function withPrefetcher(cache: CachedRemoteFs, inputs: PrefetchInputs = {}): { fs: CachedRemoteFs; prefetcher: Prefetcher | null } {
  if (!cache.options.enabled) return { fs: cache, prefetcher: null };
  const tracer = inputs.log && inputs.operationContext ? createOperationTracer(inputs.operationContext, inputs.log) : undefined;
  const prefetcher = new Prefetcher(cache, inputs.shell, inputs.options, inputs.log, tracer);
  return { fs: new PrefetchingCache(cache, prefetcher), prefetcher };
}

/** Bound on the names made through the mount that lookups do not count (past it the set starts over). */
const MAX_MADE_HERE = 1024;

class PrefetchingCache extends ForwardingCachedRemoteFs implements PrefetchingRemoteFs {
  /** Names created through this mount: finding them again says nothing about a walk. */
  private readonly made = new Set<string>();

  constructor(
    cache: CachedRemoteFs,
    private readonly prefetcher: Prefetcher,
  ) {
    super(cache);
  }

  override async lstat(path: string): Promise<Attr> {
    return this.lookup(path, (p) => this.cache.lstat(p));
  }

  override async stat(path: string): Promise<Attr> {
    return this.lookup(path, (p) => this.cache.stat(p));
  }

  override async readdir(path: string): Promise<DirEntry[]> {
    await this.prefetcher.awaitListing(normalizePath(path), 'readdir');
    return this.cache.readdir(path);
  }

  override async readFile(path: string): Promise<Buffer> {
    // A whole-file read (the dev server's) is a read-only open too: the file may be on its way in a tar stream.
    await this.prefetcher.beforeRead(normalizePath(path));
    return this.cache.readFile(path);
  }
  override async open(path: string, flags: number, mode?: number): Promise<RemoteFile> {
    // O_RDONLY is 0 and nothing else set means a plain read: small files may be on their way in a tar stream.
    if (isPlainRead(flags)) {
      await this.prefetcher.beforeRead(normalizePath(path));
    }
    if (flags & constants.O_CREAT) this.madeHere(path);
    return this.cache.open(path, flags, mode);
  }
  override mkdir(path: string, mode: number): Promise<void> { this.madeHere(path); return this.cache.mkdir(path, mode); }
  override rename(from: string, to: string): Promise<void> { this.madeHere(to); return this.cache.rename(from, to); }
  override symlink(target: string, path: string): Promise<void> { this.madeHere(path); return this.cache.symlink(target, path); }
  override link(existing: string, path: string): Promise<void> { this.madeHere(path); return this.cache.link(existing, path); }

  override stats(): Readonly<Record<string, number>> {
    const p = this.prefetcher.stats();
    return Object.freeze({
      ...this.cache.stats(),
      prefetchJobs: p.jobs, prefetchTruncated: p.truncatedJobs, prefetchFailed: p.failedJobs,
      prefetchDirs: p.primedDirs, prefetchEntries: p.entries, prefetchFiles: p.files, prefetchFileBytes: p.fileBytes,
    });
  }

  prefetchStats(): PrefetchStats {
    return this.prefetcher.stats();
  }

  prefetchIdle(): Promise<void> {
    return this.prefetcher.idle();
  }

  override async close(): Promise<void> {
    this.prefetcher.close();
    // A listing still streaming would fail noisily on the closed connection: let it end first.
    await this.prefetcher.idle();
    await this.cache.close();
  }

  /**
   * A lookup that waits for a listing on its way, and tells the prefetcher of names found where nothing is
   * listed; not of names made through this mount (libfuse looks a file up right after creating it, and a
   * `cp` into the mount is not a walk).
   */
  private async lookup(rawPath: string, ask: (path: string) => Promise<Attr>): Promise<Attr> {
    const path = normalizePath(rawPath);
    if (path === '/') return ask(path);
    const dir = parentOf(path);
    await this.prefetcher.awaitListing(dir, 'lookup');
    const listed = this.cache.hasFreshListing(dir);
    const attr = await ask(path);
    if (!listed && !this.made.has(path)) this.prefetcher.noteFound(dir);
    return attr;
  }

  private madeHere(rawPath: string): void {
    if (this.made.size >= MAX_MADE_HERE) this.made.clear();
    this.made.add(normalizePath(rawPath));
  }
}
