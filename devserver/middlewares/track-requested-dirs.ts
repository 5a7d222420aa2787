/**
 * Serving a remote site whose server has no shell: the sftp-poll watcher (fs/watch/) re-lists only the
 * directories someone looked at, so each request's directory is handed to it.
 */
import type { RemoteWatcher } from '../../fs/watch/remote-watcher.js';
import type { Middleware } from '../middleware.js';

/** Each request's directory (the path itself for a directory request), tracked by the watcher. */
export function trackRequestedDirs(watcher: Pick<RemoteWatcher, 'track'>): Middleware {
  return async function trackRequestedDirs(ctx, next) {
    const slash = ctx.path.lastIndexOf('/');
    watcher.track(ctx.path.endsWith('/') || slash <= 0 ? (ctx.path.replace(/\/+$/, '') || '/') : ctx.path.slice(0, slash));
    await next();
  };
}
