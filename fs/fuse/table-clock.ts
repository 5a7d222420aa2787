/**
 * Keeps a table of the libfuse 3 binding (the fast-files table, the directory table) on the caches' TTL clock
 * (fs/cache/watched-clock.ts): the table's own clock (native/fuse3/src/table-common.h) stops while a healthy remote
 * watcher reports every change and runs on when it does not, so a table entry put with the caches' remaining
 * TTL lives exactly as long as the caches trust the answer.
 *
 * When the watcher stops being healthy the table is emptied as well: it is declared down only after three silent
 * heartbeats (fs/watch/remote-watcher.ts), and a change made in that window was never reported, so nothing the
 * table took in meanwhile may be answered without asking the caches again.
 */
import type { WatchedClock } from '../cache/watched-clock.js';

/** What a table offers the follower; both run on the JavaScript thread. */
export interface ClockedTable {
  /** Drops every entry. */
  forgetAll(): void;
  /** Stops (true) or runs on (false) the clock the table's entries expire on. */
  setWatched(watched: boolean): void;
}

/** Puts `table` on `clock` from now on; returns the unsubscriber. */
export function followWatchedClock(clock: WatchedClock, table: ClockedTable): () => void {
  const follow = (watched: boolean): void => {
    if (!watched) table.forgetAll();
    table.setWatched(watched);
  };
  follow(clock.watched());
  return clock.onChange(follow);
}
