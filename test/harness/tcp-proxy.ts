/**
 * A TCP proxy on 127.0.0.1 in front of a local port, that can black-hole traffic: `pause()` stops forwarding
 * in both directions and holds new connections without answering, the way a dropped network looks to a
 * client (no RST, no FIN — only silence). `resume()` forwards again; connections accepted while paused are
 * closed then (their clients have long given up). `cutAll()` closes every connection at once.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  pause(): void;
  resume(): void;
  /** Black-holes only the `index`-th connection accepted (0 = first) and still open; resume() frees it. */
  pauseConnection(index: number): void;
  /** Destroys every proxied connection (both sides). */
  cutAll(): void;
  /** Connections currently open through the proxy. */
  connections(): number;
  stop(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | null;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  const held = new Set<Socket>();
  let paused = false;

  const destroyPair = (pair: Pair) => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const silence = (pair: Pair) => {
    // unpipe as well as pause: a pipe resumes its source on the destination's 'drain'.
    if (!pair.upstream) return;
    pair.client.unpipe(pair.upstream);
    pair.upstream.unpipe(pair.client);
    pair.client.pause();
    pair.upstream.pause();
  };
  const silenced = new Set<Pair>();

  const forward = (client: Socket) => {
    const pair: Pair = { client, upstream: null };
    pairs.add(pair);
    const upstream = connect(targetPort, targetHost);
    pair.upstream = upstream;
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => destroyPair(pair));
    upstream.on('error', () => destroyPair(pair));
    client.on('close', () => destroyPair(pair));
    upstream.on('close', () => destroyPair(pair));
  };

  const server: Server = createServer((client) => {
    if (paused) {
      // Accept but never answer: the client's handshake times out, as against an unreachable host.
      client.pause();
      held.add(client);
      client.on('error', () => held.delete(client));
      client.on('close', () => held.delete(client));
      return;
    }
    forward(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    pause() {
      paused = true;
      for (const pair of pairs) {
        if (silenced.has(pair)) continue;
        silenced.add(pair);
        silence(pair);
      }
    },
    pauseConnection(index) {
      const pair = [...pairs][index];
      if (!pair || silenced.has(pair)) return;
      silenced.add(pair);
      silence(pair);
    },
    resume() {
      paused = false;
      for (const socket of held) socket.destroy();
      held.clear();
      for (const pair of silenced) {
        if (!pair.upstream || !pairs.has(pair)) continue;
        pair.client.pipe(pair.upstream);
        pair.upstream.pipe(pair.client);
      }
      silenced.clear();
    },
    cutAll() {
      for (const pair of [...pairs]) destroyPair(pair);
    },
    connections: () => pairs.size,
    async stop() {
      for (const pair of [...pairs]) destroyPair(pair);
      for (const socket of held) socket.destroy();
      held.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
