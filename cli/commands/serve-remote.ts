/**
 * `devmount serve [user@]host:/path`: the dev server reading a remote tree through the devmount VFS in
 * this process. Connection options use the mount spellings through `-o …` (`-o Port=22`); `-p/--port` stays the
 * HTTP port, as in every dev server. The flags are added to `serve` through serve.ts's flag hooks.
 */
import { resolve as resolvePath } from 'node:path';
import { Option, type Command } from 'commander';
import type { FileSource } from '../../devserver/file-source.js';
import type { ConfigReader } from '../../devserver/nginx/parser.js';
import { createSftpRemoteFs } from '../../fs/sftp/remote-fs.js';
import type { Connector } from '../../fs/ssh/types.js';
import { parseRemoteSpec, type RemoteSpec } from '../../fs/remote-spec.js';
import type { DevServer, DevServerOptions } from '../../devserver/server.js';
import { parseOptionList, REMOTE_WATCH_SETTINGS, type MountOptions, type RemoteWatchSetting } from '../mount-options.js';
import { openMountStackParts } from '../mount-stack.js';
import { mountPrivately, type PrivateMount } from '../private-mount.js';
import type { Vfs } from '../../fs/vfs/types.js';
import type { WatchedClock } from '../../fs/cache/watched-clock.js';
import { readPasswordFromStdin } from '../password-stdin.js';
import { createStartTimeline } from '../start-timeline.js';
import { openServeLog } from '../logs/serve-log.js';
import { createTtyPrompter } from '../prompter.js';
import { remoteRequestScope, startRemoteServe, type RemoteServe } from '../remote-serve.js';
import { createCloserStack } from '../../fs/closers.js';
import { exitOnSignals } from '../exit-on-signals.js';
import type { Logger } from 'pino';
import { ExitCode } from '../exit-codes.js';
import { UserError } from '../user-error.js';
import type { ServeFlagHook, ServeFlags, ServeHookContext } from './serve-flags.js';

/**
 * The server's files by absolute path over one more SFTP connection rooted at '/' (the site's own is rooted at
 * the site): for its nginx configuration when it runs no commands. Unreadable files read as missing.
 */
async function openServerFiles(connector: Connector): Promise<ConfigReader & { close(): Promise<void> }> {
  const fs = await createSftpRemoteFs(connector, '/', { maxConns: 1 });
  return {
    readFile: (path) => fs.readFile(path).then((data) => data.toString('utf8'), () => null),
    readdir: (path) => fs.readdir(path).then((entries) => entries.map((e) => e.name), () => []),
    close: () => fs.close(),
  };
}
import { sitePhpCgi } from './serve-php.js';
import { parseDbTarget, parseLocalForward, TunnelSpecError } from '../../fs/tunnel/spec.js';
import { DEFAULT_PORTS } from '../../fs/tunnel/site-config.js';
import type { SiteTunnelOptions } from '../../fs/tunnel/site-tunnels.js';

interface RemoteFlags {
  db?: string | boolean;
  localForward?: string[];
  option?: string[];
  passwordStdin?: boolean;
  remoteWatch?: RemoteWatchSetting;
  remotePoll?: string;
  remoteTimeout?: string;
  cacheDir?: string;
  diskCache?: boolean;
}

/** Defaults: a server-side edit reaches the browser within 2 s even with the find loop or SFTP polling. */
export const REMOTE_SERVE_DEFAULTS = Object.freeze({ remotePollMs: 1000, requestTimeoutMs: 5000 });

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseMs(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new UserError('usage', `${flag} must be a whole number of milliseconds from ${min} to ${max}, not "${value}"`);
  }
  return n;
}

/** True when the DIR argument of `serve` names a remote: `[user@]host:path` (scp's rule: a colon before any slash). */
export function looksRemote(dir: string): boolean {
  const colon = dir.indexOf(':');
  const slash = dir.indexOf('/');
  return colon > 0 && (slash < 0 || colon < slash);
}

