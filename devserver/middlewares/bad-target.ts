/** Answers 400 for a request target request-target.ts refused (traversal, encoded slash, NUL, '#', …). */
import type { Middleware } from '../middleware.js';
import { sendStatus } from '../respond.js';

export function rejectBadTarget(): Middleware {
  return async function rejectBadTarget(ctx, next) {
    const reason = ctx.locals.get('badTarget');
    if (typeof reason === 'string') {
      sendStatus(ctx, 400, reason);
      return;
    }
    await next();
  };
}
