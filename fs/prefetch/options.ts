/** Options of the metadata prefetch (fs/prefetch), resolved once and frozen. */

export interface PrefetchOptions {
  /**
   * Entries one prefetch may stream into the cache before it stops (the directories completed so far stay
   * primed; deeper misses start their own, smaller prefetch). Kept well under the cache's LRU cap so one
   * listing cannot evict everything else.
   */
  readonly maxEntriesPerJob: number;
  /** Prefetches running at once; a miss beyond that goes to the server as usual. */
  readonly maxJobs: number;
  /** Directories listed at once by the READDIR walk (SFTP-only servers); sshfs keeps up to 32 READDIRs out. */
  readonly walkConcurrency: number;
  /**
   * How long a lookup waits for a running prefetch to reach its directory before asking the server itself:
   * a stuck exec channel must not hang the mount (sshfs#3, #223).
   */
  readonly waitMs: number;
  /** A subtree listed completely less than this long ago is not listed again on a miss (the miss goes to SFTP). */
  readonly minRelistMs: number;
  /**
   * Read-only opens of small files under one listed subtree before its small files are fetched in one tar
   * stream (small-files.ts): a few page loads do not pull a whole tree, a `git status` or a grep does.
   */
  readonly readsBeforeContent: number;
  /** Bytes one tar stream may bring into the data cache (files past the budget are read over SFTP as usual). */
  readonly maxContentBytes: number;
  /**
   * An open waits for the tar stream only when its file is at most this many bytes behind what the stream has
   * delivered; a file further back is read over SFTP at once (a few round trips), in parallel with the stream.
   */
  readonly maxWaitAheadBytes: number;
  /** Monotonic milliseconds (tests inject a clock). */
  readonly now: () => number;
}

export const PREFETCH_DEFAULTS: PrefetchOptions = Object.freeze({
  maxEntriesPerJob: 100_000,
  maxJobs: 4,
  walkConcurrency: 16,
  waitMs: 10_000,
  minRelistMs: 5_000,
  readsBeforeContent: 8,
  maxContentBytes: 12 * 1024 * 1024,
  // About what the stream brings in the time of one SFTP open + read at 20 ms RTT, on the links measured here.
  maxWaitAheadBytes: 1024 * 1024,
  now: () => performance.now(),
});

export function resolvePrefetchOptions(overrides: Partial<PrefetchOptions> = {}): PrefetchOptions {
  const pick = <K extends keyof PrefetchOptions>(key: K): PrefetchOptions[K] => overrides[key] ?? PREFETCH_DEFAULTS[key];
  const resolved: PrefetchOptions = {
    maxEntriesPerJob: pick('maxEntriesPerJob'),
    maxJobs: pick('maxJobs'),
    walkConcurrency: pick('walkConcurrency'),
    waitMs: pick('waitMs'),
    minRelistMs: pick('minRelistMs'),
    readsBeforeContent: pick('readsBeforeContent'),
    maxContentBytes: pick('maxContentBytes'),
    maxWaitAheadBytes: pick('maxWaitAheadBytes'),
    now: pick('now'),
  };
  for (const key of ['maxEntriesPerJob', 'maxJobs', 'walkConcurrency'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] < 1) throw new RangeError(`prefetch option ${key} must be an integer ≥ 1, got ${resolved[key]}`);
  }
  for (const key of ['waitMs', 'minRelistMs', 'readsBeforeContent', 'maxContentBytes', 'maxWaitAheadBytes'] as const) {
    if (!Number.isFinite(resolved[key]) || resolved[key] < 0) throw new RangeError(`prefetch option ${key} must be a number ≥ 0, got ${resolved[key]}`);
  }
  return Object.freeze(resolved);
}
