/**
 * Serving a remote site while the network is gone: pages the caches already hold keep being served,
 * marked `X-Devmount-Remote: unreachable`; a request that needs the remote and gets no answer within the
 * source's request deadline gets a 504 page saying so, instead of a browser spinner (sshfs hangs: sshfs#3).
 */
import { isFsError } from '../../fs/errors.js';
import type { Middleware } from '../middleware.js';
import { sendStatus } from '../respond.js';

export interface RemoteReachability {
  /** false while the connection is down or the last remote call ran into its deadline. */
  isReachable(): boolean;
  /** Called when a request ran into the deadline: the state turns unreachable until the remote answers again. */
  markUnreachable(): void;
}

export const REMOTE_HEADER = 'X-Devmount-Remote';

/** Errors that mean "no answer from the server", as opposed to "the server said no". */
function isUnreachableError(err: unknown): boolean {
  return isFsError(err, 'ETIMEDOUT') || isFsError(err, 'ENOTCONN') || isFsError(err, 'EIO');
}

export function remoteReachability(state: RemoteReachability, description: string): Middleware {
  return async function remoteReachability(ctx, next) {
    if (!state.isReachable()) ctx.headers.set(REMOTE_HEADER, 'unreachable');
    try {
      await next();
    } catch (err) {
      if (!isUnreachableError(err)) throw err;
      state.markUnreachable();
      ctx.headers.set(REMOTE_HEADER, 'unreachable');
      ctx.log.warn({ err: (err as Error).message }, 'remote unreachable');
      sendStatus(ctx, 504, `the remote server ${description} is unreachable and this page is not cached; `
        + 'cached pages keep being served, and this one will load again once the connection is back');
    }
  };
}
