/**
 * `beforeNotFound` slot: a request nothing answered gets the ErrorDocument 404 of its directory's .htaccess,
 * if there is one; otherwise the stack's plain 404 follows.
 */
import type { Middleware } from '../middleware.js';
import { sendHtaccessError } from '../htaccess/error-document.js';

export function htaccessErrorDocuments(): Middleware {
  return async function htaccessErrorDocuments(ctx, next) {
    const config = ctx.locals.get('htaccessConfig');
    if (config?.errorDocuments.has(404) === true) {
      await sendHtaccessError(ctx, 404, config);
      return;
    }
    await next();
  };
}
