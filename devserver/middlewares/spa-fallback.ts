/**
 * --spa: a GET for a page that does not exist answers with /index.html, so client-side routes
 * (/users/42) survive a reload. Only for navigations (Accept: text/html) or extension-less paths, so a
 * missing /app.js is still a 404 and not HTML parsed as a script.
 */
import type { Middleware } from '../middleware.js';
import { isGetOrHead } from '../respond.js';

export function spaFallback(): Middleware {
  return async function spaFallback(ctx, next) {
    if (isGetOrHead(ctx.req.method) && ctx.path !== '/index.html') {
      const last = ctx.path.slice(ctx.path.lastIndexOf('/') + 1);
      const wantsPage = !last.includes('.') || (ctx.req.headers.accept ?? '').includes('text/html');
      if (wantsPage && (await ctx.source.stat(ctx.path)) === null) ctx.path = '/index.html';
    }
    await next();
  };
}
