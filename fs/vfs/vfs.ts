/**
 * The VFS: the async POSIX-like file system of fs/vfs/types.ts over a cache layer (fs/cache/layer.ts: a RemoteFs
 * and, beside it, the control of the caches; refresh, freshEntry, mirror, onChange and stats go to that). Adds what the
 * layers below do not have: a handle table of small integers, write-behind (write-behind.ts), read-ahead
 * (read-ahead.ts), sizes that include buffered writes, read-only mode and local change events. Used by the
 * FUSE adapter, by the dev server directly (readFile/getattr/readdir/onChange, no kernel round trip), and by
 * anything else that wants the remote tree.
 *
 * State (single JS thread): `handles` (fh → OpenHandle) and `byPath` (path → its open handles, to report
 * dirty sizes and to make reads through any handle see writes through another). Mutations of both are
 * synchronous.
 */
import { constants } from 'node:fs';
import { createCachedRemoteFs } from '../cache/cached-remote-fs.js';
import type { CacheControl, CacheLayer } from '../cache/layer.js';
import { baseName, isWithin, normalizePath, parentOf } from '../paths.js';
import { FsError } from '../errors.js';
import { opensReadOnly } from '../posix.js';
import type { ClosableRemoteFs, RemoteFile, RemoteFs } from '../remote/types.js';
import { ChangeEmitter } from '../change-emitter.js';
import { DirtyBudget } from './dirty-budget.js';
import { HandleTable } from './handle-table.js';
import { resolveVfsOptions, type VfsOptions, type VfsOverrides } from './options.js';
import { BufferPool } from './buffer-pool.js';
import { ReadAhead, type BufferLifetime } from './read-ahead.js';
import type { OpenFlags, Vfs, VfsStats } from './types.js';
import type { CacheMirror, FreshEntry } from '../cache/mirror.js';
import type { Attr, ChangeKind, ChangeListener, ConnectionState, DirEntry, StatFs } from '../types.js';
import { WriteBehind } from './write-behind.js';
import { HeldForgets } from './held-forgets.js';

/** Connection state and counters of the layer that talks to the server (the SFTP pool), for stats(). */
export interface VfsConnection {
  state?(): ConnectionState;
  stats?(): object;
}

/** What createVfs accepts: any RemoteFs, wrapped in the memory cache per options.cache. */
export type VfsRemote = RemoteFs & VfsConnection & { close?(): Promise<void> };

interface OpenHandle {
  path: string;
  file: RemoteFile;
  readonly flags: number;
  readonly writer: WriteBehind | null;
  reader: ReadAhead;
  /**
   * A read-only handle may be a snapshot in memory (small cached file, fs/cache/memory-file.ts). When the
   * file is written through another handle, it is re-opened before its next read, so every handle of this
   * VFS sees the new bytes as they would on a local file system.
   */
  stale: boolean;
  /** The re-open in progress, so concurrent reads wait for one re-open instead of racing it. */
  reopening: Promise<void> | null;
  /** Something changed the file through this handle: release() emits 'modify'. */
  changed: boolean;
}

/** NAME_MAX (limits.h), the namemax of every common Linux file system: longer names are refused before the server sees them. */
const NAME_MAX = 255;
/** chown(2): -1 means "leave unchanged"; FUSE passes it as an unsigned 32-bit number. */
const UNCHANGED_ID = 0xffff_ffff;

function assertNameFits(path: string): void {
  if (Buffer.byteLength(baseName(path)) > NAME_MAX) throw new FsError('ENAMETOOLONG', `name longer than ${NAME_MAX} bytes`, path);
}

function writable(flags: number): boolean {
  return !opensReadOnly(flags);
}

