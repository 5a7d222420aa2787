/**
 * The persistent cache as a decorator over the in-memory cache (`withDiskCache(cache, store)` returns a
 * CacheLayer of the same shape — its control is the one below with `refresh` dropping records and the disk
 * counters in `stats` — plus the disk's own control object, DiskCacheControl): contents the memory cache holds are kept
 * on disk (store.ts), so a second run of the same remote — a `serve` restarted, a remount after a reboot —
 * reads them from local disk instead of the network.
 *
 * What goes to disk: every small file's whole content the memory cache stores, from an SFTP read or a tar
 * stream; this layer registers as a CacheMirror, the interface the memory cache tells of each content it
 * stores, so no content path of the layers below is missed.
 *
 * When it is used: a read-only open (or whole-file read) of a file the memory cache does not hold, when the
 * attributes the memory cache has for it now (from the bulk listing at start, a READDIR or a stat) have the
 * size and mtime the content was stored under. The bytes are handed to the memory cache (primeData), which then
 * answers the open as if it had read them itself. A file whose attributes changed on the server is therefore
 * never served from disk: its record is dropped instead. At start, `reconcile` does the same for every record
 * at once after the start listing, loading the most recently used into memory.
 *
 * While the server is unreachable (connection state not 'connected'), getattr and read-only opens of files on
 * disk are answered from it with the attributes stored, so cached pages stay readable; everything else fails as
 * it would without this layer.
 */
import { WorkQueue } from '../../bulk/work-queue.js';
import { isPlainRead, isRegular } from '../../posix.js';
import { ForwardingRemoteFs } from '../forwarding-remote-fs.js';
import type { CacheControl, CacheLayer } from '../layer.js';
import { createMemoryFile } from '../memory-file.js';
import { normalizePath } from '../../paths.js';
import type { RemoteFile, SetAttr } from '../../remote/types.js';
import type { CacheMirror } from '../mirror.js';
import type { Attr } from '../../types.js';
import { attrOfRecord, type DiskCacheLogger, type DiskStore } from './store.js';

export interface DiskCacheInputs {
  /** True while the server cannot be reached (the SFTP pool is not connected): answer from disk. */
  readonly isOffline: () => boolean;
  readonly log: DiskCacheLogger;
  /**
   * Resolves when the foreground is quiet enough for a background write (fs/foreground.ts); each store waits for
   * it before it is written. Without it, stores are written at once.
   */
  readonly whenQuiet?: () => Promise<void>;
}

export interface ReconcileResult {
  /** Records whose attributes the fresh listing confirms. */
  readonly valid: number;
  /** Records dropped because the file changed or is gone. */
  readonly dropped: number;
  /** Of the valid ones, loaded into the memory cache. */
  readonly loaded: number;
  readonly loadedBytes: number;
}

/** Control of the disk layer, apart from the file system interface. */
export interface DiskCacheControl {
  /**
   * The files the cache held when this run started, in their order of use (least recent first, then in the order
   * of their first read-only open through this layer in that run). Opens the FUSE fast-files table answers
   * without JavaScript are not seen, so this is an order of use, not a record of every open.
   */
  readonly learnedOrder: readonly string[];
  /**
   * Compares every record with the attributes the memory cache holds fresh (call it after the start listing):
   * drops the contradicted ones, loads valid ones into memory, most recently used first, up to `budgetBytes`.
   * Records of paths the memory cache knows nothing fresh about are kept untouched (checked when used).
   */
  reconcile(budgetBytes: number): Promise<ReconcileResult>;
  /** Whether the disk holds `path` under the attributes the memory cache has fresh for it (it need not be fetched). */
  holds(path: string): boolean;
  stats(): Readonly<Record<string, number>>;
}

/** Disk reads in flight while loading at start. */
const LOAD_CONCURRENCY = 16;
/**
 * Stores written to disk at once. One: the writes are background work, and most of their cost is the kernel's
 * (a file created and renamed per store, ~300 µs of CPU each on the 2-core VMs measured). After a cold
 * `git status` a tar stream's 10,000 files were written 4 at a time for 1.5 s, taking more than a core from
 * the `git status` that came next; one at a time leaves a core to the foreground for twice as long, and each
 * waits until the foreground is quiet (DiskCacheInputs.whenQuiet) to leave it both.
 */
