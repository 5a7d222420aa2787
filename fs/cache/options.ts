/**
 * Cache options, resolved once and frozen. Defaults follow sshfs (sshfs.c / cache.c): `cache_timeout` 20 s
 * for attributes, directories and links; negative entries get the same 20 s (libfuse's negative_timeout
 * defaults to 0, but a remote lookup costs a round trip, and every local create patches the entry anyway).
 */

export interface CacheOptions {
  /** `cache=no` → false: no cache layer at all (the decorator becomes a pass-through, chosen at construction). */
  readonly enabled: boolean;
  /** sshfs cache_stat_timeout (`cache_timeout`): how long attributes are trusted. */
  readonly attrTimeoutMs: number;
  /** sshfs cache_dir_timeout (`dcache_timeout`): how long a directory listing is trusted. */
  readonly dirTimeoutMs: number;
  /** `negative_timeout`: how long "no such file" is trusted. */
  readonly negativeTimeoutMs: number;
  /** sshfs cache_link_timeout: how long a symlink target is trusted. */
  readonly linkTimeoutMs: number;
  /** Bound on cached metadata: one per path plus one per name in a cached listing. */
  readonly maxEntries: number;
  /**
   * Bound on cached file contents, in bytes (LRU); 0 turns the data cache off. The default, 32 MiB, holds a
   * whole small-file tar stream (fs/prefetch maxContentBytes, 12 MiB) with room to spare, and keeps a long
   * session inside the daemon's RSS goal (≤ 200 MB): measured, 1 KiB files cost about 1.4 times their bytes
   * (pool slabs, one Buffer view and LRU entry each), so 64 MiB of them were ~90 MB on top of an idle
   * daemon's ~70 MB and a full metadata cache's ~40 MB (maxEntries names, ~200 bytes each): the whole budget.
   */
  readonly dataCacheBytes: number;
  /** Files up to this size opened read-only are read whole once and then served from memory. */
  readonly smallFileBytes: number;
  /**
   * sshfs/libfuse `auto_cache`: on every read-only open, ask the server for size+mtime and drop cached data
   * that no longer matches. Off: cached data is trusted while the cached attributes are fresh (then
   * open+read+close of a small cached file costs no round trip).
   */
  readonly autoCache: boolean;
  /** Monotonic milliseconds; tests inject a clock to step over TTLs. */
  readonly now: () => number;
}

export const CACHE_DEFAULTS: CacheOptions = Object.freeze({
  enabled: true,
  attrTimeoutMs: 20_000,
  dirTimeoutMs: 20_000,
  negativeTimeoutMs: 20_000,
  linkTimeoutMs: 20_000,
  maxEntries: 200_000,
  dataCacheBytes: 32 * 1024 * 1024,
  smallFileBytes: 256 * 1024,
  autoCache: false,
  now: () => performance.now(),
});

/** Resolves caller overrides once (`??` per field, as chokidar does) and freezes the result. */
export function resolveCacheOptions(overrides: Partial<CacheOptions> = {}): CacheOptions {
  const pick = <K extends keyof CacheOptions>(key: K): CacheOptions[K] => overrides[key] ?? CACHE_DEFAULTS[key];
  const resolved: CacheOptions = {
    enabled: pick('enabled'),
    attrTimeoutMs: pick('attrTimeoutMs'),
    dirTimeoutMs: pick('dirTimeoutMs'),
    negativeTimeoutMs: pick('negativeTimeoutMs'),
    linkTimeoutMs: pick('linkTimeoutMs'),
    maxEntries: pick('maxEntries'),
    dataCacheBytes: pick('dataCacheBytes'),
    smallFileBytes: pick('smallFileBytes'),
    autoCache: pick('autoCache'),
    now: pick('now'),
  };
  for (const key of ['attrTimeoutMs', 'dirTimeoutMs', 'negativeTimeoutMs', 'linkTimeoutMs', 'maxEntries', 'dataCacheBytes', 'smallFileBytes'] as const) {
    if (!Number.isFinite(resolved[key]) || resolved[key] < 0) throw new RangeError(`cache option ${key} must be a number ≥ 0, got ${resolved[key]}`);
  }
  return Object.freeze(resolved);
}
