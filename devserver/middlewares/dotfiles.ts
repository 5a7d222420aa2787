/**
 * Dotfiles and dot-directories (.env, .git/, .htaccess, .htpasswd, …) are never served: 404, as if absent,
 * except under /.well-known/ (RFC 8615). http-server 14 serves all of them by default (anchors.md).
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
    if (isHiddenPath(ctx.path)) {
      sendStatus(ctx, 404);
      return;
    }
    await next();
  };
}
