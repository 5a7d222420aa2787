/** Serves regular files (send.ts does the HTTP work). Other methods on a file get 405 with Allow. */
import type { Middleware } from '../middleware.js';
import { sendStatus } from '../respond.js';
import { statToServe } from './stat-to-serve.js';
import { sendFile, type SendOptions } from '../send.js';

export function serveStatic(options: SendOptions): Middleware {
  const withoutReload: SendOptions = Object.freeze({ ...options, liveReload: false });
  return async function serveStatic(ctx, next) {
    const stat = await statToServe(ctx, next, 'file');
    if (!stat) return;
    try {
      await sendFile(ctx, ctx.path, stat, ctx.locals.get('liveReload') === true ? options : withoutReload);
    } catch (err) {
      // Deleted or replaced by a directory between the stat and the read (an editor's save, a deploy): the
      // file is gone, which is a 404, not a server error.
      const code = (err as NodeJS.ErrnoException | null)?.code;
      if ((code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') && !ctx.res.headersSent) {
        sendStatus(ctx, 404);
        return;
      }
      throw err;
    }
  };
}
