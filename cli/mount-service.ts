/**
 * The process that serves one mount (the daemon child, or the foreground process with -f): opens the stack,
 * mounts it, listens on the control socket, and shuts down cleanly on SIGTERM/SIGINT, on `devmount unmount`,
 * or when someone else unmounted the directory. Every exit path unmounts and closes the VFS (which flushes
 * buffered writes); a failure before "ready" leaves nothing mounted.
 *
 * serveMount reads as its phases: openMountLog → openFileSystem → watchServerEdits (-o remote_watch) →
 * mountFuse → stopWhenSessionGivesUp → serveSite (--serve) → listenForControl → pollExternalUnmount → ready.
 * Each phase that opens something pushes its closer onto one stack (fs/closers.ts); a stop (signal, `devmount
 * unmount`, unmounted from outside, internal error) and a failure during the start unwind that same stack.
 */
import type { Logger } from 'pino';
import type { RemoteSpec } from '../fs/remote-spec.js';
import { createCloserStack, type CloserStack } from '../fs/closers.js';
import { FuseMountError, mountVfs, type FuseMount } from '../fs/fuse/adapter.js';
import { findMount } from '../fs/fuse/mount-table.js';
import { fuseAdapterOptions } from './fuse-mount-options.js';
import type { Vfs } from '../fs/vfs/types.js';
import { ensureControlDir, socketPathFor } from './control/paths.js';
import type { ControlReply, ControlRequest, MountStatus } from './control/protocol.js';
import { startControlServer } from './control/server.js';
import { ExitCode } from './exit-codes.js';
import { createMountLogger } from './mount-logger.js';
import { openRotatingLogFile, rotatingFileStream } from './logs/rotating-file.js';
import type { MountCommandOptions } from './mount-options.js';
import { openMountStackParts, type MountStackParts } from './mount-stack.js';
import { remoteRequestScope, startRemoteServe, type RemoteServe } from './remote-serve.js';
import { assembleServeFeatures, mountServeFlags, resolveFlags } from './commands/serve-features.js';
import { sitePhpCgi } from './commands/serve-php.js';
import { REMOTE_SERVE_DEFAULTS } from './commands/serve-remote.js';
import type { RequestScope } from '../devserver/request-scope.js';
import { createTtyPrompter } from './prompter.js';
import { UserError } from './user-error.js';
import { startConfiguredWatcher } from './remote-watch.js';
import type { RemoteWatcher } from '../fs/watch/remote-watcher.js';

export interface ServeMountParams {
  readonly spec: RemoteSpec;
  /** The remote as the user typed it, for status and /proc/mounts. */
  readonly remoteArg: string;
  readonly mountpoint: string;
  readonly options: MountCommandOptions;
  readonly password: string | undefined;
  /** Log file of a daemonized mount; undefined = stderr. */
  readonly logFile: string | undefined;
  /** Called once the mount is live (the daemon tells its parent). */
  readonly onReady: () => Promise<void>;
}

/** How often we look whether someone unmounted us from outside (fusermount -u, umount): no kernel event for it. */
const EXTERNAL_UNMOUNT_POLL_MS = 2_000;

function toUserError(err: unknown): unknown {
  if (err instanceof FuseMountError) return new UserError(err.kind === 'mountpoint' ? 'mountpoint' : 'fuse', err.message);
  return err;
}

/** `-o remote_watch` on a plain mount: the find and poll strategies look this often. */
const REMOTE_WATCH_POLL_MS = 2000;

/** What a running mount holds, as its phases open it: read by `devmount status` and the control requests. */
interface MountState {
  vfs: Vfs | undefined;
  mount: FuseMount | undefined;
  served: RemoteServe | undefined;
  watcher: RemoteWatcher | null;
  /** Closing the VFS failed (unwritten data?): the process exits non-zero. */
  dataLost: boolean;
}

