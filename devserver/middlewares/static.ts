/** Serves regular files (send.ts does the HTTP work). Other methods on a file get 405 with Allow. */
import type { SourceStat } from '../file-source.js';
import type { Middleware } from '../middleware.js';
import { LOCAL } from '../locals.js';
import { isGetOrHead, sendStatus } from '../respond.js';
import { sendFile, type SendOptions } from '../send.js';

export function serveStatic(options: SendOptions): Middleware {
  const withoutReload: SendOptions = Object.freeze({ ...options, liveReload: false });
  return async function serveStatic(ctx, next) {
    const stat = ctx.locals.get(LOCAL.stat) as SourceStat | null | undefined;
    if (stat?.kind !== 'file') {
      await next();
      return;
    }
    if (!isGetOrHead(ctx.req.method)) {
      sendStatus(ctx, 405, undefined, { Allow: 'GET, HEAD' });
      return;
    }
    await sendFile(ctx, ctx.path, stat, ctx.locals.get(LOCAL.liveReload) === true ? options : withoutReload);
  };
}