const WRITE_CONCURRENCY = 1;
/**
 * Content bytes waiting to be written, at most. A tar stream brings thousands of files in a second; writing them
 * all at once held a copy of each in memory (the mount's peak RSS went from 170 to 300 MB during a cold
 * `git status`). Past the bound a store is skipped: the disk cache is best effort, the file is fetched next time.
 */
const MAX_PENDING_WRITE_BYTES = 16 * 1024 * 1024;

function sameContent(a: { size: number; mtimeMs: number }, b: { size: number; mtimeMs: number }): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** The disk layer, and beside it the disk's own control. */
export interface DiskCacheLayer extends CacheLayer {
  readonly disk: DiskCacheControl;
}

export function withDiskCache(cache: CacheLayer, store: DiskStore, inputs: DiskCacheInputs): DiskCacheLayer {
  return DiskCachedRemoteFs.layer(cache, store, inputs);
}

class DiskCachedRemoteFs extends ForwardingRemoteFs {
  private readonly counters = { diskHits: 0, diskStores: 0, diskDropped: 0, diskOfflineAnswers: 0, diskWriteErrors: 0, diskStoresSkipped: 0 };
  /** Stores waiting for a write slot, the slots taken and the bytes they hold (persist / pumpWrites). */
  private readonly waitingWrites: Array<() => Promise<void>> = [];
  private writesInFlight = 0;
  private pendingWriteBytes = 0;
  /** Paths used this run: a path's place in the order of use is set by its first use (not every open). */
  private readonly usedThisRun = new Set<string>();
  private readonly stopMirror: () => void;
  /** Stores still writing (close waits for them). */
  private readonly writing = new Set<Promise<void>>();
  /** Resolved when close starts: stores no longer wait for a quiet foreground. */
  private readonly closing: Promise<void>;
  private startClosing: () => void = () => undefined;
  /** The control of the caches below (the memory cache's, through fs/prefetch). */
  private readonly cache: CacheControl;
  /** This layer's CacheLayer control: the one below, with `refresh` and `stats` of its own. */
  private readonly control: CacheControl;
  private readonly disk: DiskCacheControl;

  constructor(
    below: CacheLayer,
    private readonly store: DiskStore,
    private readonly inputs: DiskCacheInputs,
  ) {
    super(below.fs);
    this.closing = new Promise<void>((resolve) => {
      this.startClosing = resolve;
    });
    const cache = below.control;
    this.cache = cache;
    const mirror: CacheMirror = {
      // A record is checked against the current attributes whenever it is used.
      forget: () => undefined,
      forgetSubtree: () => undefined,
      stored: (path, fresh) => {
        if (fresh.content) this.persist(path, fresh.attr, fresh.content);
      },
    };
    this.stopMirror = cache.mirror(mirror);
    this.control = Object.freeze({
      ...cache,
      refresh: (path?: string) => this.refresh(path),
      stats: () => Object.freeze({ ...cache.stats(), ...this.diskStats() }),
    });
    this.disk = Object.freeze({
      learnedOrder: store.previousOrder,
      reconcile: (budgetBytes: number) => this.reconcile(budgetBytes),
      holds: (path: string) => this.holds(path),
      stats: () => this.diskStats(),
    });
  }

  /** The file system and its two controls: the class's public members are the RemoteFs ones only. */
  static layer(below: CacheLayer, store: DiskStore, inputs: DiskCacheInputs): DiskCacheLayer {
    const fs = new DiskCachedRemoteFs(below, store, inputs);
    return Object.freeze({ fs, control: fs.control, disk: fs.disk });
  }

  // ---- reads: from disk when the memory cache lacks the content ------------------------------------------

  override async lstat(rawPath: string): Promise<Attr> {
    return this.offlineAttr(rawPath) ?? this.inner.lstat(rawPath);
  }

  override async stat(rawPath: string): Promise<Attr> {
    return this.offlineAttr(rawPath) ?? this.inner.stat(rawPath);
  }

  private async openForReading(path: string, flags: number, mode?: number): Promise<RemoteFile> {
    const offline = await this.offlineFile(path);
    if (offline) return createMemoryFile(path, offline.data, offline.attr);
    await this.loadFromDisk(path);
    const file = await this.inner.open(path, flags, mode);
    this.noteUse(path);
    return file;
  }