function statusOf(vfs: Vfs, params: ServeMountParams, startedAtMs: number, { served, watcher, mount: fuse }: MountState): MountStatus {
  const stats = vfs.stats();
  const fast = fuse?.fastFiles();
  const kernel = fuse?.kernelCache();
  const dirs = fuse?.nativeDirs();
  const fastCounters: Record<string, number> = fast
    ? { fastGetattrs: fast.getattrs, fastOpens: fast.opens, fastReads: fast.reads, fastEscalations: fast.escalations, fastEntries: fast.entries, fastContentBytes: fast.contentBytes }
    : {};
  // Paths whose kernel copy was invalidated, and how many the kernel held (fs/fuse/kernel-cache.ts).
  const kernelCounters: Record<string, number> = kernel ? { kernelInvalidationsQueued: kernel.queued, kernelInvalidations: kernel.sent } : {};
  // READDIRs libfuse's threads answered from the directory table (fs/fuse/native-dirs.ts).
  const dirCounters: Record<string, number> = dirs ? { dirTableHits: dirs.hits, dirTableListings: dirs.listings, dirTableNegativeHits: dirs.negativeHits } : {};
  return {
    ...(served ? { serveUrl: served.server.url, remoteWatch: served.watchMethod } : {}),
    ...(watcher ? { remoteWatch: watcher.method } : {}),
    remote: params.remoteArg,
    mountpoint: params.mountpoint,
    pid: process.pid,
    state: stats.state,
    startedAt: new Date(startedAtMs).toISOString(),
    uptimeSeconds: Math.round((Date.now() - startedAtMs) / 1000),
    reconnects: stats.reconnects,
    inFlight: stats.inFlight,
    // Requests libfuse's threads answered from the fast-files table (fs/fuse/fast-files.ts).
    cache: { ...stats.cache, ...fastCounters, ...kernelCounters, ...dirCounters },
  };
}

/**
 * The VFS as the kernel sees it, with every directory listing handed to the sftp-poll watcher: on a server
 * without a shell, the directories someone listed are the ones whose cached state can go stale.
 */
