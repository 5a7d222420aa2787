/**
 * A local listener whose every connection is carried over the site's SSH connection to a server-side target,
 * as `ssh -L` does. Connections are accepted paused and joined to their channel once the server opened it, so
 * nothing the client sends first (a PostgreSQL startup packet) is lost. One forward = one closer.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { chmod, unlink } from 'node:fs/promises';
import { openChannel, refineStreamLocalFailure } from './channel.js';
import { ForwardError, type ClientSource, type ForwardTarget, type LocalEnd } from './types.js';

export interface ForwardStats {
  /** Connections carried so far (accepted and joined to a channel). */
  readonly carried: number;
  /** Connections refused because the channel could not be opened. */
  readonly failed: number;
}

export interface Forward {
  /** The local end as bound (a port 0 request resolved to the real port). */
  readonly local: LocalEnd;
  readonly target: ForwardTarget;
  stats(): ForwardStats;
  close(): Promise<void>;
}

export interface ForwardOptions {
  /** Told about a connection that could not be forwarded (the client sees its socket closed). */
  readonly onError?: (err: ForwardError) => void;
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

function listen(server: Server, local: LocalEnd): Promise<LocalEnd> {
  return new Promise<LocalEnd>((resolve, reject) => {
    server.once('error', reject);
    const bound = () => {
      server.removeListener('error', reject);
      const address = server.address();
      resolve(local.kind === 'tcp' && typeof address === 'object' && address !== null ? { kind: 'tcp', port: address.port } : local);
    };
    // Loopback only: a forwarded database must never be reachable from other machines.
    if (local.kind === 'tcp') server.listen(local.port, '127.0.0.1', bound);
    else server.listen(local.path, bound);
  });
}

export async function startForward(clientSource: ClientSource, local: LocalEnd, target: ForwardTarget, options: ForwardOptions = {}): Promise<Forward> {
  const sockets = new Set<Socket>();
  let carried = 0;
  let failed = 0;
  const carry = async (socket: Socket): Promise<void> => {
    socket.pause();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    try {
      const channel = await openChannel(await clientSource(), target);
      if (socket.destroyed) {
        channel.close();
        return;
      }
      carried += 1;
      channel.on('error', () => socket.destroy());
      channel.once('close', () => socket.destroy());
      socket.once('close', () => channel.close());
      socket.pipe(channel);
      channel.pipe(socket);
      socket.resume();
    } catch (err) {
      failed += 1;
      socket.destroy();
      options.onError?.(err instanceof ForwardError ? err : new ForwardError('other', (err as Error).message));
    }
  };
  const server = createServer({ pauseOnConnect: true }, (socket) => { void carry(socket); });
  const bound = await listen(server, local);
  // Only this user may talk to the database through the socket (the server's credentials are in the site config anyway).
  if (bound.kind === 'unix') await chmod(bound.path, 0o600);
  let closing: Promise<void> | null = null;
  return {
    local: bound,
    target,
    stats: () => ({ carried, failed }),
    close() {
      closing ??= (async () => {
        for (const socket of sockets) socket.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        // net.Server removes its socket file on close; make sure nothing is left behind either way.
        if (bound.kind === 'unix') await unlink(bound.path).catch(ignoreMissing);
      })();
      return closing;
    },
  };
}

/** Whether a path on the server is a Unix socket; undefined when the server cannot be asked (no shell). */
export type SocketCheck = (path: string) => Promise<boolean | undefined>;

/**
 * Opens one channel and closes it at once: tells at start whether the server lets us forward there at all
 * (the clear line for AllowTcpForwarding/AllowStreamLocalForwarding no), instead of at the first page.
 */
export async function probeForward(clientSource: ClientSource, target: ForwardTarget, socketCheck: SocketCheck): Promise<void> {
  try {
    const channel = await openChannel(await clientSource(), target);
    channel.close();
  } catch (err) {
    if (err instanceof ForwardError && err.kind === 'connect-failed' && target.kind === 'unix') {
      throw refineStreamLocalFailure(target, await socketCheck(target.path));
    }
    throw err;
  }
}
