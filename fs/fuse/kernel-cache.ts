/**
 * Keeps the kernel's caches of a mount in step with ours: a CacheMirror (fs/cache/mirror.ts) that asks the libfuse
 * 3 binding to invalidate what the kernel may hold for every path whose answer changed — a remote watcher's
 * report, `devmount refresh`, a write through the mount or through the dev server, a fresh reply unlike the
 * last one. So the kernel may keep attributes and entries as long as the VFS does (adapter.ts kernelTimeouts)
 * and still never answer from a stale copy.
 *
 * What is invalidated, and why the parent too: fuse_invalidate_path(3) drops the inode's attributes and cached
 * pages (FUSE_NOTIFY_INVAL_INODE; libfuse fuse.c). A change to a name also changes its directory's mtime and
 * size, which the kernel caches for the directory's own inode.
 *
 * The binding queues the paths for a thread of its own (native/fuse3/src/invalidator.h): the kernel's side of
 * an invalidation may wait for requests that wait for this thread.
 */
import { parentOf } from '../paths.js';
import type { CacheMirror } from '../cache/mirror.js';
import type { InvalidationBinding } from './native.js';

export interface KernelCacheCounters {
  /** Paths handed to the invalidation thread since the mount. */
  readonly queued: number;
  /** Invalidations the kernel took (the others named paths it held nothing for). */
  readonly sent: number;
}

export class KernelCache implements CacheMirror {
  private readonly counterBuffer = new Uint32Array(2);

  constructor(
    private readonly binding: InvalidationBinding,
    /** The mount's handle (NativeFuse._thread): null until mount() has started. */
    private readonly thread: () => Buffer | null,
  ) {}

  forget(path: string, changed: boolean): void {
    if (!changed) return; // a stored answer that may equal the old one: what the kernel holds is still right
    this.invalidate(path);
    if (path !== '/') this.invalidate(parentOf(path));
  }

  forgetSubtree(root: string, known: readonly string[]): void {
    this.invalidate(root);
    if (root !== '/') this.invalidate(parentOf(root));
    for (const path of known) this.invalidate(path);
  }

  stored(): void {
    // Nothing to copy: the kernel asks when it needs an answer.
  }

  counters(): KernelCacheCounters {
    const thread = this.thread();
    const c = this.counterBuffer.fill(0);
    if (thread) this.binding.invalidation_counters(thread, c);
    return { queued: c[0]!, sent: c[1]! };
  }

  private invalidate(path: string): void {
    const thread = this.thread();
    if (thread) this.binding.invalidate(thread, path);
  }
}
