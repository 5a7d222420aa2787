/**
 * The clock cache TTLs are measured on (CacheOptions.now), stopped while a remote watcher covers the whole tree
 * and is healthy. A TTL exists because without a change feed nothing else says when an answer went stale; a
 * watcher that reports every change (fs/watch: inotify, or the find loop) and drops the affected entries as
 * they happen says it better, so while it is running no entry expires: an open after 25 s idle costs no round
 * trip, as the one before it did not. When the watcher stops being healthy (its stream ended, or went silent
 * past its heartbeat), the clock runs again, so entries expire by the TTL rules from where they stood; and the
 * watcher's restart reports the whole tree changed (events may have been missed meanwhile).
 */

export interface WatchedClock {
  /** Monotonic milliseconds that do not advance while watched (pass as CacheOptions.now). */
  readonly now: () => number;
  /** Tells the clock whether a healthy whole-tree watcher is running now. */
  setWatched(watched: boolean): void;
  watched(): boolean;
  /**
   * Calls `listener` at each change of watched(), synchronously inside setWatched (so a copy of the clock, such as
   * the FUSE fast-files table's, stops and runs at the same moment); returns the unsubscriber.
   */
  onChange(listener: (watched: boolean) => void): () => void;
}

export function createWatchedClock(base: () => number = () => performance.now()): WatchedClock {
  /** Time spent watched so far (excluded from now()), and when the current watched period began. */
  let stoppedFor = 0;
  let stoppedAt: number | null = null;
  const listeners = new Set<(watched: boolean) => void>();
  const tell = (watched: boolean): void => {
    for (const listener of listeners) listener(watched);
  };
  return Object.freeze({
    now: () => (stoppedAt ?? base()) - stoppedFor,
    setWatched(watched: boolean) {
      if (watched && stoppedAt === null) {
        stoppedAt = base();
        tell(true);
      } else if (!watched && stoppedAt !== null) {
        stoppedFor += base() - stoppedAt;
        stoppedAt = null;
        tell(false);
      }
    },
    watched: () => stoppedAt !== null,
    onChange(listener: (watched: boolean) => void) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },
  });
}
