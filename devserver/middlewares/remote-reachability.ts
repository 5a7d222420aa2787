/**
 * Serving a remote site while the network is gone: pages the caches already hold keep being served,
 * marked `X-Devmount-Remote: unreachable`; a request that needs the remote and gets no answer within the
 * source's request deadline gets a 504 page saying so, instead of a browser spinner (sshfs hangs: sshfs#3).
 * The state it reads is kept by trackReachability (below), from the SFTP layer's connection state.
 */
import type { Logger } from 'pino';
import { isFsError } from '../../fs/errors.js';
import type { SftpRemoteFs } from '../../fs/sftp/remote-fs.js';
import type { Middleware } from '../middleware.js';
import { sendStatus } from '../respond.js';

export interface RemoteReachability {
  /** false while the connection is down or the last remote call ran into its deadline. */
  isReachable(): boolean;
  /** Called when a request ran into the deadline: the state turns unreachable until the remote answers again. */
  markUnreachable(): void;
  /** Calls `listener` each time the state turns unreachable; returns the unsubscriber. */
  onUnreachable(listener: () => void): () => void;
}

export const REMOTE_HEADER = 'X-Devmount-Remote';

/** Errors that mean "no answer from the server", as opposed to "the server said no". */
function isUnreachableError(err: unknown): boolean {
  return isFsError(err, 'ETIMEDOUT') || isFsError(err, 'ENOTCONN') || isFsError(err, 'EIO');
}

export function remoteReachability(state: RemoteReachability, description: string): Middleware {
  // The response memo may replay a page while the server is reachable (this middleware then only passes on); it is
  // emptied when the server turns unreachable, and records nothing meanwhile, so every page then gets the header.
  const memo = Object.freeze({ passesOn: () => state.isReachable(), onInvalidate: (drop: () => void) => state.onUnreachable(drop) });
  const self: Middleware = async function remoteReachability(ctx, next) {
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
  return Object.assign(self, { memo });
}

/** Remote calls made for requests: how long after a deadline miss we probe the server before retrying. */
const PROBE_EVERY_MS = 1000;

/**
 * Reachability as the browser sees it: the connection state of the SFTP pool, plus "a request ran into its
 * deadline" (a silent network — a paused link, a sleeping laptop — keeps the TCP connection "connected" until
 * keepalives fail). After a miss, a direct stat of the root (no cache) is tried until the server answers.
 */
export function trackReachability(remote: Pick<SftpRemoteFs, 'stat' | 'state' | 'onStateChange'>, requestTimeoutMs: number, log: Logger): RemoteReachability & { close(): void } {
  let missed = false;
  let probing: NodeJS.Timeout | null = null;
  let closed = false;
  const probe = (): void => {
    probing = setTimeout(() => {
      const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('probe deadline')), requestTimeoutMs).unref());
      Promise.race([remote.stat('/'), deadline]).then(() => {
        probing = null;
        if (missed) log.info('remote reachable again');
        missed = false;
      }, () => {
        if (!closed) probe();
      });
    }, PROBE_EVERY_MS);
    probing.unref();
  };
  const listeners = new Set<() => void>();
  const turnedUnreachable = (): void => {
    for (const listener of listeners) listener();
  };
  const unsubscribe = remote.onStateChange((state) => {
    if (state === 'connected') return;
    log.warn({ state }, 'remote unreachable: serving cached pages only');
    turnedUnreachable();
  });
  return {
    isReachable: () => !missed && remote.state() === 'connected',
    markUnreachable() {
      const newlyMissed = !missed;
      missed = true;
      if (!probing && !closed) probe();
      if (newlyMissed) turnedUnreachable();
    },
    onUnreachable(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      unsubscribe();
      if (probing) clearTimeout(probing);
    },
  };
}
