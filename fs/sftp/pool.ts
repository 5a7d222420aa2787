/**
 * `maxConns` sessions to the same server, each reconnecting on its own (sshfs `max_conns`). Session 0 carries
 * metadata (stat, readdir, mkdir …); open files are spread over the others, so a large read or write never
 * queues a `stat` behind megabytes of data. With maxConns = 1 everything shares one session.
 */
import type { ConnectError, Connector } from '../ssh/types.js';
import type { ConnectionState } from '../types.js';
import type { ResolvedSftpOptions } from './options.js';
import { Session } from './session.js';

export interface PoolStats {
  readonly reconnects: number;
  /** Operations re-sent after connection losses. */
  readonly retried: number;
  readonly inFlight: number;
  readonly connectedSinceMs: number | null;
  /** Sessions in the pool (a data connection opened in the background counts once it joined). */
  readonly connections: number;
}

/** Worst state first: the pool reports the least healthy session's state. */
const STATE_RANK: Readonly<Record<ConnectionState, number>> = { closed: 3, reconnecting: 2, connecting: 1, connected: 0 };

export class SessionPool {
  private nextData = 0;
  /** Set by close(): a data connection still being opened in the background is closed when it comes up. */
  private closed = false;
  /** Told when a session's state changes or a session joins (onStateChange compares the pool's state). */
  private readonly changeListeners = new Set<() => void>();
  /**
   * The metadata session first, then the data sessions: all of them from the start ('with-meta'), or each as it
   * connects ('in-background'); only connected sessions join, so the pool's state is not 'connecting' meanwhile.
   */
  private readonly sessions: Session[] = [];

  private constructor(sessions: readonly Session[]) {
    for (const session of sessions) this.join(session);
  }

  /**
   * The metadata connection first, alone: it is the one that may ask at the terminal (unknown host key,
   * passphrase, password), and two connections must not prompt at once. The others follow in parallel,
   * before the pool is returned or in the background (options.dataConnections).
   */
  static async open(connector: Connector, options: ResolvedSftpOptions): Promise<SessionPool> {
    const meta = await Session.open(connector, options, 'meta');
    const labels = Array.from({ length: options.maxConns - 1 }, (_, i) => `data${i + 1}`);
    if (options.dataConnections === 'in-background') {
      const pool = new SessionPool([meta]);
      for (const label of labels) pool.joinWhenConnected(connector, options, label);
      return pool;
    }
    const opened = await Promise.allSettled(labels.map((label) => Session.open(connector, options, label)));
    const sessions = [meta, ...opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))];
    const failure = opened.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      await Promise.all(sessions.map((s) => s.close()));
      throw failure.reason;
    }
    return new SessionPool(sessions);
  }

  /** Opens a data connection in the background; files keep using the sessions there are until it joins. */
  private joinWhenConnected(connector: Connector, options: ResolvedSftpOptions, label: string): void {
    Session.open(connector, options, label).then(
      async (session) => {
        if (this.closed) await session.close();
        else this.join(session);
      },
      (err: unknown) => {
        options.logger.warn({ conn: label, err: err instanceof Error ? err.message : String(err) }, 'data connection not opened: files use the metadata connection');
      },
    );
  }

  private join(session: Session): void {
    this.sessions.push(session);
    session.onStateChange(() => this.changed());
    this.changed();
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  /** The session for metadata operations. */
  get meta(): Session {
    return this.sessions[0] as Session;
  }

  /** A session for a newly opened file: round robin over the data sessions. */
  data(): Session {
    if (this.sessions.length === 1) return this.meta;
    const session = this.sessions[1 + (this.nextData % (this.sessions.length - 1))] as Session;
    this.nextData += 1;
    return session;
  }

  state(): ConnectionState {
    let worst: ConnectionState = 'connected';
    for (const s of this.sessions) if (STATE_RANK[s.state()] > STATE_RANK[worst]) worst = s.state();
    return worst;
  }

  stats(): PoolStats {
    let reconnects = 0;
    let retried = 0;
    let inFlight = 0;
    for (const s of this.sessions) {
      const st = s.stats();
      reconnects += st.reconnects;
      retried += st.retried;
      inFlight += st.inFlight;
    }
    return { reconnects, retried, inFlight, connectedSinceMs: this.meta.stats().connectedSinceMs, connections: this.sessions.length };
  }

  /** Why a session stopped reconnecting by itself (the server keeps breaking the protocol), or null. */
  gaveUp(): ConnectError | null {
    for (const s of this.sessions) {
      const why = s.gaveUp();
      if (why) return why;
    }
    return null;
  }

  /** Calls `listener` with the pool state whenever it changes. */
  onStateChange(listener: (state: ConnectionState) => void): () => void {
    let last = this.state();
    const compare = (): void => {
      const now = this.state();
      if (now === last) return;
      last = now;
      listener(now);
    };
    this.changeListeners.add(compare);
    return () => this.changeListeners.delete(compare);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled(this.sessions.map((s) => s.close()));
  }
}
