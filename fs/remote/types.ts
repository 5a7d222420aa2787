/**
 * RemoteFs: the uncached remote file system, one level below the VFS. The SFTP implementation
 * (fs/sftp/) reconnects, retries idempotent operations and re-opens files by itself; the caches
 * (fs/cache/) wrap a RemoteFs and return a RemoteFs of the same shape (a decorator, as sshfs's
 * cache_wrap); the VFS (fs/vfs/) adds the handle table, write-behind and read-ahead on top; backups use
 * a RemoteFs directly. Paths are POSIX, absolute from the mounted remote root ('/' = the remote directory).
 * Errors are FsError (fs/errors.ts).
 */
import type { Attr, DirEntry, StatFs } from '../types.js';

export interface SetAttr {
  readonly mode?: number; // permission bits only
  readonly uid?: number;
  readonly gid?: number;
  readonly atimeMs?: number;
  readonly mtimeMs?: number;
  readonly size?: number;
}

/** An open remote file. Survives reconnects: after a drop it is re-opened (without O_CREAT/O_EXCL/O_TRUNC). */
export interface RemoteFile {
  readonly path: string;
  /** Reads up to `length` bytes; a short result only at end of file. Large lengths are pipelined. */
  read(position: number, length: number): Promise<Buffer>;
  /**
   * Fills `target` from `position` and resolves to the number of bytes read: fewer than target.length only at
   * end of file. The caller owns `target` (read-ahead reuses its buffers); it is not touched once this settles.
   */
  readInto(position: number, target: Buffer): Promise<number>;
  /** Resolves only when the server has acknowledged every byte (replayed after a reconnect if needed). */
  write(data: Buffer, position: number): Promise<void>;
  fstat(): Promise<Attr>;
  ftruncate(size: number): Promise<void>;
  /** fsync@openssh.com when the server has it; otherwise resolves once all writes are acknowledged. */
  fsync(): Promise<void>;
  close(): Promise<void>;
}

export interface RemoteFs {
  lstat(path: string): Promise<Attr>;
  stat(path: string): Promise<Attr>;
  readdir(path: string): Promise<DirEntry[]>;
  readlink(path: string): Promise<string>;
  /** Opens with open(2) flags (fs.constants O_*); `mode` applies when O_CREAT creates the file. */
  open(path: string, flags: number, mode?: number): Promise<RemoteFile>;
  /** Whole-file read, pipelined. */
  /**
   * The whole file. `expectedSize`: what the caller's cached attributes say (a regular file): the size need not
   * be asked for first (a file that changed since is still read whole).
   */
  readFile(path: string, expectedSize?: number): Promise<Buffer>;
  mkdir(path: string, mode: number): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Atomically replaces `to` when it exists (posix-rename@openssh.com). */
  rename(from: string, to: string): Promise<void>;
  symlink(target: string, path: string): Promise<void>;
  link(existing: string, path: string): Promise<void>;
  setattr(path: string, attrs: SetAttr): Promise<void>;
  statfs(path: string): Promise<StatFs>;
}