  override async readFile(rawPath: string): Promise<Buffer> {
    const path = normalizePath(rawPath);
    const offline = await this.offlineFile(path);
    if (offline) return offline.data;
    await this.loadFromDisk(path);
    const data = await this.inner.readFile(path);
    this.noteUse(path);
    return data;
  }

  // ---- changes: the records they touch are dropped ---------------------------------------------------------
  // Size and mtime (whole seconds over SFTP) cannot tell two writes of the same size within one second apart; the
  // memory cache drops its copy on every change it hears of, and so must this layer, or it would hand the old
  // bytes back to it.

  override async open(rawPath: string, flags: number, mode?: number): Promise<RemoteFile> {
    if (isPlainRead(flags)) return this.openForReading(normalizePath(rawPath), flags, mode);
    this.store.drop(normalizePath(rawPath));
    return this.inner.open(rawPath, flags, mode);
  }

  override async setattr(path: string, attrs: SetAttr): Promise<void> {
    this.store.drop(normalizePath(path));
    await this.inner.setattr(path, attrs);
  }

  override async unlink(path: string): Promise<void> {
    this.store.drop(normalizePath(path));
    await this.inner.unlink(path);
  }

  override async rmdir(path: string): Promise<void> {
    this.store.dropWithin(normalizePath(path));
    await this.inner.rmdir(path);
  }

  override async rename(from: string, to: string): Promise<void> {
    this.store.dropWithin(normalizePath(from));
    this.store.dropWithin(normalizePath(to));
    await this.inner.rename(from, to);
  }

  /**
   * A change reported for `path` (the remote watcher, `devmount refresh`). The whole tree ('/', as after a
   * watcher's restart) keeps its records: they are checked against the next attributes as at start.
   */
  private refresh(path?: string): void {
    const normal = normalizePath(path ?? '/');
    if (normal !== '/') this.store.dropWithin(normal);
    this.cache.refresh(path);
  }

  override async close(): Promise<void> {
    this.startClosing();
    // The layers below first: a tar stream still running ends before they close, and what it brings is kept.
    try {
      await super.close();
    } finally {
      this.stopMirror();
      await Promise.allSettled([...this.writing]);
      await this.store.close().catch((err: unknown) => {
        this.inputs.log.warn({ dir: this.store.dir, err: (err as Error).message }, 'disk cache index not written');
      });
    }
  }

  // ---- internals -----------------------------------------------------------------------------------------

  private diskStats(): Readonly<Record<string, number>> {
    return Object.freeze({ ...this.counters, diskEntries: this.store.size, diskBytes: this.store.bytes });
  }

  /** Offline: the attributes stored with a file's content, unless the memory cache still answers by itself. */
  private offlineAttr(rawPath: string): Attr | undefined {
    if (!this.inputs.isOffline()) return undefined;
    const path = normalizePath(rawPath);
    if (this.cache.freshEntry(path)) return undefined;
    const record = this.store.peek(path);
    if (!record) return undefined;
    this.counters.diskOfflineAnswers += 1;
    return attrOfRecord(record);
  }

  /** Offline: a file's stored content and attributes, unless the memory cache holds it (it answers then). */
  private async offlineFile(path: string): Promise<{ data: Buffer; attr: Attr } | undefined> {
    if (!this.inputs.isOffline() || this.cache.freshEntry(path)?.content) return undefined;
    const record = this.store.peek(path);
    if (!record) return undefined;
    const data = await this.store.read(path, record);
    if (!data) return undefined;
    this.counters.diskOfflineAnswers += 1;
    return { data, attr: attrOfRecord(record) };
  }

  /**
   * Hands the stored content of `path` to the memory cache when the attributes it holds match the record;
   * drops the record when they contradict it. Costs a round trip only when the memory cache has no fresh
   * attributes (the lstat the open would make anyway).
   */
  private async loadFromDisk(path: string): Promise<void> {
    const record = this.store.peek(path);
    if (!record) return;
    const fresh = this.cache.freshEntry(path);
    if (fresh?.content) return;
    const startedAt = this.cache.generation();
    let attr = fresh?.attr;
    if (!attr) {
      try {
        attr = await this.inner.lstat(path);
      } catch {
        return; // the open reports what is wrong (missing, unreachable …) on its own
      }
    }
    if (!isRegular(attr.mode) || !sameContent(attr, record)) {
      this.counters.diskDropped += 1;
      this.store.drop(path);
      return;
    }
    const data = await this.readStored(path, attr);
    if (data && this.cache.primeData(path, attr, data, startedAt)) this.counters.diskHits += 1;
  }

