/**
 * `beforeNotFound` slot: a request nothing answered gets the ErrorDocument 404 of its directory's .htaccess,
 * if there is one; otherwise the stack's plain 404 follows.
 */
import type { Middleware } from '../middleware.js';
import type { DirectoryConfig } from '../htaccess/config.js';
import { sendHtaccessError } from '../htaccess/error-document.js';
import { HTACCESS_LOCAL } from '../htaccess/locals.js';

export function htaccessErrorDocuments(): Middleware {
  return async function htaccessErrorDocuments(ctx, next) {
    const config = ctx.locals.get(HTACCESS_LOCAL.config) as DirectoryConfig | undefined;
    if (config?.errorDocuments.has(404) === true) {
      await sendHtaccessError(ctx, 404, config);
      return;
    }
    await next();
  };
}
