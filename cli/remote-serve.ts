/**
 * Serving a remote site in the process that holds the VFS: mount stack → remote watcher (over the
 * SFTP layer's exec channel) → VfsFileSource → dev server. Used by `devmount serve user@host:/path` and by
 * `devmount mount … --serve` (then `localRoot` is the FUSE mount point, which php-cgi can read).
 *
 * Change events reach live reload and every cache from two feeds: the VFS itself (writes through this process
 * or its FUSE mount, at release/flush time) and the remote watcher (edits made on the server by anyone else).
 * With remote watching off, the dev server's own cache is turned off, so nothing served is older than the VFS
 * cache TTL (cache_timeout) — the freshness bound for that case.
 */
import type { Logger } from 'pino';
import type { WatchedClock } from '../fs/cache/watched-clock.js';
import type { SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import type { Vfs } from '../fs/vfs/types.js';
import type { RemoteWatcher, WatchMethod } from '../fs/watch/remote-watcher.js';
import { DEFAULT_LIVERELOAD_OPTIONS } from '../devserver/livereload/hub.js';
import { createDevServer, type DevServer, type DevServerOptions } from '../devserver/server.js';
import { createVfsFileSource, type VfsFileSource } from '../devserver/sources/vfs.js';
import { remoteReachability, trackReachability } from '../devserver/middlewares/remote-reachability.js';
import { trackRequestedDirs } from '../devserver/middlewares/track-requested-dirs.js';
import type { Middleware } from '../devserver/middleware.js';
import type { FileSource } from '../devserver/file-source.js';
import { mergeSlots } from '../devserver/stack.js';
import { createCloserStack, type CloserStack } from '../fs/closers.js';
import type { RemoteWatchSetting } from './mount-options.js';
import { startConfiguredWatcher } from './remote-watch.js';
import { createRequestScope, type RequestScope } from '../devserver/request-scope.js';
import { openSiteTunnels, type SiteTunnelOptions, type SiteTunnels } from '../fs/tunnel/site-tunnels.js';
import { wordpressSiteUrl } from './site-url.js';
import { wordpressLocalArgs } from './wordpress-local.js';
import { parseSiteUrl, SiteUrlError, type SiteUrl } from '../devserver/site-url.js';

/**
 * The request scope for a remote site, or undefined: remote operations are logged per request at debug level
 * only, so below it nobody would read the scope and its cost (devserver/request-scope.ts) is not paid.
 */
export function remoteRequestScope(log: Logger): RequestScope | undefined {
  return log.isLevelEnabled('debug') ? createRequestScope() : undefined;
}

/** What the site needs from the server besides its files, handed to the dev server's option builder. */
export interface SiteContext {
  /** php-cgi `-d` settings (the database tunnel's default socket/port). */
  readonly phpArgs: readonly string[];
  /** The production URL detected from the live database, when there is one. */
  readonly siteUrl: SiteUrl | undefined;
}

export type ServerOptions = Omit<DevServerOptions, 'source' | 'cache'>;

export interface RemoteServeOptions {
  /** "user@host:/var/www/site", for the banner, logs and error pages. */
  readonly description: string;
  readonly remoteWatch: RemoteWatchSetting;
  /** Interval of the find loop and of SFTP polling (the inotify strategy needs none). */
  readonly remotePollMs: number;
  /** Deadline of one remote call made for a request: past it the browser gets a 504 "remote unreachable". */
  readonly requestTimeoutMs: number;
  /**
   * The FUSE mount of the same VFS, when there is one (php-cgi reads scripts there); a promise when it is still
   * being made (the remote watcher starts meanwhile: both take round trips, neither needs the other).
   */
  readonly localRoot?: string | Promise<string | undefined>;
  /**
   * Everything else of the dev server (port, host, live reload, PHP slots …), built once the source exists
   * (the PHP/.htaccess hooks read through it); source and cache are set here.
   */
  readonly server: (source: FileSource, site: SiteContext) => Promise<ServerOptions> | ServerOptions;
  readonly log: Logger;
  /** The scope the VFS's SFTP layer reads request ids from (remoteRequestScope), when there is one. */
  readonly requestScope?: RequestScope;
  /** The database tunnel and `-L` forwards (none when absent). */
  readonly tunnels?: SiteTunnelOptions;
  /** php-cgi, to read the production URL through the tunnel (no detection when absent, or when --site-url names it). */
  readonly phpCgi?: string | null;
  /** Start lines for the person at the terminal (default: the log). */
  readonly say?: (line: string) => void;
  /** The TTL clock of the VFS caches (MountStackParts.clock): stopped while the remote watcher is healthy. */
  readonly clock?: WatchedClock;
  /** Told when each phase of the start ends (cli/start-timeline.ts). */
  readonly onPhase?: (phase: string) => void;
}

export interface RemoteServe {
  readonly server: DevServer;
  readonly source: VfsFileSource;
  /** The strategy detected (or forced) at start, or 'off'; shown in the banner and `devmount status`. */
  readonly watchMethod: WatchMethod | 'off';
  /** Stops the watcher and the server; the VFS stays open (its owner closes it). */
  close(): Promise<void>;
}

/**
 * Live reload over a remote: the remote watcher already batches a burst (REMOTE_WATCHER_DEFAULTS.batchMs), so
 * the hub's own quiet period is shortened to keep a write through the mount within 200 ms of its close();
 * a `git pull` on the server still gives one reload (maxWaitMs caps a never-ending stream).
 */
const REMOTE_LIVERELOAD = Object.freeze({ ...DEFAULT_LIVERELOAD_OPTIONS, quietMs: 60 });

/**
 * A detected URL the dev server can stand in for (scheme and host only: --site-url's rule), with its start line;
 * `from` says where it was read ('WordPress "home", read from its database').
 */
export function parseDetectedUrl(found: string, from: string, say: (line: string) => void): SiteUrl | undefined {
  try {
    const parsed = parseSiteUrl(found);
    say(`devmount serve: production URL ${parsed.origin} (${from})`);
    return parsed;
  } catch (err) {
    if (!(err instanceof SiteUrlError)) throw err;
    say(`devmount serve: production URL ${found} (${from}) not used: ${err.message}`);
    return undefined;
  }
}

async function readIfExists(source: FileSource, path: string): Promise<Buffer | null> {
  const st = await source.stat(path);
  return st?.kind === 'file' ? source.readFile(path) : null;
}

/** Tunnels first (PHP's settings depend on them), then the production URL read through the database tunnel. */
async function openSite(source: FileSource, remote: SftpRemoteFs, opts: RemoteServeOptions & { say: (line: string) => void; onPhase: (phase: string) => void }): Promise<{ tunnels: SiteTunnels; site: SiteContext }> {
  const tunnels = await openSiteTunnels(opts.tunnels ?? { db: 'off', forwards: [] }, {
    client: () => remote.sshClient(),
    shell: remote.selfCheckingShell,
    readSiteFile: (path) => readIfExists(source, path),
    say: opts.say,
    onForwardError: (err) => opts.log.warn({ kind: err.kind }, err.message),
  });
  opts.onPhase('tunnelsOpened');
  let siteUrl: SiteUrl | undefined;
  const database = tunnels.database;
  if (database !== null && database.from === 'wp-config.php' && tunnels.databaseLocal !== null && opts.phpCgi) {
    const found = await wordpressSiteUrl(opts.phpCgi, database, tunnels.databaseLocal);
    if (found instanceof Error) opts.say(`devmount serve: could not read the site's URL from its database (${found.message})`);
    else siteUrl = parseDetectedUrl(found, 'WordPress "home", read from its database', opts.say);
    opts.onPhase('siteUrlRead');
  }
  const phpArgs = [...tunnels.phpArgs];
  if (database !== null && database.from === 'wp-config.php' && tunnels.databaseLocal !== null) {
    const wpConfig = await readIfExists(source, '/wp-config.php');
    const cronArgs = wpConfig === null ? [] : await wordpressLocalArgs(wpConfig.toString('utf8'), tunnels.dir);
    if (cronArgs.length > 0) opts.say('devmount serve: WP-Cron is off here (DISABLE_WP_CRON): the server runs the scheduled jobs, and WordPress would call its production URL to start them');
    phpArgs.push(...cronArgs);
  }
  return { tunnels, site: Object.freeze({ phpArgs, siteUrl }) };
}

export async function startRemoteServe(vfs: Vfs, remote: SftpRemoteFs, options: RemoteServeOptions): Promise<RemoteServe> {
  const opts = Object.freeze({ say: (line: string) => options.log.info(line), onPhase: () => undefined, ...options });
  // Whatever is opened below is closed by close(), or at once when a later step fails, in reverse order.
  const closers = createCloserStack();
  try {
    const source = openSource(vfs, remote, opts, closers);
    const { watcher, site } = await watchAndOpenSite(remote, source, opts, closers);
    const reachability = trackReachability(remote, opts.requestTimeoutMs, opts.log);
    closers.push(() => reachability.close());
    const early: Middleware[] = [remoteReachability(reachability, opts.description)];
    if (watcher?.method === 'sftp-poll') early.push(trackRequestedDirs(watcher));
    const serverOptions = await opts.server(source, site);
    opts.onPhase('featuresAssembled');
    const server = await createDevServer(Object.freeze({
      ...serverOptions,
      ...(serverOptions.liveReload === false ? {} : { liveReload: REMOTE_LIVERELOAD }),
      source,
      ...(opts.remoteWatch === 'off' ? { cache: false as const } : {}),
      slots: mergeSlots({ early }, serverOptions.slots ?? {}),
      ...(opts.requestScope ? { requestScope: opts.requestScope } : {}),
    }));
    closers.push(() => server.close()); // closes the source too
    opts.onPhase('listening');
    const watchMethod = watcher?.method ?? 'off';
    opts.log.info({ remote: opts.description, watch: watchMethod, url: server.url }, 'serving the remote site');
    return {
      server,
      source,
      watchMethod,
      async close() {
        const [first] = await closers.unwind();
        if (first !== undefined) throw first;
      },
    };
  } catch (err) {
    await closers.unwind();
    throw err;
  }
}

/**
 * The VfsFileSource, at once: it reads through the VFS while the FUSE mount php-cgi reads (localRoot) is still
 * being made, and hands out local paths once it is.
 */
function openSource(vfs: Vfs, remote: SftpRemoteFs, opts: RemoteServeOptions, closers: CloserStack): VfsFileSource {
  const source = createVfsFileSource(vfs, {
    description: opts.description,
    remoteRootAbs: remote.remoteRoot,
    ...(opts.localRoot !== undefined ? { localRoot: opts.localRoot } : {}),
    requestTimeoutMs: opts.requestTimeoutMs,
    revalidateEveryMs: 0, // watching off: the server cache is off instead, see the header comment
  });
  closers.push(() => source.close());
  return source;
}

/**
 * The remote watcher, the FUSE mount php-cgi reads (localRoot) and the site's tunnels and production URL come
 * up together: each waits on the network (a handshake, an exec channel, a database query), none needs another.
 * php-cgi runs scripts from the private mount, so nothing is served before it exists (or failed to be made).
 */
async function watchAndOpenSite(
  remote: SftpRemoteFs, source: VfsFileSource, opts: RemoteServeOptions & { say: (line: string) => void; onPhase: (phase: string) => void }, closers: CloserStack,
): Promise<{ watcher: RemoteWatcher | null; site: SiteContext }> {
  const [watched, mounted, opened] = await Promise.allSettled([
    startConfiguredWatcher(remote, opts.remoteWatch, opts.remotePollMs, (changes) => source.notifyRemoteChanges(changes), opts.clock)
      .finally(() => opts.onPhase('watching')),
    Promise.resolve(opts.localRoot),
    openSite(source, remote, opts).finally(() => opts.onPhase('siteOpened')),
  ]);
  if (watched.status === 'fulfilled' && watched.value !== null) {
    const watcher = watched.value;
    closers.push(() => watcher.close());
  }
  if (opened.status === 'fulfilled') {
    const { tunnels } = opened.value;
    closers.push(() => tunnels.close());
  }
  if (watched.status === 'rejected') throw watched.reason;
  if (mounted.status === 'rejected') throw mounted.reason;
  if (opened.status === 'rejected') throw opened.reason;
  return { watcher: watched.value, site: opened.value.site };
}
