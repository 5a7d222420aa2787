/**
 * Builds the file system stack a mount serves: SSH options → connector → SFTP session pool → caches → VFS.
 * Each cache layer is a RemoteFs like the one it wraps, with its control handed beside it (fs/cache/layer.ts);
 * the VFS gets the top layer's, the start-up prefetch the Prefetcher and the disk's.
 * The one place mount options are handed to each layer; errors from opening the remote directory are turned
 * into the remote-path exit code here (FsError ENOENT/ENOTDIR/EACCES at mount time means "wrong path").
 */
import { posix } from 'node:path';
import type { Logger } from 'pino';
import { FsError } from '../fs/errors.js';
import type { RemoteSpec } from '../fs/remote-spec.js';
import { CACHE_DEFAULTS } from '../fs/cache/options.js';
import { createCachedRemoteFs } from '../fs/cache/cached-remote-fs.js';
import { withDiskCache, type DiskCacheControl } from '../fs/cache/disk/disk-cached-remote-fs.js';
import type { CacheLayer } from '../fs/cache/layer.js';
import { remoteCacheDir, remoteKey } from '../fs/cache/disk/remote-key.js';
import { DiskStore } from '../fs/cache/disk/store.js';
import { createWatchedClock, type WatchedClock } from '../fs/cache/watched-clock.js';
import { createForegroundGate, type ForegroundGate } from '../fs/foreground.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { warmStart, withPrefetch, type WarmStartReport } from '../fs/prefetch/index.js';
import { createConnector } from '../fs/ssh/connect.js';
import type { Connector } from '../fs/ssh/types.js';
import { resolveSshOptions } from '../fs/ssh/resolve.js';
import type { Prompter } from '../fs/ssh/types.js';
import { createVfsOver } from '../fs/vfs/vfs.js';
import type { Vfs } from '../fs/vfs/types.js';
import type { OperationContext } from '../fs/trace.js';
import type { ResolvedSshOptions } from '../fs/ssh/types.js';
import { devmountCacheDir, expandTilde } from './config/paths.js';
import { toSshOverrides, type MountOptions } from './mount-options.js';
import { UserError } from './user-error.js';

export interface StackInputs {
  readonly password: string | undefined;
  readonly prompter: Prompter | undefined;
  readonly log: Logger;
  /** Who remote operations are done for (a dev server's request scope): logged with them at debug level. */
  readonly operationContext?: OperationContext;
  /**
   * 'serve' (`serve user@host:path`, `mount --serve`): an application runs from the tree, so its files are
   * streamed at start (fs/prefetch/warm-start.ts) and kept in memory up to a few MiB each. 'mount' (default):
   * at start only what the disk cache holds is loaded.
   */
  readonly profile?: 'mount' | 'serve';
  /** Told when each phase of the start ends (cli/start-timeline.ts). */
  readonly onPhase?: (phase: string) => void;
}

/**
 * The memory cache for an application run from the tree: twice the content bytes of a mount (WordPress's PHP is
 * ~16 MiB), and whole files up to 4 MiB from memory — its largest includes are 270–330 KiB, which with the mount's
 * 256 KiB rule cost an OPEN and READs on every request.
 */
const SERVE_CACHE = Object.freeze({ dataCacheBytes: 2 * CACHE_DEFAULTS.dataCacheBytes, smallFileBytes: 4 * 1024 * 1024 });
/**
 * What the disk cache loads into memory at start, before anything is opened. Measured with WordPress's includes
 * at 20 ms: loading all 32 MiB ahead made the second start's first page slower than the first start's (3.3 s
 * against 2.9 s, load ~7), as it competed for the disk and CPU; files are read from disk when opened instead.
 */
const START_PRELOAD_BYTES = 0;
/** Disk cache bound per remote (LRU). */
const DISK_CACHE_BYTES = 512 * 1024 * 1024;

export async function openMountStack(spec: RemoteSpec, options: MountOptions, inputs: StackInputs): Promise<Vfs> {
  return (await openMountStackParts(spec, options, inputs)).vfs;
}

/** The VFS and the SFTP layer under it (its exec/execStream and connection state feed the remote watcher). */
export interface MountStackParts {
  readonly vfs: Vfs;
  readonly remote: SftpRemoteFs;
  /** Opens another connection to the same server (for reading files outside the mounted path). */
  readonly connector: Connector;
  /** The TTL clock of the caches: a healthy remote watcher stops it (cli/remote-watch.ts). */
  readonly clock: WatchedClock;
  /** The disk cache's control, when it is on and its directory could be opened. */
  readonly disk: DiskCacheControl | null;
  /**
   * Background work (the disk cache's writes) waits for it to be quiet; the mount made over `vfs` adds its count of
   * requests (FuseMount.requestsServed).
   */
  readonly foreground: ForegroundGate;
  /** The start-up prefetch running in the background (null when there is none: cache off, or a mount without a disk cache to load); never rejects. */
  readonly warm: Promise<WarmStartReport | null>;
}

