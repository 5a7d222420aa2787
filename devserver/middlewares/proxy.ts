/**
 * `early` slot: requests under a --proxy prefix go to their upstream; a refused or failed connection answers a
 * 502 page that names the upstream and the error, so "the API is down" is obvious in the browser.
 * WebSocket upgrades bypass the middleware stack (they arrive as the server's 'upgrade' event): see
 * proxyUpgradeHandler.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Middleware } from '../middleware.js';
import { sendErrorPage } from '../cgi/error-page.js';
import { clientRequestId } from '../context.js';
import { annotateAccess } from './access-log.js';
import { forwardRequest, forwardUpgrade } from '../proxy/forward.js';
import { matchRoute, type ProxyRoute } from '../proxy/routes.js';
import { requestBodyOf } from '../request-body.js';

export interface ProxyOptions {
  /** An upstream silent this long before its response head gets a 504 (default 60 s, as the server's own request timeout). */
  readonly headTimeoutMs: number;
}

export const DEFAULT_PROXY_OPTIONS: ProxyOptions = Object.freeze({ headTimeoutMs: 60_000 });

export function proxy(routes: readonly ProxyRoute[], options: ProxyOptions = DEFAULT_PROXY_OPTIONS): Middleware {
  const frozen = Object.freeze([...routes]);
  const { headTimeoutMs } = Object.freeze({ ...options });
  return async function proxy(ctx, next) {
    const route = matchRoute(frozen, ctx.path);
    if (route === null) {
      await next();
      return;
    }
    const upstream = route.target.origin;
    await forwardRequest(ctx.req, requestBodyOf(ctx), ctx.res, route, ctx.rawTarget, {
      requestId: ctx.id,
      headTimeoutMs,
      onUpstreamDown: (err) => {
        const fields = { upstream, ...errnoOf(err) };
        annotateAccess(ctx, fields);
        if (fields.errno === 'ETIMEDOUT') {
          ctx.log.warn({ ...fields, timeoutMs: headTimeoutMs }, 'proxy upstream timed out');
          sendErrorPage(ctx, 504, 'Gateway Timeout',
            `The upstream ${upstream} for ${route.prefix || '/'} did not answer within ${headTimeoutMs} ms.`);
          return;
        }
        ctx.log.warn({ ...fields, err: err.message }, 'proxy upstream unreachable');
        sendErrorPage(ctx, 502, 'Bad Gateway',
          `The upstream ${upstream} for ${route.prefix || '/'} is not reachable: ${err.message}. Is it running?`);
      },
      onInterrupted: (err) => {
        ctx.log.warn({ upstream, ...errnoOf(err), err: err.message }, 'proxy response interrupted');
      },
    });
  };
}

export interface ProxyUpgradeHandler {
  /** For the HTTP server's 'upgrade' event; false when no route matches (the caller then decides). */
  handle(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Closes every spliced connection: upgraded sockets are out of the HTTP server's hands, so server.close()
   *  would otherwise wait for them. */
  close(): void;
}

export function proxyUpgradeHandler(routes: readonly ProxyRoute[], log: Logger): ProxyUpgradeHandler {
  const frozen = Object.freeze([...routes]);
  const open = new Set<Duplex>();
  const handle = (req: IncomingMessage, socket: Duplex, head: Buffer): boolean => {
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return false;
    }
    if (path.split('/').includes('..')) return false;
    const route = matchRoute(frozen, path);
    if (route === null) return false;
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    // Upgrades bypass the stack and its request ids: the client's own id, when valid, still reaches the upstream.
    const reqId = clientRequestId(req.headers['x-request-id']);
    forwardUpgrade(req, socket, head, route, (err) => log.warn({
      ...(reqId === null ? {} : { reqId }), upstream: route.target.origin, ...errnoOf(err), err: err.message,
    }, 'proxy upgrade failed'), reqId);
    return true;
  };
  return {
    handle,
    close(): void {
      for (const socket of open) socket.destroy();
      open.clear();
    },
  };
}

/** Node's code for a socket or HTTP failure (ECONNREFUSED, ECONNRESET, ETIMEDOUT, HPE_…), for log filters. */
function errnoOf(err: Error): { errno?: string } {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? { errno: code } : {};
}
