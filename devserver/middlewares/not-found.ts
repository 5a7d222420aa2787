/** Last in the stack: nothing answered, so the path does not exist (or is a directory with listing off). */
import type { Middleware } from '../middleware.js';
import { sendStatus } from '../respond.js';

export function notFound(): Middleware {
  return async function notFound(ctx) {
    sendStatus(ctx, 404);
  };
}