function numberField(source: object | undefined, key: string): number | undefined {
  const value = (source as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'number' ? value : undefined;
}

/** The VFS over `remote` with the memory cache (options.cache) between them; the mount stack uses createVfsOver. */
export function createVfs(remote: VfsRemote, overrides: VfsOverrides | VfsOptions = {}): Vfs {
  const options = resolveVfsOptions(overrides as VfsOverrides);
  return new RemoteVfs(createCachedRemoteFs(remote, options.cache), remote, options);
}

/**
 * The VFS over a cache stack built elsewhere (cli/mount-stack.ts): `cache` is its top layer, `connection` the
 * layer that talks to the server. `overrides.cache` is not used: the stack's caches have their options.
 */
export function createVfsOver(cache: CacheLayer, connection: VfsConnection, overrides: VfsOverrides | VfsOptions = {}): Vfs {
  return new RemoteVfs(cache, connection, resolveVfsOptions(overrides as VfsOverrides));
}

class RemoteVfs implements Vfs {
  private readonly handles = new HandleTable<OpenHandle>();
  private readonly byPath = new Map<string, Set<OpenHandle>>();
  private readonly changes = new ChangeEmitter();
  /** Copies of cached answers (CacheMirror): told here when a file is opened for writing, by the cache for the rest. */
  private readonly mirrors = new Set<CacheMirror>();
  /** Changes of files whose own writes are in flight, told to the copies once those have landed (held-forgets.ts). */
  private readonly held = new HeldForgets();
  private readonly budget: DirtyBudget;
  /** The file operations of the top cache layer. */
  private readonly remote: ClosableRemoteFs;
  /** The control of the caches under it. */
  private readonly cache: CacheControl;
  private readonly stopForwarding: () => void;
  private closed = false;
  private readonly counters = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, flushes: 0, writeErrors: 0 };
  /** Bytes prefetched and SFTP writes issued by handles already released (live handles are added in stats()). */
  private retired = { prefetchedBytes: 0, remoteWrites: 0 };
  /** Read-ahead buffers, reused across handles; idle ones bounded by two read-ahead windows. */
  private readonly readBuffers: BufferPool;
  /** Whole write-behind blocks for streams of writes; idle ones bounded by one handle's dirty bound. */
  private readonly writeBlocks: BufferPool;

  constructor(
    layer: CacheLayer,
    private readonly base: VfsConnection,
    private readonly options: VfsOptions,
  ) {
    this.remote = layer.fs;
    this.cache = layer.control;
    this.budget = new DirtyBudget(options.maxDirtyBytesTotal);
    // Twice the window: buffers come back a turn of the event loop after the segments that replace them are
    // taken, so a full window of free ones is in transit; with one window, a 256 MiB read took 70 fresh
    // 2 MiB buffers instead of reusing them (first touches of fresh memory are page faults).
    this.readBuffers = new BufferPool(2 * options.readAheadMaxBytes);
    this.writeBlocks = new BufferPool(options.maxDirtyBytesPerHandle);
    // Changes the cache notices on the server (a fresh reply contradicting an old one) go to our listeners too.
    this.stopForwarding = this.cache.onChange((event) => this.changes.emit(event));
  }

  // ---- metadata --------------------------------------------------------------------------------------

  async getattr(rawPath: string): Promise<Attr> {
    const path = normalizePath(rawPath);
    // The kernel looks a name up before creating it: a name no file system here can hold fails as path
    // resolution does (path_resolution(7)), not with the server's answer for it.
    if (path.length > NAME_MAX) assertNameFits(path);
    const attr = this.options.followSymlinks ? await this.remote.stat(path) : await this.remote.lstat(path);
    return this.withDirtySize(path, attr);
  }

  async readdir(rawPath: string): Promise<DirEntry[]> {
    const dir = normalizePath(rawPath);
    const entries = await this.remote.readdir(dir);
    if (this.byPath.size === 0) return entries;
    return entries.map((entry) => {
      const attr = this.withDirtySize(dir === '/' ? `/${entry.name}` : `${dir}/${entry.name}`, entry.attr);
      return attr === entry.attr ? entry : { name: entry.name, attr };
    });
  }

  readlink(rawPath: string): Promise<string> {
    return this.remote.readlink(normalizePath(rawPath));
  }

  statfs(rawPath: string): Promise<StatFs> {
    return this.remote.statfs(normalizePath(rawPath));
  }

  // ---- handles ---------------------------------------------------------------------------------------

  async open(rawPath: string, flags: OpenFlags): Promise<number> {
    const path = normalizePath(rawPath);
    if (writable(flags) || (flags & (constants.O_CREAT | constants.O_TRUNC)) !== 0) this.assertWritable(path);
    if (flags & constants.O_TRUNC) await this.settleDirty(path);
    const file = await this.remote.open(path, flags);
    const fh = this.register(path, flags, file);
    if (flags & constants.O_TRUNC) this.invalidateReaders(path);
    return fh;
  }

  async create(rawPath: string, mode: number, flags?: OpenFlags): Promise<number> {
    const path = this.newNamePath(rawPath);
    const openFlags = (flags ?? constants.O_RDWR | constants.O_TRUNC) | constants.O_CREAT;
    const file = await this.remote.open(path, openFlags, mode);
    const fh = this.register(path, openFlags, file);
    this.emit(path, 'create');
    return fh;
  }

  read(fh: number, position: number, length: number): Promise<Buffer> {
    return this.readVia(fh, position, length, 'owned');
  }

  readTransient(fh: number, position: number, length: number): Promise<Buffer> {
    return this.readVia(fh, position, length, 'transient');
  }

  private async readVia(fh: number, position: number, length: number, lifetime: BufferLifetime): Promise<Buffer> {
    const handle = this.handles.get(fh);
    // Reads see unflushed writes, through this handle or another one on the same file.
    await this.settleRange(handle.path, position, position + length);
    if (handle.stale && !handle.reopening) {
      handle.reopening = this.reopen(handle).finally(() => {
        handle.reopening = null;
      });
    }
    if (handle.reopening) await handle.reopening;
    const data = await handle.reader.read(position, length, lifetime);
    this.counters.reads += 1;
    this.counters.bytesRead += data.length;
    return data;
  }

  async write(fh: number, data: Buffer, position: number): Promise<number> {
    const handle = this.handles.get(fh);
    if (!handle.writer) throw new FsError(this.options.readOnly ? 'EROFS' : 'EBADF', 'file not open for writing', handle.path);
    this.invalidateReaders(handle.path);
    handle.changed = true;
    this.counters.writes += 1;
    this.counters.bytesWritten += data.length;
    try {
      await handle.writer.write(data, position);
    } catch (err) {
      this.counters.writeErrors += 1;
      throw err;
    }
    return data.length;
  }

  async flush(fh: number): Promise<void> {
    const handle = this.handles.get(fh);
    this.counters.flushes += 1;
    await handle.writer?.flush();
  }

  async fsync(fh: number): Promise<void> {
    const handle = this.handles.get(fh);
    await handle.writer?.flush();
    if (handle.writer) await handle.file.fsync();
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    const handle = this.handles.get(fh);
    if (!handle.writer) throw new FsError(this.options.readOnly ? 'EROFS' : 'EBADF', 'file not open for writing', handle.path);
    // Bytes written before the truncate must land before it, or they would re-extend the file afterwards.
    await handle.writer.flush();
    await this.settleDirty(handle.path);
    await handle.file.ftruncate(size);
    handle.changed = true;
    this.invalidateReaders(handle.path);
  }

  async release(fh: number): Promise<void> {
    const handle = this.handles.take(fh);
    let failure: unknown = null;
    if (handle.reopening) {
      try {
        await handle.reopening;
      } catch {
        // The read that started this re-open has already reported its error; we only close what is open.
      }
    }
    try {
      await handle.writer?.flush();
    } catch (err) {
      failure = err;
    }
    try {
      await handle.file.close();
    } catch (err) {
      failure ??= err;
    }
    this.unregister(handle);
    if (handle.changed) this.emit(handle.path, 'modify');
    if (failure !== null) throw failure;
  }

  async readFile(rawPath: string): Promise<Buffer> {
    const path = normalizePath(rawPath);
    await this.settleDirty(path);
    return this.remote.readFile(path);
  }

  // ---- namespace and attribute mutations -------------------------------------------------------------

  async mkdir(rawPath: string, mode: number): Promise<void> {
    const path = this.newNamePath(rawPath);
    await this.remote.mkdir(path, mode);
    this.emit(path, 'create');
  }

  async rmdir(rawPath: string): Promise<void> {
    const path = this.writablePath(rawPath);
    await this.remote.rmdir(path);
    this.emit(path, 'delete');
  }

  async unlink(rawPath: string): Promise<void> {
    const path = this.writablePath(rawPath);
    await this.remote.unlink(path);
    this.emit(path, 'delete');
  }

  async rename(rawFrom: string, rawTo: string): Promise<void> {
    const from = this.writablePath(rawFrom);
    const to = this.newNamePath(rawTo);
    await this.remote.rename(from, to);
    this.movePaths(from, to);
    // Held changes are filed under the old names, which no landing will release any more.
    this.held.releaseAll();
    this.emit(from, 'rename');
    this.emit(to, 'rename');
  }

  async symlink(target: string, rawPath: string): Promise<void> {
    const path = this.newNamePath(rawPath);
    await this.remote.symlink(target, path);
    this.emit(path, 'create');
  }

  async link(rawExisting: string, rawPath: string): Promise<void> {
    const existing = this.writablePath(rawExisting);
    const path = this.newNamePath(rawPath);
    await this.remote.link(existing, path);
    this.emit(path, 'create');
  }

  async chmod(rawPath: string, mode: number): Promise<void> {
    const path = this.writablePath(rawPath);
    await this.remote.setattr(path, { mode: mode & 0o7777 });
    this.emit(path, 'attr');
  }

  async chown(rawPath: string, uid: number, gid: number): Promise<void> {
    const path = this.writablePath(rawPath);
    const keep = (id: number): number | undefined => (id < 0 || id === UNCHANGED_ID ? undefined : id);
    await this.remote.setattr(path, { uid: keep(uid), gid: keep(gid) });
    this.emit(path, 'attr');
  }

  async utimens(rawPath: string, atimeMs: number, mtimeMs: number): Promise<void> {
    const path = this.writablePath(rawPath);
    await this.settleDirty(path); // a later write-behind block would move mtime again
    await this.remote.setattr(path, { atimeMs, mtimeMs });
    this.emit(path, 'attr');
  }

  async truncate(rawPath: string, size: number): Promise<void> {
    const path = this.writablePath(rawPath);
    await this.settleDirty(path);
    await this.remote.setattr(path, { size });
    this.invalidateReaders(path);
    this.emit(path, 'modify');
  }

  // ---- control ---------------------------------------------------------------------------------------

  refresh(rawPath?: string): void {
    const root = normalizePath(rawPath ?? '/');
    this.cache.refresh(root);
    for (const [path, set] of this.byPath) {
      if (isWithin(path, root)) for (const handle of set) handle.reader.invalidate();
    }
  }

  onChange(listener: ChangeListener): () => void {
    return this.changes.add(listener);
  }

  freshEntry(rawPath: string): FreshEntry | undefined {
    const path = normalizePath(rawPath);
    return this.answersFromCache(path) ? this.cache.freshEntry(path) : undefined;
  }

  listingFreshForMs(rawDir: string): number {
    const dir = normalizePath(rawDir);
    if (this.options.followSymlinks) return 0; // as freshEntry: a followed link's answer is its target's, which no listing tracks
    for (const [path, set] of this.byPath) {
      if (parentOf(path) !== dir) continue;
      for (const handle of set) if (handle.writer) return 0;
    }
    return this.cache.listingFreshForMs(dir);
  }

  mirror(mirror: CacheMirror): () => void {
    this.mirrors.add(mirror);
    // What the cache stores reaches the copy only where the cache alone decides getattr's answer.
    const stopCache = this.cache.mirror({
      forget: (path, changed) => {
        if (changed && this.writesInFlight(path)) this.held.hold(path, mirror);
        else mirror.forget(path, changed);
      },
      forgetSubtree: (root, known) => mirror.forgetSubtree(root, known),
      stored: (path, fresh) => {
        if (this.answersFromCache(path)) mirror.stored(path, fresh);
      },
    });
    return () => {
      this.mirrors.delete(mirror);
      this.held.drop(mirror);
      stopCache();
    };
  }

  /** Whether getattr(path) is the cache's answer: not with symlinks followed, nor for a file open for writing. */
  private answersFromCache(path: string): boolean {
    if (this.options.followSymlinks) return false; // the answer depends on the link's target as well
    const set = this.byPath.get(path);
    if (set) for (const handle of set) if (handle.writer) return false; // sizes include buffered writes
    return true;
  }

  stats(): VfsStats {
    const remoteStats = this.base.stats?.();
    let prefetchedBytes = this.retired.prefetchedBytes;
    let remoteWrites = this.retired.remoteWrites;
    for (const handle of this.handles.values()) {
      prefetchedBytes += handle.reader.prefetchedBytes;
      remoteWrites += handle.writer?.remoteWrites ?? 0;
    }
    return Object.freeze({
      state: this.closed ? 'closed' : (this.base.state?.() ?? 'connected'),
      connectedSinceMs: numberField(remoteStats, 'connectedSinceMs') ?? null,
      reconnects: numberField(remoteStats, 'reconnects') ?? 0,
      inFlight: numberField(remoteStats, 'inFlight') ?? 0,
      cache: Object.freeze({
        ...this.cache.stats(),
        ...this.counters,
        openHandles: this.handles.size,
        dirtyBytes: this.budget.current,
        prefetchedBytes,
        remoteWrites,
      }),
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const results = await Promise.allSettled(this.handles.ids().map((fh) => this.release(fh)));
    this.stopForwarding();
    await this.remote.close();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  // ---- internals -------------------------------------------------------------------------------------

  private newReader(file: RemoteFile): ReadAhead {
    return new ReadAhead(file, { minBytes: this.options.readAheadMinBytes, maxBytes: this.options.readAheadMaxBytes }, this.readBuffers);
  }

  private register(path: string, flags: number, file: RemoteFile): number {
    const writeOptions = { blockBytes: this.options.writeBlockBytes, maxDirtyBytes: this.options.maxDirtyBytesPerHandle, idleFlushMs: this.options.writeIdleFlushMs };
    const handle: OpenHandle = {
      path,
      file,
      flags,
      stale: false,
      reopening: null,
      writer: writable(flags) ? new WriteBehind(file, writeOptions, this.budget, this.writeBlocks, () => this.landed(handle.path)) : null,
      reader: this.newReader(file),
      changed: (flags & constants.O_TRUNC) !== 0,
    };
    let set = this.byPath.get(path);
    if (!set) {
      set = new Set();
      this.byPath.set(path, set);
    }
    set.add(handle);
    // From now on the VFS answers for this path (buffered writes change its size): copies forget it.
    if (handle.writer) for (const mirror of this.mirrors) mirror.forget(path, false);
    return this.handles.add(handle);
  }

  private unregister(handle: OpenHandle): void {
    handle.reader.invalidate(); // its buffers go back to the pool
    this.retired.prefetchedBytes += handle.reader.prefetchedBytes;
    this.retired.remoteWrites += handle.writer?.remoteWrites ?? 0;
    const set = this.byPath.get(handle.path);
    set?.delete(handle);
    if (set?.size === 0) this.byPath.delete(handle.path);
  }

  /** Whether blocks written to `path` through any handle are still unacknowledged. */
  private writesInFlight(path: string): boolean {
    const set = this.byPath.get(path);
    if (set) for (const handle of set) if ((handle.writer?.inFlight ?? 0) > 0) return true;
    return false;
  }

  /** A handle's last block in flight landed: if no other handle's are in flight, the held changes of `path` are told. */
  private landed(path: string): void {
    if (!this.writesInFlight(path)) this.held.release(path);
  }

  /** A rename moves open handles (and handles below a renamed directory) to their new paths. */
  private movePaths(from: string, to: string): void {
    for (const [path, set] of [...this.byPath]) {
      if (!isWithin(path, from)) continue;
      const moved = to + path.slice(from.length);
      this.byPath.delete(path);
      const target = this.byPath.get(moved) ?? new Set<OpenHandle>();
      for (const handle of set) {
        handle.path = moved;
        target.add(handle);
      }
      this.byPath.set(moved, target);
    }
  }

  /** getattr of a file with buffered writes reports the size including them. */
  private withDirtySize(path: string, attr: Attr): Attr {
    const set = this.byPath.get(path);
    if (!set) return attr;
    let end = -1;
    for (const handle of set) end = Math.max(end, handle.writer?.dirtyEnd() ?? -1);
    return end > attr.size ? { ...attr, size: end } : attr;
  }

  private async settleRange(path: string, start: number, end: number): Promise<void> {
    const set = this.byPath.get(path);
    if (!set) return;
    const waits: Promise<void>[] = [];
    for (const handle of set) if (handle.writer?.overlaps(start, end)) waits.push(handle.writer.settleRange(start, end));
    if (waits.length > 0) await Promise.all(waits);
  }

  /** Waits until every handle's writes to `path` have landed; their errors stay recorded for their own flush/release. */
  private async settleDirty(path: string): Promise<void> {
    const set = this.byPath.get(path);
    if (!set) return;
    await Promise.all([...set].map((handle) => handle.writer?.settleRange(0, Number.POSITIVE_INFINITY)));
  }

  private invalidateReaders(path: string): void {
    const set = this.byPath.get(path);
    if (!set) return;
    for (const handle of set) {
      handle.reader.invalidate();
      if (!handle.writer) handle.stale = true;
    }
  }

  private async reopen(handle: OpenHandle): Promise<void> {
    handle.stale = false;
    const fresh = await this.remote.open(handle.path, handle.flags & ~(constants.O_CREAT | constants.O_EXCL | constants.O_TRUNC));
    const old = handle.file;
    handle.reader.invalidate();
    this.retired.prefetchedBytes += handle.reader.prefetchedBytes;
    handle.file = fresh;
    handle.reader = this.newReader(fresh);
    await old.close();
  }

  private assertWritable(path: string): void {
    if (this.options.readOnly) throw new FsError('EROFS', 'mounted read-only', path);
  }

  private writablePath(rawPath: string): string {
    const path = normalizePath(rawPath);
    this.assertWritable(path);
    return path;
  }

  /**
   * A path whose last name is about to be created: longer than NAME_MAX is ENAMETOOLONG here, as open(2) and
   * mkdir(2) say, rather than whatever failure the server's answer maps to (EINVAL from OpenSSH).
   */
  private newNamePath(rawPath: string): string {
    const path = this.writablePath(rawPath);
    assertNameFits(path);
    return path;
  }

  private emit(path: string, kind: ChangeKind): void {
    this.changes.emit({ path, kind, origin: 'local' });
  }
}
