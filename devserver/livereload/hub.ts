/**
 * Server side of live reload: holds the SSE connections and turns source changes into browser commands.
 * Bursts are coalesced (a `git checkout` touching 1000 files gives one reload): changes are collected until
 * `quietMs` pass without a new one (capped at `maxWaitMs` so a never-ending stream still reloads), then one
 * message goes out: 'css' with the changed paths when every change is a stylesheet, else 'reload'.
 */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import type { SourceChange } from '../file-source.js';

export interface LiveReloadOptions {
  readonly quietMs: number;
  readonly maxWaitMs: number;
  /** SSE comment sent this often so proxies and idle timeouts keep the stream open. */
  readonly keepAliveMs: number;
}

export const DEFAULT_LIVERELOAD_OPTIONS: LiveReloadOptions = Object.freeze({ quietMs: 150, maxWaitMs: 2000, keepAliveMs: 20_000 });

export class LiveReloadHub {
  readonly serverId = randomUUID();
  private readonly options: LiveReloadOptions;
  private readonly clients = new Set<ServerResponse>();
  private pending: SourceChange[] = [];
  private quietTimer: NodeJS.Timeout | null = null;
  private firstPendingAt = 0;
  private readonly keepAlive: NodeJS.Timeout;
  /** Counters for tests and logs. */
  readonly sent = { reload: 0, css: 0 };

  constructor(options: LiveReloadOptions = DEFAULT_LIVERELOAD_OPTIONS) {
    this.options = Object.freeze({ ...options });
    this.keepAlive = setInterval(() => this.broadcast(': keep-alive\n\n'), this.options.keepAliveMs);
    this.keepAlive.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  /** Takes over an HTTP response as an event stream until the client goes away. */
  attach(res: ServerResponse, extraHeaders: Record<string, string>): void {
    res.writeHead(200, {
      ...extraHeaders,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      'X-Accel-Buffering': 'no',
    });
    // retry: how long EventSource waits before reconnecting after the server went away (HTML §9.2).
    res.write(`retry: 500\nevent: hello\ndata: ${this.serverId}\n\n`);
    res.socket?.setTimeout(0);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
  }

  onChanges(changes: readonly SourceChange[]): void {
    if (changes.length === 0) return;
    if (this.pending.length === 0) this.firstPendingAt = Date.now();
    this.pending.push(...changes);
    if (this.quietTimer) clearTimeout(this.quietTimer);
    const waited = Date.now() - this.firstPendingAt;
    const delay = Math.max(0, Math.min(this.options.quietMs, this.options.maxWaitMs - waited));
    this.quietTimer = setTimeout(() => this.flush(), delay);
  }

  close(): void {
    clearInterval(this.keepAlive);
    if (this.quietTimer) clearTimeout(this.quietTimer);
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private flush(): void {
    this.quietTimer = null;
    const changes = this.pending;
    this.pending = [];
    const paths = [...new Set(changes.map((c) => c.path))];
    const cssOnly = changes.every((c) => c.kind === 'modify' && c.path.endsWith('.css'));
    if (cssOnly) {
      this.sent.css++;
      this.broadcast(`event: css\ndata: ${JSON.stringify(paths)}\n\n`);
    } else {
      this.sent.reload++;
      this.broadcast('event: reload\ndata: {}\n\n');
    }
  }

  private broadcast(message: string): void {
    for (const res of this.clients) res.write(message);
  }
}
