/**
 * What the caches tell the copies of their answers kept elsewhere, and what such a copy may hold. Defined with
 * the caches (fs/cache/), which call it; the VFS hands it through (Vfs.mirror, Vfs.freshEntry) and the FUSE adapter
 * implements it, both from above.
 */
import type { Attr } from '../types.js';

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
