/**
 * The process that serves one mount (the daemon child, or the foreground process with -f): opens the stack,
 * mounts it, listens on the control socket, and shuts down cleanly on SIGTERM/SIGINT, on `devmount unmount`,
 * or when someone else unmounted the directory. Every exit path unmounts and closes the VFS (which flushes
 * buffered writes); a failure before "ready" leaves nothing mounted.
 */
import type { Logger } from 'pino';
import type { RemoteSpec } from '../fs/remote-spec.js';
import { FuseMountError, mountVfs, type FuseMount } from '../fs/fuse/adapter.js';
import { findMount } from '../fs/fuse/mount-table.js';
import { fuseAdapterOptions } from './fuse-mount-options.js';
import type { Vfs } from '../fs/vfs/types.js';
import { ensureControlDir, socketPathFor } from './control/paths.js';
import type { ControlReply, ControlRequest, MountStatus } from './control/protocol.js';
import { startControlServer, type ControlServer } from './control/server.js';
import { ExitCode } from './exit-codes.js';
import { createMountLogger } from './mount-logger.js';
import { openRotatingLogFile, rotatingFileStream } from './logs/rotating-file.js';
import type { MountCommandOptions } from './mount-options.js';
import { openMountStackParts } from './mount-stack.js';
import { remoteRequestScope, startRemoteServe, type RemoteServe } from './remote-serve.js';
import { findOnPath, phpServeHook } from './commands/serve-php.js';
import type { ServeFlags } from './commands/serve-flags.js';
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

/** `--serve`: server-side edits are looked for every second, so the browser sees them within 2 s. */
const SERVE_REMOTE_POLL_MS = 1000;
const SERVE_REQUEST_TIMEOUT_MS = 5000;
/** `-o remote_watch` on a plain mount: the find and poll strategies look this often. */
const REMOTE_WATCH_POLL_MS = 2000;
/**
 * The `devmount serve` defaults for the PHP/.htaccess hook: PHP on when the root has .php files and php-cgi is
 * installed; the scripts run from the mount point (localRoot), which php-cgi opens like any file.
 */
const SERVE_DEFAULT_FLAGS: ServeFlags = Object.freeze({
  host: '127.0.0.1', listing: true, header: [], livereload: true, allowedHost: [], logFormat: 'json' as const,
  cgi: [], proxy: [], htaccess: true,
});

