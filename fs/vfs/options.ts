/** VFS options, resolved once and frozen (the cache part is fs/cache/options.ts). */
import { resolveCacheOptions, type CacheOptions } from '../cache/options.js';

export interface VfsOptions {
  /** The memory cache createVfs puts over its RemoteFs (createVfsOver's stack has its own); `cache.enabled: false` is `-o cache=no`. */
  readonly cache: CacheOptions;
  /** `-o follow_symlinks`: getattr reports the target's attributes (stat instead of lstat). */
  readonly followSymlinks: boolean;
  /** `-o ro`: every mutation fails with EROFS before anything is sent. */
  readonly readOnly: boolean;
  /** Contiguous writes are coalesced into SFTP writes of this size (FUSE hands over 4 or 128 KiB). */
  readonly writeBlockBytes: number;
  /** write() waits while one handle has more than this unacknowledged (bounds memory, keeps several blocks in flight). */
  readonly maxDirtyBytesPerHandle: number;
  /** …or all handles together have more than this. */
  readonly maxDirtyBytesTotal: number;
  /** A partly filled write block is sent after this long (so bytes do not sit in memory until close). */
  readonly writeIdleFlushMs: number;
  /** Read-ahead window after the first sequential read; doubles on each sequential read… */
  readonly readAheadMinBytes: number;
  /** …up to this. */
  readonly readAheadMaxBytes: number;
}

export type VfsOverrides = Partial<Omit<VfsOptions, 'cache'>> & { readonly cache?: Partial<CacheOptions> };

const VFS_DEFAULTS = Object.freeze({
  followSymlinks: false,
  readOnly: false,
  writeBlockBytes: 1024 * 1024,
  maxDirtyBytesPerHandle: 8 * 1024 * 1024,
  maxDirtyBytesTotal: 64 * 1024 * 1024,
  writeIdleFlushMs: 1000,
  readAheadMinBytes: 128 * 1024,
  readAheadMaxBytes: 8 * 1024 * 1024,
});

export function resolveVfsOptions(overrides: VfsOverrides = {}): VfsOptions {
  const resolved: VfsOptions = {
    cache: resolveCacheOptions(overrides.cache),
    followSymlinks: overrides.followSymlinks ?? VFS_DEFAULTS.followSymlinks,
    readOnly: overrides.readOnly ?? VFS_DEFAULTS.readOnly,
    writeBlockBytes: overrides.writeBlockBytes ?? VFS_DEFAULTS.writeBlockBytes,
    maxDirtyBytesPerHandle: overrides.maxDirtyBytesPerHandle ?? VFS_DEFAULTS.maxDirtyBytesPerHandle,
    maxDirtyBytesTotal: overrides.maxDirtyBytesTotal ?? VFS_DEFAULTS.maxDirtyBytesTotal,
    writeIdleFlushMs: overrides.writeIdleFlushMs ?? VFS_DEFAULTS.writeIdleFlushMs,
    readAheadMinBytes: overrides.readAheadMinBytes ?? VFS_DEFAULTS.readAheadMinBytes,
    readAheadMaxBytes: overrides.readAheadMaxBytes ?? VFS_DEFAULTS.readAheadMaxBytes,
  };
  for (const key of ['writeBlockBytes', 'maxDirtyBytesPerHandle', 'maxDirtyBytesTotal', 'writeIdleFlushMs', 'readAheadMinBytes', 'readAheadMaxBytes'] as const) {
    if (!Number.isInteger(resolved[key]) || resolved[key] <= 0) throw new RangeError(`VFS option ${key} must be a positive integer, got ${resolved[key]}`);
  }
  if (resolved.readAheadMaxBytes < resolved.readAheadMinBytes) throw new RangeError('readAheadMaxBytes must be ≥ readAheadMinBytes');
  return Object.freeze(resolved);
}
