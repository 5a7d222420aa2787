/**
 * A TCP proxy that adds a fixed one-way delay in each direction: the latency lab. The kernel here has no
 * netem, so benchmarks and tests put this in front of sshd to get a real round-trip time (RTT = 2 × delay).
 * It can also black-hole traffic (`pause()`), which looks to both ends like a network that stopped
 * delivering packets — the case where sshfs hangs (sshfs#3, #223).
 *
 * Run standalone: node dist/scripts/delay-proxy.js LISTEN_PORT TARGET_PORT DELAY_MS
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface DelayProxyOptions {
  readonly targetHost?: string;
  readonly targetPort?: number;
  /** A Unix socket to forward to instead of targetHost:targetPort (a database's socket). */
  readonly targetPath?: string;
  /** One-way delay added to every chunk, in each direction. */
  readonly delayMs: number;
  readonly listenPort?: number; // 0 = any free port
}

export interface DelayProxy {
  readonly port: number;
  /** Stop delivering bytes (they are held, not dropped: TCP would retransmit them after the outage). */
  pause(): void;
  resume(): void;
  /** Holds only the `index`-th open connection (0 = oldest), e.g. one connection of a pool; resume() frees it. */
  pauseConnection(index: number): void;
  /** Drops every proxied connection at once (RST), as a NAT timeout or a Wi-Fi change does. */
  cutAll(): void;
  connections(): number;
  close(): Promise<void>;
}

/** How much may wait in one direction's delay line before we stop reading from the sender (backpressure). */
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/** One direction of one connection: chunks leave `delayMs` after they arrived, in order. */
class DelayLine {
  private readonly queue: Array<{ due: number; chunk: Buffer }> = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private paused = false;

  constructor(private readonly from: Socket, private readonly to: Socket, private readonly delayMs: number) {
    from.on('data', (chunk: Buffer) => this.push(chunk));
    to.on('drain', () => this.pump());
  }

  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) this.pump();
  }

  private push(chunk: Buffer): void {
    this.queue.push({ due: Date.now() + this.delayMs, chunk });
    this.queuedBytes += chunk.length;
    if (this.queuedBytes > MAX_QUEUED_BYTES) this.from.pause();
    this.pump();
  }

  private pump(): void {
    if (this.timer || this.paused) return;
    const now = Date.now();
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      const { chunk } = this.queue.shift()!;
      this.queuedBytes -= chunk.length;
      if (this.to.destroyed) return;
      const flushed = this.to.write(chunk);
      if (!flushed) return; // resumes on 'drain'
    }
    if (this.queuedBytes <= MAX_QUEUED_BYTES / 2 && this.from.isPaused()) this.from.resume();
    const next = this.queue[0];
    if (next) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.pump();
      }, Math.max(0, next.due - now));
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }
}

export async function startDelayProxy(options: DelayProxyOptions): Promise<DelayProxy> {
  const opts = Object.freeze({ targetHost: '127.0.0.1', listenPort: 0, ...options });
  if (opts.targetPort === undefined && opts.targetPath === undefined) throw new Error('startDelayProxy: give targetPort or targetPath');
  const pairs = new Set<{ client: Socket; upstream: Socket; lines: DelayLine[] }>();
  let paused = false;

  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = opts.targetPath !== undefined ? connect(opts.targetPath) : connect(opts.targetPort as number, opts.targetHost);
    upstream.setNoDelay(true);
    const lines = [new DelayLine(client, upstream, opts.delayMs), new DelayLine(upstream, client, opts.delayMs)];
    for (const line of lines) line.setPaused(paused);
    const pair = { client, upstream, lines };
    pairs.add(pair);
    const teardown = () => {
      for (const line of lines) line.stop();
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    // Either side closing or failing ends the pair: the other side sees the same as a dropped link.
    for (const s of [client, upstream]) {
      s.on('error', teardown);
      s.on('close', teardown);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listenPort, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    pause() {
      paused = true;
      for (const p of pairs) for (const l of p.lines) l.setPaused(true);
    },
    resume() {
      paused = false;
      for (const p of pairs) for (const l of p.lines) l.setPaused(false);
    },
    pauseConnection(index) {
      const pair = [...pairs][index];
      for (const l of pair?.lines ?? []) l.setPaused(true);
    },
    cutAll() {
      for (const p of [...pairs]) {
        p.client.resetAndDestroy();
        p.upstream.resetAndDestroy();
      }
    },
    connections: () => pairs.size,
    async close() {
      for (const p of [...pairs]) {
        p.client.destroy();
        p.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// Standalone use: node dist/scripts/delay-proxy.js LISTEN_PORT TARGET_PORT DELAY_MS
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [listen, target, delay] = process.argv.slice(2).map(Number);
  if (!Number.isInteger(target) || !Number.isFinite(delay)) {
    process.stderr.write('usage: delay-proxy LISTEN_PORT TARGET_PORT DELAY_MS\n');
    process.exit(2);
  }
  const proxy = await startDelayProxy({ listenPort: listen ?? 0, targetPort: target!, delayMs: delay! });
  process.stdout.write(`delay proxy 127.0.0.1:${proxy.port} → 127.0.0.1:${target} (+${delay} ms each way)\n`);
  process.on('SIGINT', () => void proxy.close().then(() => process.exit(0)));
}