export const remoteServeHook: ServeFlagHook = {
  addOptions(command: Command) {
    command
      .option('-o, --option <options>', 'for user@host:/path: connection and cache options, as for mount (-o Port=2222,IdentityFile=…); repeatable', collect, [])
      .option('--password-stdin', 'for user@host:/path: read the SSH password from the first line of stdin')
      .addOption(new Option('--remote-watch <method>', 'for user@host:/path: how edits made on the server are detected')
        .choices([...REMOTE_WATCH_SETTINGS]).default('auto'))
      .option('--remote-poll <ms>', `for user@host:/path: interval of the find loop / SFTP polling (default ${REMOTE_SERVE_DEFAULTS.remotePollMs})`)
      .option('--db <HOST:PORT|SOCKET>', "for user@host:/path: the site's database on the server (default: read from wp-config.php or .env)")
      .option('--no-db', 'for user@host:/path: no database tunnel')
      .option('-L, --local-forward <spec>', 'for user@host:/path: also forward a local port or socket to the server, as ssh -L (6379:127.0.0.1:6379, /tmp/x.sock:/run/redis.sock); repeatable', collect, [])
      .option('--remote-timeout <ms>', `for user@host:/path: a request waits this long for the server before a 504 (default ${REMOTE_SERVE_DEFAULTS.requestTimeoutMs})`)
      .option('--cache-dir <dir>', 'for user@host:/path: where fetched files are kept between runs (default ${XDG_CACHE_HOME:-~/.cache}/devmount)')
      .option('--no-disk-cache', 'for user@host:/path: keep fetched files in memory only');
  },
  resolve(flags: ServeFlags, context: { source: FileSource }) {
    const remote = flags as RemoteFlags;
    const servingRemote = 'notifyRemoteChanges' in context.source; // the VfsFileSource of runRemoteServe
    if (!servingRemote && ((remote.option?.length ?? 0) > 0 || remote.passwordStdin || typeof remote.db === 'string' || (remote.localForward?.length ?? 0) > 0
      || remote.cacheDir !== undefined || remote.diskCache === false)) {
      throw new UserError('usage', '-o, --password-stdin, --db, -L, --cache-dir and --no-disk-cache apply to a remote site (devmount serve user@host:/path)');
    }
    return {};
  },
};

/**
 * Whether PHP or CGI scripts may run, so php-cgi needs real paths (a private FUSE mount): --php or --cgi given,
 * or (as `devmount serve` decides for a local directory) .php files or a cgi-bin/ directory in the site root.
 */
async function runsScripts(flags: ServeFlags, vfs: Vfs): Promise<boolean> {
  const php = flags.php as boolean | string | undefined;
  if (php === true || typeof php === 'string' || ((flags.cgi as string[] | undefined)?.length ?? 0) > 0) return true;
  const entries = await vfs.readdir('/');
  return entries.some((e) => (php !== false && e.name.toLowerCase().endsWith('.php')) || e.name === 'cgi-bin');
}

/**
 * Runs `serve user@host:/path` until SIGINT/SIGTERM. `baseOptions` builds the DevServerOptions every serve
 * shares (port, host, headers, PHP slots …) from the source.
 */
/** --db/--no-db and -L, parsed once (a bad spelling is a usage error before anything connects). */
export function resolveTunnelFlags(flags: { db?: string | boolean; localForward?: string[] }): SiteTunnelOptions {
  try {
    const forwards = (flags.localForward ?? []).map(parseLocalForward);
    if (flags.db === false) return Object.freeze({ db: 'off' as const, forwards });
    if (typeof flags.db !== 'string') return Object.freeze({ db: 'auto' as const, forwards });
    // PostgreSQL is recognised by its port or its socket name (.s.PGSQL.5432); MySQL/MariaDB otherwise.
    const engine = /(^|:)5432$|\.s\.PGSQL\./.test(flags.db) ? 'postgres' as const : 'mysql' as const;
    return Object.freeze({ db: Object.freeze({ engine, target: parseDbTarget(flags.db, DEFAULT_PORTS[engine]) }), forwards });
  } catch (err) {
    if (err instanceof TunnelSpecError) throw new UserError('usage', err.message);
    throw err;
  }
}

