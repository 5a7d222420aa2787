/**
 * createDevServer: the HTTP server around the middleware stack. Owns the listening socket, the caching
 * decorator over the source, the live-reload hub and the logger wiring; `close()` releases all of them.
 *
 * createDevServer reads as its phases: resolveConfig → (the callers' closers) → openSource → openLiveReload →
 * the response memo → followChanges → buildStack (stack.ts) → openHttpServer(requestHandler) → listen. Each
 * phase that opens something pushes its closer onto one stack (fs/closers.ts), unwound by close() and by a
 * failed listen alike.
 *
 * Slow or hostile clients (safe by default): headers must arrive within headersTimeout, the whole
 * request within requestTimeout, header size is capped, an idle keep-alive connection is closed after
 * keepAliveTimeout, and a malformed request gets a 4xx from 'clientError' instead of an exception.
 */
import { randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { Context, clientRequestId } from './context.js';
import type { FileSource } from './file-source.js';
import type { Middleware } from './middleware.js';
import { PortInUseError } from './errors.js';
import { CountingResponse } from './response.js';
import { parseRequestTarget } from './request-target.js';
import { sendStatus } from './respond.js';
import { buildStack, slotsDeclareMemo, type Slots, type Stack } from './stack.js';
import { createCloserStack, type CloserStack } from '../fs/closers.js';
import { ResponseMemo } from './response-memo.js';
import type { RequestScope } from './request-scope.js';
import { CachedFileSource, DEFAULT_CACHE_OPTIONS, type CacheOptions } from './sources/cached.js';
import { LiveReloadHub, DEFAULT_LIVERELOAD_OPTIONS, type LiveReloadOptions } from './livereload/hub.js';
import type { SiteUrl } from './site-url.js';

export interface DevServerOptions {
  /** What to serve; the server takes ownership and closes it. */
  readonly source: FileSource;
  readonly logger: Logger;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8080; 0 = any free port. */
  readonly port?: number;
  /** When false (the default port), the next free port is taken if `port` is busy. */
  readonly strictPort?: boolean;
  readonly allowedHosts?: readonly string[] | 'all';
  readonly cors?: boolean;
  readonly headers?: readonly (readonly [string, string])[];
  readonly liveReload?: boolean | LiveReloadOptions;
  /**
   * The site's production URL (`--site-url`, or detected from the application's configuration by the caller):
   * PHP/CGI/.htaccess see its host, scheme and port, and devmount rewrites it to the local origin in responses.
   * Parse with parseSiteUrl (site-url.ts).
   */
  readonly siteUrl?: SiteUrl;
  readonly spa?: boolean;
  readonly listing?: boolean;
  readonly followSymlinks?: boolean;
  /** Index file names tried in order; PHP adds 'index.php'. Default index.html, index.htm. */
  readonly indexNames?: readonly string[];
  /** false turns the stat/file cache off (only for sources whose watch() cannot report changes). */
  readonly cache?: CacheOptions | false;
  /** Middlewares for the named slots of stack.ts. */
  readonly slots?: Slots;
  readonly timeouts?: Partial<ServerTimeouts>;
  /** 'upgrade' requests (WebSocket) for features outside the stack (--proxy); return false to decline. */
  readonly onUpgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => boolean;
  /** Released by close() together with the server (FastCGI workers, .htaccess watchers). */
  readonly closers?: readonly (() => Promise<void> | void)[];
  /** Each request's stack runs inside it, so fs/ can log remote operations with the request id (request-scope.ts). */
  readonly requestScope?: RequestScope;
}

export interface ServerTimeouts {
  readonly headersMs: number;
  readonly requestMs: number;
  readonly keepAliveMs: number;
  readonly maxHeaderBytes: number;
}

const DEFAULT_TIMEOUTS: ServerTimeouts = Object.freeze({ headersMs: 10_000, requestMs: 60_000, keepAliveMs: 15_000, maxHeaderBytes: 16 * 1024 });
const PORT_ATTEMPTS = 50;

export interface DevServer {
  /** The first URL to open: http://127.0.0.1:PORT/ (or the first interface address when bound to all). */
  readonly url: string;
  readonly urls: readonly string[];
  readonly port: number;
  readonly host: string;
  readonly source: FileSource;
  /** null with --no-livereload. */
  readonly liveReload: LiveReloadHub | null;
  /** The production URL the application is shown (DevServerOptions.siteUrl), or null. */
  readonly siteUrl: SiteUrl | null;
  close(): Promise<void>;
}

export { PortInUseError };

export async function createDevServer(options: DevServerOptions): Promise<DevServer> {
  const config = resolveConfig(options);
  const log = options.logger;
  // Everything the server was handed or opens is released by close(), and by a start that fails (a busy
  // port): the callers' feature closers (FastCGI workers, .htaccess watchers) first on the stack, so last out.
  const closers = createCloserStack();
  for (const close of options.closers ?? []) closers.push(close);
  const source = openSource(options.source, config, closers);
  const hub = openLiveReload(options.liveReload, closers);
  // The memo needs change events (the cache's feed) and a declaration from every slot middleware (response-memo.ts).
  const memo = config.cache !== false && slotsDeclareMemo(config.slots) ? new ResponseMemo() : null;
  followChanges(source, hub, memo, closers);
  if (memo) followMemoPolicies(config.slots, memo, closers);
  const stack = buildStack({
    boundHost: config.host,
    allowedHosts: options.allowedHosts ?? [],
    cors: options.cors ?? false,
    headers: options.headers ?? [],
    hub,
    siteUrl: options.siteUrl ?? null,
    spa: options.spa ?? false,
    listing: options.listing ?? true,
    indexNames: options.indexNames ?? ['index.html', 'index.htm'],
    followSymlinks: options.followSymlinks ?? false,
    maxInMemoryBytes: config.cache === false ? DEFAULT_CACHE_OPTIONS.maxFileBytes : config.cache.maxFileBytes,
    slots: config.slots,
    logger: log,
    memo,
  });
  const server = openHttpServer(config.timeouts, requestHandler(stack, source, log, options.requestScope), options.onUpgrade, log, closers);
  let port: number;
  try {
    port = await listen(server, config.host, options.port ?? 8080, options.strictPort ?? false);
  } catch (err) {
    await closers.unwind();
    throw err;
  }
  const urls = urlsFor(config.host, port);
  log.debug({ host: config.host, port, source: source.description }, 'listening');

  let closing: Promise<void> | null = null;
  return {
    url: urls[0],
    urls,
    port,
    host: config.host,
    source,
    liveReload: hub,
    siteUrl: options.siteUrl ?? null,
    close() {
      // One shutdown path: everything is released even if one part fails.
      closing ??= (async () => {
        await closers.unwind();
        // Wait for buffered log lines to reach the fd: the caller may exit right after close().
        await new Promise<void>((resolve) => log.flush(() => resolve()));
      })();
      return closing;
    },
  };
}

interface ServerConfig {
  readonly host: string;
  readonly timeouts: ServerTimeouts;
  /** The stat/file cache's options, or false: off. */
  readonly cache: CacheOptions | false;
  readonly slots: Slots;
}

function resolveConfig(options: DevServerOptions): ServerConfig {
  return Object.freeze({
    host: options.host ?? '127.0.0.1',
    timeouts: Object.freeze({ ...DEFAULT_TIMEOUTS, ...options.timeouts }),
    cache: options.cache === undefined ? DEFAULT_CACHE_OPTIONS : options.cache,
    slots: options.slots ?? {},
  });
}

/** The source the stack reads: the caching decorator over the caller's, unless the cache is off. Closing it closes the caller's. */
function openSource(given: FileSource, config: ServerConfig, closers: CloserStack): FileSource {
  const source: FileSource = config.cache === false ? given : new CachedFileSource(given, config.cache);
  closers.push(() => source.close());
  return source;
}

function openLiveReload(liveReload: DevServerOptions['liveReload'], closers: CloserStack): LiveReloadHub | null {
  if (liveReload === false) return null;
  const hub = new LiveReloadHub(typeof liveReload === 'object' ? liveReload : DEFAULT_LIVERELOAD_OPTIONS);
  closers.push(() => hub.close());
  return hub;
}

/** A change to the source clears the response memo and tells the live-reload hub. */
function followChanges(source: FileSource, hub: LiveReloadHub | null, memo: ResponseMemo | null, closers: CloserStack): void {
  if (!hub && !memo) return;
  const unwatch = source.watch((changes) => {
    memo?.clear();
    hub?.onChanges(changes);
  });
  closers.push(unwatch);
}

/** A slot middleware whose answer can change for reasons other than a file (MemoPolicy.onInvalidate) empties the memo then. */
function followMemoPolicies(slots: Slots, memo: ResponseMemo, closers: CloserStack): void {
  for (const list of Object.values(slots)) {
    for (const mw of list ?? []) {
      const unsubscribe = mw.memo?.onInvalidate?.(() => memo.clear());
      if (unsubscribe) closers.push(unsubscribe);
    }
  }
}

/**
 * Each request: an id, its parsed target, then the memo's early replay (a hit is answered there), else a Context
 * and the stack run (inside the request scope when there is one).
 */
function requestHandler(stack: Stack, source: FileSource, log: Logger, scope: RequestScope | undefined): (req: IncomingMessage, res: ServerResponse) => void {
  const { all, redispatch, replayEarly } = stack;
  // Chosen once: without a scope a request costs no AsyncLocalStorage frame (request-scope.ts).
  const runRequest = scope === undefined ? (ctx: Context) => run(all, ctx) : (ctx: Context) => scope.run(ctx.id, () => run(all, ctx));
  const failed = (ctx: Context, err: unknown): void => {
    ctx.log.error({ err: err instanceof Error ? err.message : String(err) }, 'request failed');
    sendStatus(ctx, 500);
  };
  return function handle(req, res) {
    const id = clientRequestId(req.headers['x-request-id']) ?? nextRequestId();
    const rawTarget = req.url ?? '/';
    // Added to the response head by CountingResponse.writeHead, whoever writes it.
    if (res instanceof CountingResponse) res.requestId = id;
    else res.setHeader('X-Request-Id', id);
    const parsed = parseRequestTarget(rawTarget);
    // A memo hit answered without a Context or a promise; a throw there fails the request as the stack's would.
    if (parsed.ok && replayEarly !== null) {
      try {
        if (replayEarly(req, res, id, rawTarget)) return;
      } catch (err) {
        failed(new Context(req, res, id, source, log, rawTarget, parsed.path, parsed.query), err);
        return;
      }
    }
    const ctx = new Context(req, res, id, source, log, rawTarget, parsed.ok ? parsed.path : '/', parsed.ok ? parsed.query : '');
    if (!parsed.ok) ctx.locals.set('badTarget', parsed.reason);
    ctx.locals.set('redispatch', () => {
      // A re-dispatch follows a script's answer (CGI local redirect): not something a replay could repeat.
      ctx.locals.get('memoRecorder')?.refuse();
      return run(redispatch, ctx);
    });
    runRequest(ctx).catch((err: unknown) => failed(ctx, err));
  };
}

/** The HTTP server (not yet listening), with the slow-client limits; closing it drops every open connection. */
function openHttpServer(
  timeouts: ServerTimeouts, handle: (req: IncomingMessage, res: ServerResponse) => void,
  onUpgrade: DevServerOptions['onUpgrade'], log: Logger, closers: CloserStack,
): Server {
  const server = createServer({
    ServerResponse: CountingResponse,
    maxHeaderSize: timeouts.maxHeaderBytes,
    requestTimeout: timeouts.requestMs,
    headersTimeout: timeouts.headersMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    connectionsCheckingInterval: 1000,
  }, handle);
  // A connection handed over by 'upgrade' (a --proxy WebSocket) is no longer the HTTP server's: closeAllConnections
  // leaves it, yet server.close() waits for it. Tracked here, so closing drops it too (Vite tracks its sockets alike).
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (onUpgrade?.(req, socket, head) !== true) {
      socket.destroy();
      return;
    }
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => onClientError(err, socket, log));
  closers.push(async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of upgraded) socket.destroy();
    await closed;
  });
  return server;
}

