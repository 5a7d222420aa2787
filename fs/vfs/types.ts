/**
 * The contract between the VFS and everything that uses it: the FUSE adapter (fs/fuse), the dev server's
 * FileSource (devserver/), backups. Paths are POSIX, absolute from the mount root ('/' is the remote
 * directory given on the command line). Every operation rejects with an FsError (fs/errors.ts) carrying a
 * POSIX errno name; nothing here knows about FUSE or HTTP. The ground types it speaks in (Attr, DirEntry, StatFs,
 * change events, the connection state) are the lower floors' too and live below them, in fs/types.ts.
 */
import type { CacheMirror, FreshEntry } from '../cache/mirror.js';
import type { Attr, ChangeListener, ConnectionState, DirEntry, StatFs } from '../types.js';

/** open(2) flags subset the VFS understands; numeric values are the platform's (fs.constants). */
export type OpenFlags = number;

export interface VfsStats {
  readonly state: ConnectionState;
  readonly connectedSinceMs: number | null;
  readonly reconnects: number;
  readonly inFlight: number;
  readonly cache: Readonly<Record<string, number>>; // counters: hits, misses, entries, bytes …
}

/**
 * POSIX-like async file system. File handles are small integers owned by the VFS; a handle stays valid
 * across reconnects (the VFS re-opens the remote file and replays unacknowledged writes).
 */
export interface Vfs {
  getattr(path: string): Promise<Attr>; // lstat semantics unless follow_symlinks is set
  readdir(path: string): Promise<DirEntry[]>;
  readlink(path: string): Promise<string>;

  open(path: string, flags: OpenFlags): Promise<number>;
  create(path: string, mode: number, flags?: OpenFlags): Promise<number>;
  read(fh: number, position: number, length: number): Promise<Buffer>;
  /**
   * Like read, but the bytes may be a view into read-ahead memory that is reused once this turn of the event
   * loop is over: copy them before yielding to I/O (the FUSE adapter does; the FUSE binding copies inside the answer).
   * Saves one allocation and copy per read on the sequential-read path.
   */
  readTransient(fh: number, position: number, length: number): Promise<Buffer>;
  /**
   * Returns the number of bytes accepted (always data.length unless it fails). Data may be buffered: errors
   * surface at flush/fsync/release. The bytes are copied before write() returns: the caller may reuse `data`
   * (the FUSE adapter passes the kernel's request buffer, detached once it answers).
   */
  write(fh: number, data: Buffer, position: number): Promise<number>;
  flush(fh: number): Promise<void>;
  fsync(fh: number): Promise<void>;
  ftruncate(fh: number, size: number): Promise<void>;
  release(fh: number): Promise<void>;

  /** Whole-file read through the caches: the dev server's fast path. */
  readFile(path: string): Promise<Buffer>;

  mkdir(path: string, mode: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>; // replaces `to` atomically (posix-rename@openssh.com)
  symlink(target: string, path: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  chown(path: string, uid: number, gid: number): Promise<void>;
  utimens(path: string, atimeMs: number, mtimeMs: number): Promise<void>;
  truncate(path: string, size: number): Promise<void>;
  statfs(path: string): Promise<StatFs>;

  /** Drops cached state for a path (and below it), or everything: `devmount refresh`. */
  refresh(path?: string): void;
  /**
   * What getattr(path) would answer from the caches right now, and for how long, when nothing but the caches
   * decides it (no file open for writing on it, no symlink following); else undefined.
   */
  freshEntry(path: string): FreshEntry | undefined;
  /**
   * How long, in ms, readdir(dir) answers what the caches' listing of it holds (0: not from a fresh listing, a
   * name in it changed through the mount, or a file in it is open for writing, whose size includes buffered
   * writes); a copy of such an answer may be kept that long while the copy is told of changes (CacheMirror).
   */
  listingFreshForMs(dir: string): number;
  /** Registers a copy of cached answers (see CacheMirror); returns the unsubscriber. */
  mirror(mirror: CacheMirror): () => void;
  /** Subscribes to change events; returns the unsubscriber. */
  onChange(listener: ChangeListener): () => void;
  stats(): VfsStats;
  /** Flushes pending writes, closes handles and the connection pool. */
  close(): Promise<void>;
}
