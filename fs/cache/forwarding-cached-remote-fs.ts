/**
 * The base of decorators over a CachedRemoteFs (fs/prefetch, fs/cache/disk): every member forwards to the
 * wrapped one, so a decorator states only what it changes.
 */
import type { RemoteFile, SetAttr } from '../remote/types.js';
import type { Attr, CacheMirror, ChangeListener, DirEntry, FreshEntry, StatFs } from '../vfs/types.js';
import { CACHED_REMOTE_FS, type CachedRemoteFs, type ListedFile } from './cached-remote-fs.js';

export class ForwardingCachedRemoteFs implements CachedRemoteFs {
  readonly [CACHED_REMOTE_FS] = true as const;

  constructor(protected readonly cache: CachedRemoteFs) {}

  get inner() { return this.cache.inner; }
  get options() { return this.cache.options; }

  lstat(path: string): Promise<Attr> { return this.cache.lstat(path); }
  stat(path: string): Promise<Attr> { return this.cache.stat(path); }
  readdir(path: string): Promise<DirEntry[]> { return this.cache.readdir(path); }
  readlink(path: string): Promise<string> { return this.cache.readlink(path); }
  readFile(path: string): Promise<Buffer> { return this.cache.readFile(path); }
  statfs(path: string): Promise<StatFs> { return this.cache.statfs(path); }
  open(path: string, flags: number, mode?: number): Promise<RemoteFile> { return this.cache.open(path, flags, mode); }
  mkdir(path: string, mode: number): Promise<void> { return this.cache.mkdir(path, mode); }
  rmdir(path: string): Promise<void> { return this.cache.rmdir(path); }
  unlink(path: string): Promise<void> { return this.cache.unlink(path); }
  rename(from: string, to: string): Promise<void> { return this.cache.rename(from, to); }
  symlink(target: string, path: string): Promise<void> { return this.cache.symlink(target, path); }
  link(existing: string, path: string): Promise<void> { return this.cache.link(existing, path); }
  setattr(path: string, attrs: SetAttr): Promise<void> { return this.cache.setattr(path, attrs); }
  refresh(path?: string): void { this.cache.refresh(path); }
  stats(): Readonly<Record<string, number>> { return this.cache.stats(); }
  onChange(listener: ChangeListener): () => void { return this.cache.onChange(listener); }
  generation(): number { return this.cache.generation(); }
  prime(dir: string, entries: readonly DirEntry[], startedAt: number): void { this.cache.prime(dir, entries, startedAt); }
  hasFreshListing(dir: string): boolean { return this.cache.hasFreshListing(dir); }
  listingFreshForMs(dir: string): number { return this.cache.listingFreshForMs(dir); }
  listedFiles(root: string, maxBytes: number): ListedFile[] { return this.cache.listedFiles(root, maxBytes); }
  primeData(path: string, expected: { readonly size: number; readonly mtimeMs: number }, data: Buffer, startedAt: number): boolean {
    return this.cache.primeData(path, expected, data, startedAt);
  }
  freshEntry(path: string): FreshEntry | undefined { return this.cache.freshEntry(path); }
  mirror(mirror: CacheMirror): () => void { return this.cache.mirror(mirror); }
  close(): Promise<void> { return this.cache.close(); }
}
