/**
 * The contract between the VFS and everything that uses it: the FUSE adapter (fs/fuse), the dev server's
 * FileSource (devserver/), backups. Paths are POSIX, absolute from the mount root ('/' is the remote
 * directory given on the command line). Every operation rejects with an FsError (fs/errors.ts) carrying a
 * POSIX errno name; nothing here knows about FUSE or HTTP.
 */

/** File attributes, as lstat(2) would return them. Times are milliseconds since the epoch. */
export interface Attr {
  readonly mode: number; // type bits | permission bits, as st_mode
  readonly size: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

export interface DirEntry {
  readonly name: string;
  /** Attributes when the listing carried them (SFTP READDIR and bulk listings do); lstat semantics. */
  readonly attr: Attr;
}

export interface StatFs {
  readonly bsize: number;
  readonly frsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  readonly favail: number;
  readonly namemax: number;
}

/** open(2) flags subset the VFS understands; numeric values are the platform's (fs.constants). */
export type OpenFlags = number;

/** Why a path changed: for live reload and cache invalidation. */
export type ChangeKind = 'create' | 'modify' | 'delete' | 'rename' | 'attr' | 'unknown';

export interface ChangeEvent {
  readonly path: string;
  readonly kind: ChangeKind;
  /** 'local' = a mutation through this VFS; 'remote' = detected on the server (watcher or revalidation). */
  readonly origin: 'local' | 'remote';
}

export type ChangeListener = (event: ChangeEvent) => void;

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface VfsStats {
  readonly state: ConnectionState;
  readonly connectedSinceMs: number | null;
  readonly reconnects: number;
  readonly inFlight: number;
  readonly cache: Readonly<Record<string, number>>; // counters: hits, misses, entries, bytes …
}

/** A cached answer that may be given without asking the VFS again, for `freshForMs` more. */
export interface FreshEntry {
  readonly attr: Attr;
  readonly freshForMs: number;
  /** The whole content of a small regular file, when it is cached too and an open may be answered from it. */
  readonly content?: Buffer;
}

/**
 * A copy of cached answers kept elsewhere (the FUSE adapter's table answered on libfuse's threads,
 * fs/fuse/fast-files.ts; the kernel's attribute and page caches, fs/fuse/kernel-cache.ts). It is told,
 * synchronously, of everything that may change an answer it holds.
 */
export interface CacheMirror {
  /**
   * Anything about `path` may have changed. `changed`: it did, or may have (a mutation, a refresh, a reply
   * unlike the last one); false: an answer was replaced by one that may well be the same.
   */
  forget(path: string, changed: boolean): void;
  /** Anything about `root` and below it may have changed; `known`: the paths below it the caches held. */
  forgetSubtree(root: string, known: readonly string[]): void;
  /** Fresh attributes of `path` (from a listing), or its whole content, were cached: it may copy them. */
  stored(path: string, fresh: FreshEntry): void;
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
