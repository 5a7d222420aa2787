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
 * Also the parent's listing after a GETATTR or ACCESS this thread answered ENOENT, when the caches hold that
 * listing fresh (`absent`, same generation rule, taken when the getattr started). The table then answers
 * further lookups of names the listing lacks with ENOENT on libfuse's threads (dir-table.h dt_has_name): the
 * kernel keeps no negative entries, because libfuse 3.14 cannot invalidate one (fs/fuse/libfuse-options.ts),
 * so PHP's include_path and theme fallbacks and git's probes would otherwise cross to this thread on every
 * request. A parent is put at most once per generation while its put lasts (`putUntil`): a directory of many
 * names is not rebuilt on every miss in it.
 *
 * What takes it out: every change the caches and the VFS report (CacheMirror, fs/vfs/types.ts), before the
 * change is answered. A change to a path drops that path's own listing (a directory refreshed or removed) and
 * its parent's (which names it, with its attributes for READDIRPLUS); a subtree drops the whole table, as the
 * fast-files table does (rare: a refresh, a renamed directory, a failed mutation).
 *
 * State (one JS thread): `generation`, moved by every forget; `putUntil`, directory → when its put by `absent`
 * expires (Infinity while its listing is being read), emptied by every forget. The table itself is written only from here, and
 * libfuse's threads only read it, so a fill and a forget never interleave.
 */
import type { CacheMirror } from '../cache/mirror.js';
import { parentOf } from '../paths.js';
import type { Vfs } from '../vfs/types.js';
import { encodeStats } from './fast-files.js';
import type { NativeDirsBinding, NativeStat } from './native.js';
import type { ClockedTable } from './table-clock.js';

export interface NativeDirsCounters {
  /** READDIRs answered by the table since the mount (at offset 0: one per directory read). */
  readonly hits: number;
  readonly stored: number;
  readonly dropped: number;
  /** Listings held now. */
  readonly listings: number;
  /** GETATTRs and ACCESSes answered ENOENT by the table: the name was not in its parent's listing. */
  readonly negativeHits: number;
}

/** A directory's listing as READDIR answers it: names with their attributes, in the same order. */
export interface NativeListing {
  readonly names: readonly string[];
  readonly stats: readonly NativeStat[];
}

/** The longest a listing is kept (the table's expiry is a uint32 of ms); the caches' freshness is usually far shorter. */
const MAX_TABLE_MS = 0x7fff_ffff;

export class NativeDirs implements CacheMirror, ClockedTable {
  private generation = 0;
  private readonly putUntil = new Map<string, number>();
  private readonly counterBuffer = new Uint32Array(5);

  constructor(
    private readonly binding: NativeDirsBinding,
    /** The mount's handle (NativeFuse._thread): null until mount() has started. */
    private readonly thread: () => Buffer | null,
    private readonly vfs: Vfs,
    private readonly now: () => number = Date.now,
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

  /**
   * A getattr or access begun at `startedAt` answered ENOENT for `path`: puts its parent's listing (read by
   * `list`, from the caches when they hold it fresh) into the table, so the next lookups of absent names there
   * are answered in C.
   */
  absent(path: string, startedAt: number, list: (dir: string) => Promise<NativeListing>): void {
    if (path === '/' || startedAt !== this.generation) return;
    const dir = parentOf(path);
    if ((this.putUntil.get(dir) ?? 0) > this.now() || this.vfs.listingFreshForMs(dir) <= 0) return;
    this.putUntil.set(dir, Infinity);
    list(dir).then((listing) => {
      const ms = this.tableMsFor(dir, startedAt);
      const thread = this.thread();
      if (ms <= 0 || !thread) return this.putUntil.delete(dir);
      this.binding.dirs_put(thread, dir, listing.names, encodeStats(listing.stats), ms);
      return this.putUntil.set(dir, this.now() + ms);
    }, () => this.putUntil.delete(dir));
  }

  forget(path: string): void {
    this.generation += 1;
    this.putUntil.clear();
    const thread = this.thread();
    if (!thread) return;
    this.binding.dirs_forget(thread, path);
    if (path !== '/') this.binding.dirs_forget(thread, parentOf(path));
  }

  forgetSubtree(): void {
    this.generation += 1;
    this.putUntil.clear();
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
    // listing goes into the table only once a readdir, or a lookup of an absent name in it, has answered it.
  }

  counters(): NativeDirsCounters {
    const thread = this.thread();
    const c = this.counterBuffer.fill(0);
    if (thread) this.binding.dirs_counters(thread, c);
    return { hits: c[0]!, stored: c[1]!, dropped: c[2]!, listings: c[3]!, negativeHits: c[4]! };
  }
}
