/**
 * The JavaScript side of the libfuse 3 binding's directory table (native/fuse3/src/dir-table.h, which says why:
 * libfuse 3.14's high-level API cannot let the kernel keep directory contents, so every READDIR reaches us,
 * and one that crosses to this thread costs more than sshfs's whole answer from C).
 *
 * What goes in: a readdir answer this thread has just given, when it was the caches' fresh listing
 * (Vfs.listingFreshForMs: no name in it changed through the mount since it was read, no file in it open for
 * writing) and nothing was forgotten while the answer was being made (`generation`, taken when the readdir
 * started: a listing answered from before a change must not be kept after it). It is kept for as long as the
 * caches' listing stays fresh, on the table's copy of the caches' TTL clock (table-clock.ts): while a
 * healthy remote watcher reports every change the listing does not expire, and the table is emptied when the
 * watcher goes down.
 *
 * What takes it out: every change the caches and the VFS report (CacheMirror, fs/vfs/types.ts), before the
 * change is answered. A change to a path drops that path's own listing (a directory refreshed or removed) and
 * its parent's (which names it, with its attributes for READDIRPLUS); a subtree drops the whole table, as the
 * fast-files table does (rare: a refresh, a renamed directory, a failed mutation).
 *
 * State (one JS thread): `generation`, moved by every forget. The table itself is written only from here, and
 * libfuse's threads only read it, so a fill and a forget never interleave.
 */
import type { CacheMirror } from '../cache/mirror.js';
import { parentOf } from '../paths.js';
import type { Vfs } from '../vfs/types.js';
import type { NativeDirsBinding } from './native.js';
import type { ClockedTable } from './table-clock.js';

export interface NativeDirsCounters {
  /** READDIRs answered by the table since the mount (at offset 0: one per directory read). */
  readonly hits: number;
  readonly stored: number;
  readonly dropped: number;
  /** Listings held now. */
  readonly listings: number;
}

/** The longest a listing is kept (the table's expiry is a uint32 of ms); the caches' freshness is usually far shorter. */
const MAX_TABLE_MS = 0x7fff_ffff;

export class NativeDirs implements CacheMirror, ClockedTable {
  private generation = 0;
  private readonly counterBuffer = new Uint32Array(4);

  constructor(
    private readonly binding: NativeDirsBinding,
    /** The mount's handle (NativeFuse._thread): null until mount() has started. */
    private readonly thread: () => Buffer | null,
    private readonly vfs: Vfs,
  ) {}

  /** A readdir starts: pass the result to `tableMsFor` with its answer. */
  begin(): number {
    return this.generation;
  }

  /**
   * How long the table may answer for `dir` with the listing just answered (started at `startedAt`): 0 when a
   * change was reported meanwhile, or the answer was not the caches' fresh listing.
   */
  tableMsFor(dir: string, startedAt: number): number {
    if (startedAt !== this.generation) return 0;
    return Math.min(MAX_TABLE_MS, Math.floor(this.vfs.listingFreshForMs(dir)));
  }

  forget(path: string): void {
    this.generation += 1;
    const thread = this.thread();
    if (!thread) return;
    this.binding.dirs_forget(thread, path);
    if (path !== '/') this.binding.dirs_forget(thread, parentOf(path));
  }

  forgetSubtree(): void {
    this.generation += 1;
    const thread = this.thread();
    if (thread) this.binding.dirs_forget_all(thread);
  }

  forgetAll(): void {
    this.forgetSubtree();
  }

  /** Stops (true) or runs on (false) the table's clock: followWatchedClock (table-clock.ts) keeps it on the caches'. */
  setWatched(watched: boolean): void {
    const thread = this.thread();
    if (thread) this.binding.dirs_set_watched(thread, watched);
  }

  stored(): void {
    // A stored name arrives with its listing's store, which reported the names it replaced (forget) first; a
    // listing goes into the table only once a readdir has answered it.
  }

  counters(): NativeDirsCounters {
    const thread = this.thread();
    const c = this.counterBuffer.fill(0);
    if (thread) this.binding.dirs_counters(thread, c);
    return { hits: c[0]!, stored: c[1]!, dropped: c[2]!, listings: c[3]! };
  }
}