  private holds(path: string): boolean {
    const record = this.store.peek(path);
    const fresh = record ? this.cache.freshEntry(path) : undefined;
    return record !== undefined && fresh !== undefined && isRegular(fresh.attr.mode) && sameContent(fresh.attr, record);
  }

  private async reconcile(budgetBytes: number): Promise<ReconcileResult> {
    let valid = 0;
    let dropped = 0;
    let loaded = 0;
    let loadedBytes = 0;
    const startedAt = this.cache.generation();
    const toLoad: Array<{ path: string; attr: Attr }> = [];
    for (const [path, record] of [...this.store.records()].reverse()) {
      const fresh = this.cache.freshEntry(path);
      if (!fresh) continue;
      if (!isRegular(fresh.attr.mode) || !sameContent(fresh.attr, record)) {
        dropped += 1;
        this.store.drop(path);
        continue;
      }
      valid += 1;
      if (fresh.content || loadedBytes + record.size > budgetBytes) continue;
      loadedBytes += record.size;
      toLoad.push({ path, attr: fresh.attr });
    }
    const queue = new WorkQueue(LOAD_CONCURRENCY);
    for (const { path, attr } of toLoad) {
      queue.add(async () => {
        const data = await this.readStored(path, attr);
        if (data && this.cache.primeData(path, attr, data, startedAt)) loaded += 1;
      });
    }
    await queue.drain();
    this.counters.diskDropped += dropped;
    this.counters.diskHits += loaded;
    return Object.freeze({ valid, dropped, loaded, loadedBytes });
  }

  /** The stored bytes, or undefined; a disk that fails to read is logged and treated as a miss. */
  private async readStored(path: string, attr: Attr): Promise<Buffer | undefined> {
    try {
      return await this.store.read(path, attr);
    } catch (err) {
      this.inputs.log.warn({ path, err: (err as Error).message }, 'disk cache read failed; fetching from the server');
      return undefined;
    }
  }

  private noteUse(path: string): void {
    if (this.usedThisRun.has(path)) return;
    this.usedThisRun.add(path);
    this.store.touch(path);
  }

  /** Writes `data` to disk in the background; a write that fails (disk full, read-only) costs one log line. */
  private persist(path: string, attr: Attr, data: Buffer): void {
    const known = this.store.peek(path);
    if (known && sameContent(known, attr)) return;
    if (this.pendingWriteBytes + data.length > MAX_PENDING_WRITE_BYTES) {
      this.counters.diskStoresSkipped += 1;
      return;
    }
    this.pendingWriteBytes += data.length;
    const writing: Promise<void> = new Promise<void>((resolve) => {
      this.waitingWrites.push(() => this.quietForeground().then(() => this.store.put(path, attr, data)).then(() => {
        this.counters.diskStores += 1;
      }, (err: unknown) => {
        this.counters.diskWriteErrors += 1;
        if (this.counters.diskWriteErrors === 1) this.inputs.log.warn({ dir: this.store.dir, err: (err as Error).message }, 'disk cache write failed; going on without storing');
      }).finally(() => {
        this.pendingWriteBytes -= data.length;
        resolve();
      }));
      this.pumpWrites();
    }).finally(() => { this.writing.delete(writing); });
    this.writing.add(writing);
  }

  /** Resolves when a background write may start: the foreground is quiet, or this layer is closing. */
  private quietForeground(): Promise<void> {
    const whenQuiet = this.inputs.whenQuiet;
    return whenQuiet ? Promise.race([whenQuiet(), this.closing]) : Promise.resolve();
  }

  /** Starts waiting stores while a write slot is free. */
  private pumpWrites(): void {
    while (this.writesInFlight < WRITE_CONCURRENCY) {
      const next = this.waitingWrites.shift();
      if (next === undefined) return;
      this.writesInFlight += 1;
      void next().finally(() => {
        this.writesInFlight -= 1;
        this.pumpWrites();
      });
    }
  }
}
