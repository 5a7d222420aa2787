/**
 * Last in the stack: nothing answered, so the path does not exist (or is a directory with listing off). The access
 * line says which path was looked up last (after rewrites and index files) and why it failed (`errno`), so a 404
 * can be explained from the log alone.
 */
import type { Middleware } from '../middleware.js';
import { sendStatus } from '../respond.js';
import { annotateAccess } from './access-log.js';

export function notFound(): Middleware {
  return async function notFound(ctx) {
    const errno = await ctx.source.lookupError?.(ctx.path) ?? null;
    annotateAccess(ctx, errno === null ? { lookup: ctx.path } : { lookup: ctx.path, errno });
    sendStatus(ctx, 404);
  };
}
