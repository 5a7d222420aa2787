/**
 * The base of the cache decorators (the pass-through of `cache=no`, fs/prefetch, fs/cache/disk): every RemoteFs
 * member forwards to the wrapped file system, so a decorator states only what it changes. Nothing else is
 * forwarded: a layer's control surface is its own object (fs/cache/layer.ts).
 */
import type { ClosableRemoteFs, RemoteFile, RemoteFs, SetAttr } from '../remote/types.js';
import type { Attr, DirEntry, StatFs } from '../types.js';

/** What a cache layer wraps: the SFTP RemoteFs, another layer, or a test's RemoteFs without a close. */
export type WrappedRemoteFs = RemoteFs & { close?(): Promise<void> };

export class ForwardingRemoteFs implements ClosableRemoteFs {
  constructor(protected readonly inner: WrappedRemoteFs) {}

  lstat(path: string): Promise<Attr> { return this.inner.lstat(path); }
  stat(path: string): Promise<Attr> { return this.inner.stat(path); }
  readdir(path: string): Promise<DirEntry[]> { return this.inner.readdir(path); }
  readlink(path: string): Promise<string> { return this.inner.readlink(path); }
  readFile(path: string, expectedSize?: number): Promise<Buffer> { return this.inner.readFile(path, expectedSize); }
  statfs(path: string): Promise<StatFs> { return this.inner.statfs(path); }
  open(path: string, flags: number, mode?: number): Promise<RemoteFile> { return this.inner.open(path, flags, mode); }
  mkdir(path: string, mode: number): Promise<void> { return this.inner.mkdir(path, mode); }
  rmdir(path: string): Promise<void> { return this.inner.rmdir(path); }
  unlink(path: string): Promise<void> { return this.inner.unlink(path); }
  rename(from: string, to: string): Promise<void> { return this.inner.rename(from, to); }
  symlink(target: string, path: string): Promise<void> { return this.inner.symlink(target, path); }
  link(existing: string, path: string): Promise<void> { return this.inner.link(existing, path); }
  setattr(path: string, attrs: SetAttr): Promise<void> { return this.inner.setattr(path, attrs); }
  async close(): Promise<void> { await this.inner.close?.(); }
}
