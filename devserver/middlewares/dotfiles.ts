/**
 * Dotfiles and dot-directories (.env, .git/, .htaccess, .htpasswd, …) are never served: 404, as if absent,
 * except under /.well-known/ (RFC 8615). http-server 14 serves all of them by default (anchors.md).
 * The rule guards what exists on disk: a dot-path that names nothing passes on, so an application that routes
 * its own URLs (a .htaccess rewrite to index.php) receives it as under Apache. Whatever such a URL is rewritten
 * to is checked again (htaccess.ts), and a script is never run from a dot-directory (cgi/dispatch.ts).
 */
import type { Middleware } from '../middleware.js';
import { sendStatus } from '../respond.js';

export function isHiddenPath(path: string): boolean {
  if (!path.includes('/.')) return false;
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    if (segments[i].startsWith('.') && !(i === 1 && segments[i] === '.well-known')) return true;
  }
  return false;
}

export function denyDotfiles(): Middleware {
  return async function denyDotfiles(ctx, next) {
    if (isHiddenPath(ctx.path) && (await ctx.source.stat(ctx.path)) !== null) {
      sendStatus(ctx, 404);
      return;
    }
    await next();
  };
}
