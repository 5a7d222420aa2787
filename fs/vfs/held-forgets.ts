/**
 * Changes to a file reported while its own write-behind blocks are in flight, held back until the last of them
 * has landed, then told once to each copy (CacheMirror) that missed them.
 *
 * Why: the caches report every landed SFTP write block as a change of the file (its size and mtime moved on
 * the server), and the kernel's copy is invalidated for it: fuse_invalidate_path(3) on the file and its
 * directory, FUSE_NOTIFY_INVAL_INODE dropping the inode's attributes and cached pages. A 64 MiB copy is 64
 * blocks, 128 invalidations, each waiting in the kernel for the page locks of the WRITE being answered
 * (invalidate_inode_pages2_range). Measured during a 256 MiB write: ~10 % of the mount process's time.
 * While blocks are still in flight another change is coming anyway, and nothing a copy could hold is more
 * wrong than before: a write through the kernel mount updates the kernel's pages itself and drops its own
 * attributes (fuse_write_update_attr in fs/fuse/file.c); getattr through the VFS reports the size including
 * the buffered bytes; the FUSE adapter's tables hold nothing for a file open for writing or for the directory
 * it is in (Vfs.answersFromCache, Vfs.listingFreshForMs). So the copies learn of the change once, when the
 * file's writes have landed: at the latest at flush, fsync and close, which wait for them.
 *
 * State (single JS thread): `held` — path → the copies owed a `forget(path, true)`.
 */
import type { CacheMirror } from '../cache/mirror.js';

export class HeldForgets {
  private readonly held = new Map<string, Set<CacheMirror>>();

  /** `mirror` is owed a change of `path`, told by release(path). */
  hold(path: string, mirror: CacheMirror): void {
    let mirrors = this.held.get(path);
    if (!mirrors) {
      mirrors = new Set();
      this.held.set(path, mirrors);
    }
    mirrors.add(mirror);
  }

  /** The writes to `path` have landed: each copy owed a change hears of it now. */
  release(path: string): void {
    const mirrors = this.held.get(path);
    if (!mirrors) return;
    this.held.delete(path);
    for (const mirror of mirrors) mirror.forget(path, true);
  }

  /** Tells everything held (a rename moved the paths the held changes are filed under). */
  releaseAll(): void {
    for (const path of [...this.held.keys()]) this.release(path);
  }

  /** Stops owing anything to `mirror` (it was unregistered). */
  drop(mirror: CacheMirror): void {
    for (const [path, mirrors] of this.held) {
      mirrors.delete(mirror);
      if (mirrors.size === 0) this.held.delete(path);
    }
  }
}
