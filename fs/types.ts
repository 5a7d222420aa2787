/**
 * The ground types every floor of fs/ speaks in: what SFTP, the bulk listings and the remote watcher produce and
 * the caches, the VFS, the FUSE adapter, the dev server and the CLI pass on. They live here, below every layer,
 * so that imports only point down (ssh → sftp → cache → prefetch → vfs). Not in fs/remote/types.ts: that module
 * is the RemoteFs contract, and change events and the connection state are no part of it (the remote watcher
 * and the connection pool produce them). Paths are POSIX, absolute from the mount root.
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
