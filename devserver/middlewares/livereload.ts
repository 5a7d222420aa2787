/** Serves the live-reload client script and the SSE stream (livereload/hub.ts), before any file lookup. */
import type { Middleware } from '../middleware.js';
import { LIVERELOAD_CLIENT, LIVERELOAD_EVENTS_PATH, LIVERELOAD_SCRIPT_PATH } from '../livereload/client.js';
import type { LiveReloadHub } from '../livereload/hub.js';
import { applyContextHeaders } from '../respond.js';

const SCRIPT = Buffer.from(LIVERELOAD_CLIENT);

export function liveReloadEndpoints(hub: LiveReloadHub): Middleware {
  return async function liveReloadEndpoints(ctx, next) {
    ctx.locals.set('liveReload', true);
    if (ctx.path === LIVERELOAD_SCRIPT_PATH) {
      applyContextHeaders(ctx);
      ctx.res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Content-Length': SCRIPT.length, 'Cache-Control': 'no-cache' });
      ctx.res.end(ctx.req.method === 'HEAD' ? undefined : SCRIPT);
      return;
    }
    if (ctx.path === LIVERELOAD_EVENTS_PATH) {
      applyContextHeaders(ctx);
      hub.attach(ctx.res, {});
      return;
    }
    await next();
  };
}