function statusOf(vfs: Vfs, params: ServeMountParams, startedAtMs: number, served: RemoteServe | undefined, watcher: RemoteWatcher | null, fuse: FuseMount | undefined): MountStatus {
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
  const dirCounters: Record<string, number> = dirs ? { dirTableHits: dirs.hits, dirTableListings: dirs.listings } : {};
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
  // A daemon's log file is NDJSON whatever --log-format says: it is read by `devmount logs` (and jq), which
  // prints it readably; bounded and rotated like every devmount log file.
  const destination = params.logFile ? rotatingFileStream(await openRotatingLogFile(params.logFile)) : process.stderr;
  const log: Logger = createMountLogger({ format: params.logFile ? 'json' : options.logFormat, debug: options.debug, destination });
  const startedAtMs = Date.now();

  let vfs: Vfs | undefined;
  let mount: FuseMount | undefined;
  let control: ControlServer | undefined;
  let served: RemoteServe | undefined;
  let watcher: RemoteWatcher | null = null;
  let stopping: Promise<never> | undefined;

  let mountAttempted = false;
  let startupSettled: () => void = () => undefined;
  const startup = new Promise<void>((resolve) => { startupSettled = resolve; });

  /** The one shutdown path: control socket, unmount, flush and close the VFS, exit. */
  const stop = (reason: string, exitCode: number): Promise<never> => {
    stopping ??= (async () => {
      // Before the kernel mount is attempted there is nothing to undo: leave at once (Ctrl-C while connecting).
      if (!mountAttempted) process.exit(exitCode);
      // A signal during the mount itself waits until it is made (or failed), so it is undone, never orphaned.
      await startup;
      log.info({ reason }, 'stopping');
      await control?.close();
      await watcher?.close();
      await served?.close().catch((err: unknown) => {
        log.warn({ err: (err as Error).message }, 'closing the dev server reported an error');
      });
      // Already gone when someone unmounted us from outside; then only the VFS needs closing.
      const stillMounted = mount !== undefined && (await findMount(mountpoint).catch(() => true)) !== undefined;
      try {
        if (stillMounted) await mount?.unmount();
      } catch (err) {
        // Busy (an open file, a shell's cwd): we are exiting anyway, so detach it (umount -l) rather than
        // leave a dead "Transport endpoint is not connected" mount behind.
        log.warn({ err: (err as Error).message }, 'unmount failed; detaching lazily');
        await mount?.unmount({ lazy: true }).catch((lazyErr: unknown) => {
          log.warn({ err: (lazyErr as Error).message }, 'lazy unmount failed too');
        });
      }
      try {
        await vfs?.close();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'closing the file system reported an error (unwritten data?)');
        exitCode = exitCode === ExitCode.ok ? ExitCode.failure : exitCode;
      }
      log.info({ exitCode }, 'stopped');
      await new Promise<void>((resolve) => {
        if (destination === process.stderr) resolve();
        else (destination as NodeJS.WritableStream).end(() => resolve());
      });
      process.exit(exitCode);
    })();
    return stopping;
  };

  const handleControl = async (request: ControlRequest): Promise<ControlReply> => {
    if (!vfs) return { ok: false, error: 'not mounted yet' };
    switch (request.op) {
      case 'status':
        return { ok: true, status: statusOf(vfs, params, startedAtMs, served, watcher, mount) };
      case 'refresh':
        vfs.refresh(request.path);
        log.info({ path: request.path ?? '/' }, 'refresh');
        return { ok: true };
      case 'unmount':
        if (stopping) return { ok: true };
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
  try {
    const prompter = createTtyPrompter();
    // `--serve` at debug level: the dev server's requests name the remote operations done for them.
    const requestScope = options.serve ? remoteRequestScope(log) : undefined;
    const parts = await openMountStackParts(params.spec, options, {
      password: params.password, prompter, log, profile: options.serve ? 'serve' : 'mount',
      ...(requestScope ? { operationContext: requestScope } : {}),
    });
    vfs = parts.vfs;
    const root = await vfs.getattr('/');
    mountAttempted = true;
    // -o remote_watch: edits made on the server by others drop their cached state at once (sshfs#155).
    // Started before the mount so the kernel only ever sees a VFS whose listings it tracks.
    let mountedVfs: Vfs = vfs;
    if (!options.serve && options.remoteWatch !== undefined) {
      const watched = vfs;
      watcher = await startConfiguredWatcher(parts.remote, options.remoteWatch, REMOTE_WATCH_POLL_MS, (changes) => {
        for (const change of changes) watched.refresh(change.path);
      }, parts.clock);
      if (watcher?.method === 'sftp-poll') mountedVfs = trackingListings(vfs, watcher);
    }
    mount = await mountVfs(mountedVfs, fuseAdapterOptions(options, root, {
      mountpoint,
      remoteRoot: parts.remote.remoteRoot,
      fsname: params.remoteArg,
      allowOther: options.allowOther,
      debug: options.debug,
      log: log.child({ layer: 'fuse' }),
    }));
    // A server that answers every reconnect with malformed SFTP packets: the session gave up (one log line);
    // the mount stops too instead of answering EIO forever.
    const remote = parts.remote;
    remote.onStateChange(() => {
      const why = remote.gaveUp();
      if (why) void stop(why.message, ExitCode.protocol);
    });
    const serve = options.serve;
    if (serve) {
      // The dev server reads the VFS in this process (no kernel round trip); php-cgi, another process, reads
      // the scripts through the mount point.
      served = await startRemoteServe(vfs, parts.remote, {
        description: params.remoteArg,
        remoteWatch: options.remoteWatch ?? 'auto',
        remotePollMs: SERVE_REMOTE_POLL_MS,
        requestTimeoutMs: SERVE_REQUEST_TIMEOUT_MS,
        localRoot: mountpoint,
        log: log.child({ layer: 'serve' }),
        ...(requestScope ? { requestScope } : {}),
        clock: parts.clock,
        // The site's database through the mount's SSH connection, found in its configuration (fs/tunnel).
        tunnels: { db: 'auto', forwards: [] },
        phpCgi: await findOnPath('php-cgi'),
        server: async (source, site) => ({
          ...(await phpServeHook.resolve(SERVE_DEFAULT_FLAGS, { source, log, site })),
          ...(site.siteUrl !== undefined ? { siteUrl: site.siteUrl } : {}),
          logger: log.child({ layer: 'http' }),
          port: serve.port,
          strictPort: serve.strictPort,
        }),
      });
    }
    control = await startControlServer(socketPathFor(mountpoint, await ensureControlDir()), handleControl);
  } catch (err) {
    startupSettled();
    await control?.close();
    await watcher?.close();
    await served?.close().catch((closeErr: unknown) => {
      log.warn({ err: (closeErr as Error).message }, 'could not close the dev server after a failed start');
    });
    await mount?.unmount({ lazy: true }).catch((unmountErr: unknown) => {
      log.warn({ err: (unmountErr as Error).message }, 'could not undo the mount after a failed start');
    });
    await vfs?.close().catch((closeErr: unknown) => {
      log.warn({ err: (closeErr as Error).message }, 'could not close the file system after a failed start');
    });
    throw toUserError(err);
  }

  const poll = setInterval(() => {
    findMount(mountpoint).then((entry) => {
      if (!entry && !stopping) void stop('unmounted from outside', ExitCode.ok);
    }, (err: unknown) => log.warn({ err: (err as Error).message }, 'cannot read /proc/self/mounts'));
  }, EXTERNAL_UNMOUNT_POLL_MS);
  poll.unref();
  startupSettled();
  if (stopping) return; // a signal arrived while starting: stop() is undoing the mount and will exit

  log.info({ remote: params.remoteArg, mountpoint, pid: process.pid }, 'mounted');
  await params.onReady();
  // A daemon must not keep the caller's working directory busy (daemon(3) does the same).
  process.chdir('/');
}