// Request ids: a random prefix per server start and a counter — unique across restarts, and much cheaper per
// request than a UUID.
const REQUEST_ID_PREFIX = randomUUID().slice(0, 8);
let requestCounter = 0;
function nextRequestId(): string {
  requestCounter++;
  return `${REQUEST_ID_PREFIX}-${requestCounter.toString(36)}`;
}

function run(stack: readonly Middleware[], ctx: Context): Promise<void> {
  const dispatch = (i: number): Promise<void> => {
    const mw = stack[i];
    return mw ? mw(ctx, () => dispatch(i + 1)) : Promise.resolve();
  };
  return dispatch(0);
}

function onClientError(err: NodeJS.ErrnoException, socket: Duplex, log: Logger): void {
  // ECONNRESET/EPIPE: the client went away; nothing to answer.
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) {
    socket.destroy();
    return;
  }
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  // Even a request that never parsed gets a request id, so a user's report of it can be found in the log.
  const reqId = nextRequestId();
  log.info({ reqId, status, code: err.code, remote: (socket as { remoteAddress?: string }).remoteAddress }, 'malformed request');
  const body = `${status} ${STATUS_CODES[status]}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n`
    + `X-Request-Id: ${reqId}\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
}

async function listen(server: Server, host: string, port: number, strict: boolean): Promise<number> {
  const attempts = strict || port === 0 ? 1 : PORT_ATTEMPTS;
  for (let i = 0; i < attempts; i++) {
    const candidate = port + i;
    const result = await new Promise<'ok' | 'busy'>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        server.off('listening', onListening);
        if (err.code === 'EADDRINUSE') resolve('busy');
        else reject(err);
      };
      const onListening = () => {
        server.off('error', onError);
        resolve('ok');
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(candidate, host);
    });
    if (result === 'ok') {
      const address = server.address();
      return typeof address === 'object' && address ? address.port : candidate;
    }
  }
  throw new PortInUseError(port);
}

function urlsFor(host: string, port: number): string[] {
  const wrap = (h: string) => (h.includes(':') ? `[${h}]` : h);
  if (host === '0.0.0.0' || host === '::') {
    const addresses: string[] = [];
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        if (a.family === 'IPv4' || host === '::') addresses.push(a.address);
      }
    }
    const loopbackFirst = addresses.sort((a, b) => Number(b.startsWith('127.')) - Number(a.startsWith('127.')));
    return loopbackFirst.map((a) => `http://${wrap(a)}:${port}/`);
  }
  const urls = [`http://${wrap(host)}:${port}/`];
  if (host === '127.0.0.1' || host === '::1') urls.push(`http://localhost:${port}/`);
  return urls;
}