export async function openMountStackParts(spec: RemoteSpec, options: MountOptions, inputs: StackInputs): Promise<MountStackParts> {
  const ssh = await resolveSshOptions(
    { host: spec.host, ...(spec.user !== undefined ? { user: spec.user } : {}) },
    {
      ...toSshOverrides(options),
      ...(inputs.password !== undefined ? { password: inputs.password } : {}),
      ...(inputs.prompter ? { prompter: inputs.prompter } : {}),
    },
  );
  const connector = createConnector(ssh);
  const profile = inputs.profile ?? 'mount';
  const diskLog = inputs.log.child({ layer: 'disk-cache' });
  // The disk cache's index is read and checked while SSH connects (local disk against round trips), under the
  // root as spelled when it is absolute; the resolved root decides (connectDisk).
  const spelledRoot = spec.path.startsWith('/') ? posix.normalize(spec.path).replace(/(.)\/+$/, '$1') : null;
  const early = options.cache && options.diskCache && spelledRoot !== null ? openDiskStore(ssh, spelledRoot, options, diskLog) : null;
  let remote: SftpRemoteFs;
  try {
    remote = await createSftpRemoteFs(connector, spec.path, {
      maxConns: options.maxConns,
      reconnect: options.reconnect,
      opTimeoutMs: options.opTimeout * 1000,
      logger: inputs.log.child({ layer: 'sftp' }),
      operationContext: inputs.operationContext,
      // A dev server's first page needs the metadata connection first (the listing, the watcher, the database
      // tunnel); its files come from the start-up stream or the disk cache. A mount keeps failing at start when
      // a data connection cannot be made.
      dataConnections: profile === 'serve' ? 'in-background' : 'with-meta',
    });
  } catch (err) {
    await early?.then((store) => store?.close());
    if (err instanceof FsError && (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EACCES' || err.code === 'EPERM')) {
      const where = `${spec.host}:${spec.path || '~'}`;
      const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'ENOTDIR' ? 'is not a directory' : 'is not accessible';
      throw new UserError('remotePath', `remote path ${where} ${why}: check the path after the colon`);
    }
    throw err;
  }
  const onPhase = inputs.onPhase ?? (() => undefined);
  onPhase('sshConnected');
  const clock = createWatchedClock();
  const memory = createCachedRemoteFs(remote, {
    enabled: options.cache,
    attrTimeoutMs: options.cacheTimeout * 1000,
    linkTimeoutMs: options.cacheTimeout * 1000,
    dirTimeoutMs: options.dcacheTimeout * 1000,
    negativeTimeoutMs: options.negativeTimeout * 1000,
    autoCache: options.autoCache,
    now: clock.now,
    ...(profile === 'serve' ? SERVE_CACHE : {}),
  });
  // Whole-subtree metadata in one exec round trip on first access (fs/prefetch); READDIR walk on SFTP-only servers.
  const prefetching = withPrefetch(memory, {
    shell: { shell: remote.selfCheckingShell, serverRoot: remote.remoteRoot },
    log: inputs.log.child({ layer: 'prefetch' }),
    ...(inputs.operationContext ? { operationContext: inputs.operationContext } : {}),
  });
  const { prefetcher } = prefetching;
  const foreground = createForegroundGate();
  const store = options.cache && options.diskCache ? await connectDisk(early, spelledRoot, ssh, remote, options, diskLog) : null;
  const onDisk = store
    ? withDiskCache(prefetching, store, { isOffline: () => remote.state() !== 'connected', log: diskLog, whenQuiet: () => foreground.whenQuiet() })
    : null;
  onPhase('diskCacheOpened');
  const disk = onDisk?.disk ?? null;
  const top: CacheLayer = onDisk ?? prefetching;
  // A plain mount lists the whole tree at start only to use a disk cache it has; otherwise listings start as the
  // tree is walked (fs/prefetch), as before: a home directory of a million names is not listed for one `cat`.
  const warmsUp = profile === 'serve' || (disk?.stats().diskEntries ?? 0) > 0;
  const warm = prefetcher && warmsUp
    ? warmStart(
      { prefetcher, disk, isLocal: (path) => top.control.freshEntry(path)?.content !== undefined || (disk?.holds(path) ?? false), log: inputs.log.child({ layer: 'prefetch' }), onPhase },
      { stream: profile === 'serve', contentBytes: Math.floor(memory.control.options.dataCacheBytes / 2), preloadBytes: START_PRELOAD_BYTES },
    )
    : Promise.resolve(null);
  const vfs = createVfsOver(top, remote, { followSymlinks: options.followSymlinks, readOnly: options.readOnly });
  return Object.freeze({ vfs, remote, connector, clock, disk, foreground, warm });
}

/**
 * The disk store of the resolved root: the one opened early when the root as spelled is the one the server
 * resolved (the usual case), else (a symlink on the way, a relative path) that one is closed and the right one
 * opened. The key is always the resolved root, so two spellings of one remote share a cache (remote-key.ts); the
 * directory made for the spelled root then stays empty.
 */
async function connectDisk(
  early: Promise<DiskStore | null> | null, spelledRoot: string | null, ssh: ResolvedSshOptions, remote: SftpRemoteFs, options: MountOptions, log: Logger,
): Promise<DiskStore | null> {
  if (early !== null && spelledRoot === remote.remoteRoot) return early;
  await early?.then((store) => store?.close());
  return openDiskStore(ssh, remote.remoteRoot, options, log);
}

/**
 * The disk store of one remote root in `cache_dir` (default `${XDG_CACHE_HOME:-~/.cache}/devmount`), one
 * directory per remote; null (with a log line) when its directory cannot be made or read: the mount runs without it.
 */
async function openDiskStore(ssh: ResolvedSshOptions, root: string, options: MountOptions, log: Logger): Promise<DiskStore | null> {
  const key = remoteKey({ user: ssh.user, host: ssh.hostName, port: ssh.port, root });
  const dir = remoteCacheDir(options.cacheDir !== undefined ? expandTilde(options.cacheDir) : devmountCacheDir(), key, ssh.hostName);
  try {
    return await DiskStore.open(dir, key, DISK_CACHE_BYTES, log);
  } catch (err) {
    log.warn({ dir, err: (err as Error).message }, 'disk cache unavailable; going on without it');
    return null;
  }
}