export async function runRemoteServe(
  remoteArg: string,
  flags: ServeFlags,
  baseOptions: (context: ServeHookContext) => Promise<Omit<DevServerOptions, 'source'>>,
): Promise<void> {
  const timeline = createStartTimeline();
  timeline.mark('command');
  const remote = flags as ServeFlags & RemoteFlags;
  const resolved = resolveRemoteFlags(remoteArg, remote);
  const { mountOptions } = resolved;
  const serveLog = await openServeLog(flags.logFormat, remoteArg);
  const log = serveLog.logger;
  // Every resource below pushes its closer: a stop and a failed start unwind the same stack (the log last).
  const closers = createCloserStack();
  closers.push(() => serveLog.close());
  let served: RemoteServe;
  let privateMount: PrivateMount | undefined;
  try {
    const password = remote.passwordStdin ? await readPasswordFromStdin() : undefined;
    const requestScope = remoteRequestScope(log);
    const { vfs, remote: sftp, connector, clock } = await openMountStackParts(resolved.spec, mountOptions, {
      password, prompter: createTtyPrompter(), log, profile: 'serve', onPhase: timeline.mark, ...(requestScope ? { operationContext: requestScope } : {}),
    });
    closers.push(() => vfs.close());
    // The private mount is made while the remote watcher starts (startRemoteServe): both wait on the network.
    const mounting = mountForScripts(flags, vfs, sftp.remoteRoot, mountOptions, remoteArg, log, clock).then((mount) => {
      timeline.mark('privateMounted');
      privateMount = mount;
      if (mount) closers.push(() => mount.close());
      return mount;
    });
    try {
      served = await startRemoteServe(vfs, sftp, {
        description: remoteArg,
        remoteWatch: remote.remoteWatch ?? 'auto',
        remotePollMs: resolved.remotePollMs,
        requestTimeoutMs: resolved.requestTimeoutMs,
        log,
        server: (source, site) => baseOptions({
          source, log, site,
          remote: { shell: { exec: (command) => sftp.exec(command) }, openSftp: () => openServerFiles(connector), root: sftp.remoteRoot },
        }),
        ...(requestScope ? { requestScope } : {}),
        tunnels: resolved.tunnels,
        phpCgi: await sitePhpCgi(flags),
        say: (line) => process.stdout.write(`${line}\n`),
        clock,
        localRoot: mounting.then((mount) => mount?.path),
        onPhase: timeline.mark,
      });
    } catch (err) {
      await mounting.catch(() => undefined); // its own failure is logged there; the start's failure is reported
      throw err;
    }
    const started = served;
    closers.push(() => started.close());
  } catch (err) {
    await closers.unwind();
    throw err;
  }
  const watchNote = served.watchMethod === 'off'
    ? `remote watching off: changes seen within cache_timeout=${mountOptions.cacheTimeout}s`
    : `remote watch: ${served.watchMethod}`;
  printServing(`${remoteArg} (${watchNote}${flags.livereload ? ', live reload on' : ''})`, served.server);
  timeline.report(log);
  const stop = exitOnSignals(closers, { hangup: true });
  if (privateMount) {
    // A bug must not leave the private mount behind as a dead "Transport endpoint is not connected" directory.
    process.once('uncaughtException', (err) => {
      log.fatal({ err: err.message, stack: err.stack }, 'internal error; stopping');
      stop(ExitCode.failure);
    });
  }
}

/** The remote flags, checked before anything connects (a bad spelling is a usage error). */
function resolveRemoteFlags(remoteArg: string, remote: RemoteFlags) {
  let spec: RemoteSpec;
  try {
    spec = parseRemoteSpec(remoteArg);
  } catch (err) {
    throw new UserError('usage', (err as Error).message);
  }
  // --cache-dir and --no-disk-cache are the -o cache_dir= and disk_cache=no of mount, spelled as flags (and win).
  const parsedOptions = parseOptionList(remote.option ?? []);
  const mountOptions = Object.freeze({
    ...parsedOptions,
    ...(remote.cacheDir !== undefined ? { cacheDir: resolvePath(remote.cacheDir) } : {}),
    ...(remote.diskCache === false ? { diskCache: false } : {}),
  });
  const tunnels = resolveTunnelFlags(remote);
  const remotePollMs = parseMs(remote.remotePoll, '--remote-poll', REMOTE_SERVE_DEFAULTS.remotePollMs, 100, 3_600_000);
  const requestTimeoutMs = parseMs(remote.remoteTimeout, '--remote-timeout', REMOTE_SERVE_DEFAULTS.requestTimeoutMs, 100, 600_000);
  return Object.freeze({ spec, mountOptions, tunnels, remotePollMs, requestTimeoutMs });
}

/** A private FUSE mount for php-cgi when the site runs scripts; none (and a warning) when it cannot be made. */
async function mountForScripts(
  flags: ServeFlags, vfs: Vfs, remoteRoot: string, mountOptions: MountOptions, remoteArg: string, log: Logger, clock: WatchedClock,
): Promise<PrivateMount | undefined> {
  if (!(await runsScripts(flags, vfs))) return undefined;
  try {
    const privateMount = await mountPrivately(vfs, remoteRoot, mountOptions, remoteArg, log, clock);
    process.stdout.write(`devmount serve: PHP/CGI scripts run from a private mount of the site at ${privateMount.path}\n`);
    return privateMount;
  } catch (err) {
    // Static pages still work; scripts answer 502 "no local path" (devserver/cgi/dispatch.ts).
    log.warn({ err: (err as Error).message }, 'no FUSE mount for PHP/CGI: scripts will not run (static files are served)');
    return undefined;
  }
}

/** The start-up line for --site-url (local and remote sites). */
/**
 * The start-up lines of a dev server, in one write: what is served, its URLs and the production URL the application
 * sees, so a reader that waits for the URLs (a script, a test) has every line.
 */
export function printServing(what: string, server: DevServer): void {
  const lines = [`devmount serve: ${what}`, ...server.urls.map((url) => `  ${url}`)];
  if (server.siteUrl !== null) lines.push(`  the application sees ${server.siteUrl.origin}; links to it point here`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
