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
import { forwardRequest, forwardUpgrade } from '../proxy/forward.js';
import { matchRoute, type ProxyRoute } from '../proxy/routes.js';
import { requestBodyOf } from '../request-body.js';

export function proxy(routes: readonly ProxyRoute[]): Middleware {
  const frozen = Object.freeze([...routes]);
  return async function proxy(ctx, next) {
    const route = matchRoute(frozen, ctx.path);
    if (route === null) {
      await next();
      return;
    }
    await forwardRequest(ctx.req, requestBodyOf(ctx), ctx.res, route, ctx.rawTarget, (err) => {
      ctx.log.warn({ upstream: route.target.origin, err: err.message }, 'proxy upstream unreachable');
      sendErrorPage(ctx, 502, 'Bad Gateway',
        `The upstream ${route.target.origin} for ${route.prefix || '/'} is not reachable: ${err.message}. Is it running?`);
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
    forwardUpgrade(req, socket, head, route, (err) => log.warn({ upstream: route.target.origin, err: err.message }, 'proxy upgrade failed'));
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