function trackingListings(vfs: Vfs, watcher: RemoteWatcher): Vfs {
  return new Proxy(vfs, {
    get(target, prop) {
      if (prop === 'readdir') {
        return async (path: string) => {
          const entries = await target.readdir(path);
          watcher.track(path, entries);
          return entries;
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function isBusy(err: unknown): boolean {
  return /busy/i.test(err instanceof Error ? err.message : String(err));
}

export async function serveMount(params: ServeMountParams): Promise<void> {
  const { options, mountpoint } = params;
  const output = await openMountLog(params);
  const { log } = output;
  const startedAtMs = Date.now();
  const closers = createCloserStack();
  const state: MountState = { vfs: undefined, mount: undefined, served: undefined, watcher: null, dataLost: false };
  let stopping: Promise<never> | undefined;

  let mountAttempted = false;
  let startupSettled: () => void = () => undefined;
  const startup = new Promise<void>((resolve) => { startupSettled = resolve; });

  /** The one shutdown path: the closer stack (control socket, dev server, unmount, VFS …), the log, exit. */
  const stop = (reason: string, exitCode: number): Promise<never> => {
    stopping ??= (async () => {
      // Before the kernel mount is attempted there is nothing to undo: leave at once (Ctrl-C while connecting).
      if (!mountAttempted) process.exit(exitCode);
      // A signal during the mount itself waits until it is made (or failed), so it is undone, never orphaned.
      await startup;
      log.info({ reason }, 'stopping');
      await unwind(closers, log);
      const code = state.dataLost && exitCode === ExitCode.ok ? ExitCode.failure : exitCode;
      log.info({ exitCode: code }, 'stopped');
      await output.end();
      process.exit(code);
    })();
    return stopping;
  };

  stopOnProcessEvents(stop, log);
  try {
    // `--serve` at debug level: the dev server's requests name the remote operations done for them.
    const requestScope = options.serve ? remoteRequestScope(log) : undefined;
    const parts = await openFileSystem(params, log, requestScope, state, closers);
    const root = await parts.vfs.getattr('/');
    mountAttempted = true;
    const mountedVfs = await watchServerEdits(parts, options, state, closers);
    await mountFuse(parts, mountedVfs, root, params, log, state, closers);
    stopWhenSessionGivesUp(parts, stop);
    if (options.serve) await serveSite(parts, params, options.serve, log, requestScope, state, closers);
    await listenForControl(mountpoint, controlHandler(params, startedAtMs, state, () => stopping !== undefined, stop, log), closers);
  } catch (err) {
    startupSettled();
    await unwind(closers, log);
    throw toUserError(err);
  }

  pollExternalUnmount(mountpoint, () => stopping !== undefined, stop, log);
  startupSettled();
  if (stopping) return; // a signal arrived while starting: stop() is undoing the mount and will exit

  log.info({ remote: params.remoteArg, mountpoint, pid: process.pid }, 'mounted');
  await params.onReady();
  // A daemon must not keep the caller's working directory busy (daemon(3) does the same).
  process.chdir('/');
}

/** Runs the closer stack; what a closer did not report itself is logged here. */
async function unwind(closers: CloserStack, log: Logger): Promise<void> {
  for (const err of await closers.unwind()) {
    log.warn({ err: err instanceof Error ? err.message : String(err) }, 'closing reported an error');
  }
}

/**
 * The mount's log: a daemon's log file is NDJSON whatever --log-format says (it is read by `devmount logs`, and
 * jq, which print it readably), bounded and rotated like every devmount log file; in the foreground, stderr.
 */
async function openMountLog(params: ServeMountParams): Promise<{ readonly log: Logger; end(): Promise<void> }> {
  const destination = params.logFile ? rotatingFileStream(await openRotatingLogFile(params.logFile)) : process.stderr;
  const log = createMountLogger({ format: params.logFile ? 'json' : params.options.logFormat, debug: params.options.debug, destination });
  return {
    log,
    end: () => new Promise<void>((resolve) => {
      if (destination === process.stderr) resolve();
      else (destination as NodeJS.WritableStream).end(() => resolve());
    }),
  };
}

/** Signals, and a bug: each stops the mount cleanly. */
function stopOnProcessEvents(stop: (reason: string, exitCode: number) => Promise<never>, log: Logger): void {
  // A bug must not leave a dead "Transport endpoint is not connected" mount behind: log it and stop cleanly.
  process.on('uncaughtException', (err) => {
    log.fatal({ err: err.message, stack: err.stack }, 'internal error; unmounting');
    void stop('internal error', ExitCode.failure);
  });
  process.on('unhandledRejection', (reason) => {
    log.error({ err: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection');
  });
  process.on('SIGTERM', () => { void stop('SIGTERM', ExitCode.ok); });
  process.on('SIGINT', () => { void stop('SIGINT', ExitCode.interrupted); });
  // A daemon has no terminal; a foreground mount whose terminal closes should unmount cleanly too.
  process.on('SIGHUP', () => { void stop('SIGHUP', ExitCode.ok); });
}

/** SSH → SFTP → caches → VFS (cli/mount-stack.ts). Closing the VFS flushes buffered writes. */
async function openFileSystem(params: ServeMountParams, log: Logger, requestScope: RequestScope | undefined, state: MountState, closers: CloserStack): Promise<MountStackParts> {
  const { options } = params;
  const parts = await openMountStackParts(params.spec, options, {
    password: params.password, prompter: createTtyPrompter(), log, profile: options.serve ? 'serve' : 'mount',
    ...(requestScope ? { operationContext: requestScope } : {}),
  });
  state.vfs = parts.vfs;
  closers.push(async () => {
    try {
      await parts.vfs.close();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'closing the file system reported an error (unwritten data?)');
      state.dataLost = true;
    }
  });
  return parts;
}

/**
 * -o remote_watch: edits made on the server by others drop their cached state at once (sshfs#155). Started
 * before the mount so the kernel only ever sees a VFS whose listings it tracks; returns the VFS to mount.
 * (`--serve` watches the server itself: serveSite.)
 */
async function watchServerEdits(parts: MountStackParts, options: MountCommandOptions, state: MountState, closers: CloserStack): Promise<Vfs> {
  if (options.serve || options.remoteWatch === undefined) return parts.vfs;
  const watched = parts.vfs;
  const watcher = await startConfiguredWatcher(parts.remote, options.remoteWatch, REMOTE_WATCH_POLL_MS, (changes) => {
    for (const change of changes) watched.refresh(change.path);
  }, parts.clock);
  if (watcher === null) return watched;
  state.watcher = watcher;
  closers.push(() => watcher.close());
  return watcher.method === 'sftp-poll' ? trackingListings(watched, watcher) : watched;
}

/** The kernel mount. Undone by unmounting, or detaching lazily when it is busy. */
async function mountFuse(parts: MountStackParts, vfs: Vfs, root: Awaited<ReturnType<Vfs['getattr']>>, params: ServeMountParams, log: Logger, state: MountState, closers: CloserStack): Promise<void> {
  const { options, mountpoint } = params;
  const mount = await mountVfs(vfs, fuseAdapterOptions(options, root, {
    mountpoint,
    remoteRoot: parts.remote.remoteRoot,
    fsname: params.remoteArg,
    allowOther: options.allowOther,
    debug: options.debug,
    log: log.child({ layer: 'fuse' }),
    ttlClock: parts.clock,
  }));
  state.mount = mount;
  // The disk cache's writes wait while the kernel keeps sending requests (fs/foreground.ts).
  const stopCounting = parts.foreground.watch(() => mount.requestsServed());
  closers.push(async () => {
    stopCounting();
    // Already gone when someone unmounted us from outside; then only the VFS needs closing.
    if ((await findMount(mountpoint).catch(() => true)) === undefined) return;
    try {
      await mount.unmount();
    } catch (err) {
      // Busy (an open file, a shell's cwd): we are exiting anyway, so detach it (umount -l) rather than
      // leave a dead "Transport endpoint is not connected" mount behind.
      log.warn({ err: (err as Error).message }, 'unmount failed; detaching lazily');
      await mount.unmount({ lazy: true }).catch((lazyErr: unknown) => {
        log.warn({ err: (lazyErr as Error).message }, 'lazy unmount failed too');
      });
    }
  });
}

/**
 * A server that answers every reconnect with malformed SFTP packets: the session gave up (one log line); the
 * mount stops too instead of answering EIO forever.
 */
function stopWhenSessionGivesUp(parts: MountStackParts, stop: (reason: string, exitCode: number) => Promise<never>): void {
  const remote = parts.remote;
  remote.onStateChange(() => {
    const why = remote.gaveUp();
    if (why) void stop(why.message, ExitCode.protocol);
  });
}

/**
 * `--serve`: the dev server with `devmount serve`'s features (serve-features.ts) over the same VFS, in this
 * process (no kernel round trip); php-cgi, another process, reads the scripts through the mount point.
 */
async function serveSite(
  parts: MountStackParts, params: ServeMountParams, serve: NonNullable<MountCommandOptions['serve']>, log: Logger,
  requestScope: RequestScope | undefined, state: MountState, closers: CloserStack,
): Promise<void> {
  const flags = mountServeFlags(serve);
  const resolved = resolveFlags(flags);
  const served = await startRemoteServe(parts.vfs, parts.remote, {
    description: params.remoteArg,
    remoteWatch: params.options.remoteWatch ?? 'auto',
    ...REMOTE_SERVE_DEFAULTS,
    localRoot: params.mountpoint,
    log: log.child({ layer: 'serve' }),
    ...(requestScope ? { requestScope } : {}),
    clock: parts.clock,
    // The site's database through the mount's SSH connection, found in its configuration (fs/tunnel).
    tunnels: { db: 'auto', forwards: [] },
    phpCgi: await sitePhpCgi(flags),
    server: async (source, site) => ({
      ...(await assembleServeFeatures(flags, resolved, { source, log, site })),
      // In the mount's log, the request records are the http layer's.
      logger: log.child({ layer: 'http' }),
    }),
  });
  state.served = served;
  closers.push(() => served.close().catch((err: unknown) => {
    log.warn({ err: (err as Error).message }, 'closing the dev server reported an error');
  }));
}

/** `devmount status`, `refresh` and `unmount`, answered from the mount's state; an unmount request stops the process. */
function controlHandler(
  params: ServeMountParams, startedAtMs: number, state: MountState, stopping: () => boolean,
  stop: (reason: string, exitCode: number) => Promise<never>, log: Logger,
): (request: ControlRequest) => Promise<ControlReply> {
  const { mountpoint } = params;
  return async (request) => {
    const { vfs, mount } = state;
    if (!vfs) return { ok: false, error: 'not mounted yet' };
    switch (request.op) {
      case 'status':
        return { ok: true, status: statusOf(vfs, params, startedAtMs, state) };
      case 'refresh':
        vfs.refresh(request.path);
        log.info({ path: request.path ?? '/' }, 'refresh');
        return { ok: true };
      case 'unmount':
        if (stopping()) return { ok: true };
        try {
          await mount?.unmount();
        } catch (err) {
          if (isBusy(err)) {
            return { ok: false, error: `${mountpoint} is busy: close the files and shells using it (fuser -vm ${mountpoint}) and try again, or use --lazy` };
          }
          return { ok: false, error: `cannot unmount ${mountpoint}: ${(err as Error).message}` };
        }
        // Answer first; the VFS is closed (and the process exits) right after.
        setImmediate(() => { void stop('unmount requested', ExitCode.ok); });
        return { ok: true };
      default:
        return { ok: false, error: 'unknown request' };
    }
  };
}

/** The control socket `devmount status/refresh/unmount` talk to. */
async function listenForControl(mountpoint: string, handler: (request: ControlRequest) => Promise<ControlReply>, closers: CloserStack): Promise<void> {
  const control = await startControlServer(socketPathFor(mountpoint, await ensureControlDir()), handler);
  closers.push(() => control.close());
}

/** Someone else unmounted the directory (fusermount -u, umount): no kernel event says so, so we look. */
function pollExternalUnmount(mountpoint: string, stopping: () => boolean, stop: (reason: string, exitCode: number) => Promise<never>, log: Logger): void {
  const poll = setInterval(() => {
    findMount(mountpoint).then((entry) => {
      if (!entry && !stopping()) void stop('unmounted from outside', ExitCode.ok);
    }, (err: unknown) => log.warn({ err: (err as Error).message }, 'cannot read /proc/self/mounts'));
  }, EXTERNAL_UNMOUNT_POLL_MS);
  poll.unref();
}
