/**
 * The JavaScript side of the libfuse 3 binding's fast-files table (native/fuse3/src/fast-files.h, which
 * says why: each FUSE request answered here costs a hand-off to this thread and back). It copies what the
 * caches trust into the table, and the table answers on libfuse's threads:
 * - after this thread has answered getattr(path), the fresh cached attributes (with the whole content of a
 *   small file, when that is cached too), for as long as the caches trust them;
 * - when a listing is cached (a READDIR, the prefetcher's whole-tree listing), each name in it, so even a
 *   tree's first lookups are answered there; when the content of a small file is cached (a memory open, the
 *   prefetcher's tar stream), the entry again, now with the content;
 * - the caches and the VFS report every change (CacheMirror, fs/cache/mirror.ts), and the path is forgotten at
 *   once, before the change is answered. Nothing is copied while a file is open for writing (Vfs.freshEntry).
 * Entries expire on the table's copy of the caches' TTL clock (table-clock.ts): it stands still while a
 * healthy remote watcher reports every change, as the caches' own clock does.
 * A read of a table handle whose file changed after it was opened comes here ("escalated"): the path is opened
 * again through the VFS, so it sees a write through another handle, as a local file system would.
 *
 * State (one JS thread): `escalated`, table handle → the VFS handle opened for it, until its release.
 */
import { constants as fsConstants } from 'node:fs';
import type { Vfs } from '../vfs/types.js';
import type { CacheMirror, FreshEntry } from '../cache/mirror.js';
import type { Attr } from '../types.js';
import type { FastFilesBinding, NativeStat } from './native.js';
import type { ClockedTable } from './table-clock.js';

/** Bit 30 of a FUSE file handle: a handle of the table (fast-files.h FF_HANDLE_BIT); VFS handles stay below. */
export const TABLE_HANDLE = 0x4000_0000;

const TWO_32 = 4294967296;
/** uint32 values per stat in encodeStat's layout. */
export const STAT_INTS = 18;

/**
 * `stat` in the 18 × uint32 layout the binding's populate_stat reads (fuse3-native.c: mode, uid, gid, size,
 * dev, nlink, ino, rdev, blksize, blocks, atime, mtime, ctime; 64-bit values as low, high; times in ms), into
 * `out`, which C copies before the call returns: one array serves every put.
 */
export function encodeStat(stat: NativeStat, out: Uint32Array): Uint32Array {
  const wide = (at: number, n: number) => {
    const low = n % TWO_32;
    out[at] = low;
    out[at + 1] = (n - low) / TWO_32;
  };
  out[0] = stat.mode;
  out[1] = stat.uid;
  out[2] = stat.gid;
  wide(3, stat.size);
  out[5] = 0;
  out[6] = stat.nlink || 1;
  out[7] = stat.ino;
  out[8] = 0;
  out[9] = stat.blksize;
  wide(10, stat.blocks);
  wide(12, stat.atime);
  wide(14, stat.mtime);
  wide(16, stat.ctime);
  return out;
}

/** `stats` one after the other in encodeStat's layout, as the directory table's listings hold them. */
export function encodeStats(stats: readonly NativeStat[]): Uint32Array {
  const out = new Uint32Array(stats.length * STAT_INTS);
  stats.forEach((stat, i) => encodeStat(stat, out.subarray(i * STAT_INTS, (i + 1) * STAT_INTS)));
  return out;
}

export interface FastFilesCounters {
  /** Requests answered by the table since the mount. */
  readonly getattrs: number;
  readonly opens: number;
  readonly reads: number;
  /** Table handles whose reads came here because the file changed while open. */
  readonly escalations: number;
  readonly entries: number;
  readonly contentBytes: number;
}

export class FastFiles implements CacheMirror, ClockedTable {
  private readonly escalated = new Map<number, Promise<number>>();
  private readonly counterBuffer = new Uint32Array(6);
  private readonly statBuffer = new Uint32Array(STAT_INTS);

  constructor(
    private readonly binding: FastFilesBinding,
    /** The mount's handle (NativeFuse._thread): null until mount() has started. */
    private readonly thread: () => Buffer | null,
    /** The stat getattr answers for these attributes (ownership mapping, umask). */
    private readonly toNative: (attr: Attr) => NativeStat,
    private readonly vfs: Vfs,
  ) {}

  /** This thread has just answered getattr(path): the table may answer the next ones. */
  answered(path: string): void {
    const fresh = this.vfs.freshEntry(path);
    if (fresh) this.put(path, fresh);
  }

  stored(path: string, fresh: FreshEntry): void {
    this.put(path, fresh);
  }

  forget(path: string): void {
    const thread = this.thread();
    if (thread) this.binding.fuse_native_ff_forget(thread, path);
  }

  forgetSubtree(): void {
    // Rare (a refresh, a renamed directory, a failed mutation): cheaper to start the table over than to walk it.
    const thread = this.thread();
    if (thread) this.binding.fuse_native_ff_forget_all(thread);
  }

  forgetAll(): void {
    this.forgetSubtree();
  }

  /** Stops (true) or runs on (false) the table's clock: followWatchedClock (table-clock.ts) keeps it on the caches'. */
  setWatched(watched: boolean): void {
    const thread = this.thread();
    if (thread) this.binding.fuse_native_ff_set_watched(thread, watched);
  }

  /** A read of table handle `fh` that the table passed on: the file changed since it was opened. */
  async readEscalated(path: string, fh: number, position: number, length: number): Promise<Buffer> {
    let opened = this.escalated.get(fh);
    if (!opened) {
      const opening = this.vfs.open(path, fsConstants.O_RDONLY);
      opened = opening;
      this.escalated.set(fh, opening);
      // A failed open is answered to this read; the next read of the handle tries again.
      opening.catch(() => {
        if (this.escalated.get(fh) === opening) this.escalated.delete(fh);
      });
    }
    return this.vfs.readTransient(await opened, position, length);
  }

  /** The release of an escalated table handle: closes what was opened for it, then frees its slot in the table. */
  async releaseEscalated(fh: number): Promise<void> {
    const opened = this.escalated.get(fh);
    this.escalated.delete(fh);
    try {
      const vfsHandle = opened ? await opened.catch(() => undefined) : undefined;
      if (vfsHandle !== undefined) await this.vfs.release(vfsHandle);
    } finally {
      const thread = this.thread();
      if (thread) this.binding.fuse_native_ff_free_escalated(thread, fh);
    }
  }

  counters(): FastFilesCounters {
    const thread = this.thread();
    const c = this.counterBuffer.fill(0);
    if (thread) this.binding.fuse_native_ff_counters(thread, c);
    return { getattrs: c[0]!, opens: c[1]!, reads: c[2]!, escalations: c[3]!, entries: c[4]!, contentBytes: c[5]! };
  }

  private put(path: string, fresh: FreshEntry): void {
    const thread = this.thread();
    const ttlMs = Math.floor(fresh.freshForMs);
    if (!thread || ttlMs <= 0) return;
    this.binding.fuse_native_ff_put(thread, path, encodeStat(this.toNative(fresh.attr), this.statBuffer), ttlMs, fresh.content ?? null);
  }
}
