/**
 * One SSH connection that comes back: holds the current SshConnection, reconnects with backoff when it
 * closes, and keeps ONE table of in-flight operations, so a drop is handled in one place (as sshfs's request
 * table, but retrying instead of failing everything with EIO).
 *
 * Retry rules, decided by each operation's `policy`:
 *  - 'idempotent' (stat, read, positional write, readdir, setattr, open without O_EXCL, close …): re-sent as is.
 *  - 'guarded' (mkdir, rmdir, unlink, rename, symlink, link, O_EXCL create): re-sent with `afterLoss` set, and
 *    the operation itself decides what a "failure" on the second try means, because the first try may have
 *    landed before the connection died (rules in fs/sftp/path-ops.ts).
 *  - 'once': never re-sent; fails with EIO when the connection dies under it.
 * An operation waits at most `opTimeoutMs` for a connection; once sent, it fails with EIO when the connection
 * has answered nothing at all for `opTimeoutMs` (sshfs#3, #223). Silence, not the age of one request, is the
 * test: on a slow link a request may legitimately queue behind megabytes of writes while replies keep coming.
 * A silent connection is stuck (no TCP reset, e.g. a dead NAT entry), so it is dropped and re-made for the others.
 *
 * Concurrency (one JS thread; "state" = the fields below): every transition goes through install() (new
 * connection) or markDead() (connection gone). A pending operation's `token` changes on every attempt, so a
 * late callback from an old attempt is recognised and ignored.
 */
import { FsError } from '../errors.js';
import { ConnectError, type SshConnection, type Connector } from '../ssh/types.js';
import type { ConnectionState } from '../types.js';
import { isConnectionLoss, toFsError } from './status.js';
import type { ResolvedSftpOptions } from './options.js';
import { Slots } from './slots.js';
import { topUpReceiveWindow } from './window.js';

/** Reconnect attempts in a row answered with a malformed SFTP packet before the session stops trying. */
const MALFORMED_CONNECTS_BEFORE_GIVING_UP = 3;

export type RetryPolicy = 'idempotent' | 'guarded' | 'once';

/** One try of an operation on one connection. */
export interface Attempt {
  readonly conn: SshConnection;
  /** Connection epoch: bumped on every (re)connect, so handles opened under an older one are recognised. */
  readonly epoch: number;
  /** An earlier attempt was sent and its outcome is unknown (the connection died before the reply). */
  readonly afterLoss: boolean;
}

export interface Operation<T> {
  readonly name: string;
  readonly path?: string;
  readonly policy: RetryPolicy;
  run(attempt: Attempt): Promise<T>;
}

interface Live {
  readonly conn: SshConnection;
  readonly epoch: number;
  alive: boolean;
  /** When an operation on this connection last got an answer: the stuck-link watchdog measures silence, not age. */
  lastReplyAt: number;
  /** ssh2's message when the server sent a packet it cannot parse: the requests in flight fail instead of retrying. */
  protocolError: string | null;
}

interface Pending {
  readonly op: Operation<unknown>;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: unknown) => void;
  attempts: number;
  afterLoss: boolean;
  /** Changes on every attempt; callbacks carrying an older token are stale. */
  token: number;
  /** The connection the current attempt was sent on; null while waiting for one. */
  live: Live | null;
  timer: NodeJS.Timeout | null;
}

export interface SessionStats {
  readonly reconnects: number;
  /** Operations re-sent after a connection loss (replayed writes, re-read chunks …). */
  readonly retried: number;
  readonly inFlight: number;
  readonly connectedSinceMs: number | null;
  readonly epoch: number;
}

export class Session {
  // state: changed only by install(), markDead(), close()
  private live: Live | null = null;
  private stateValue: ConnectionState = 'connecting';
  private epoch = 0;
  private reconnects = 0;
  private retried = 0;
  private connectedSince: number | null = null;
  private reconnecting = false;
  private backoffTimer: NodeJS.Timeout | null = null;
  private closedForGood = false;
  private gaveUpWith: ConnectError | null = null;
  /** Insertion order = issue order: after a reconnect, waiting operations are re-sent in the order they were issued. */
  private readonly pending = new Set<Pending>();
  private readonly stateListeners = new Set<(state: ConnectionState) => void>();
  private readonly connectionWaiters = new Set<() => void>();
  /** Bounds READ/WRITE requests in flight on this connection (fs/sftp/file.ts takes a slot per chunk). */
  readonly dataSlots: Slots;

  private constructor(
    private readonly connector: Connector,
    private readonly options: ResolvedSftpOptions,
    private readonly label: string,
  ) {
    this.dataSlots = new Slots(options.maxChunksInFlight);
  }

  /** Connects once; the first connection's errors (ConnectError) go to the caller, later drops are retried. */
  static async open(connector: Connector, options: ResolvedSftpOptions, label: string): Promise<Session> {
    const session = new Session(connector, options, label);
    session.install(await session.connectOnce());
    return session;
  }

  state(): ConnectionState {
    return this.stateValue;
  }

  /** Why this session stopped reconnecting by itself (giveUp), or null. */
  gaveUp(): ConnectError | null {
    return this.gaveUpWith;
  }

  stats(): SessionStats {
    return { reconnects: this.reconnects, retried: this.retried, inFlight: this.pending.size, connectedSinceMs: this.connectedSince, epoch: this.epoch };
  }

  onStateChange(listener: (state: ConnectionState) => void): () => void {
    this.stateListeners.add(listener);
    return () => this.stateListeners.delete(listener);
  }

  /** The current connection, waiting up to opTimeoutMs for one (for exec passthrough, which is never retried). */
  async connection(): Promise<SshConnection> {
    const deadline = Date.now() + this.options.opTimeoutMs;
    for (;;) {
      if (this.live?.alive) return this.live.conn;
      if (this.closedForGood) throw new FsError('ENOTCONN', 'the SFTP connection is closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new FsError('EIO', `no connection to the server for ${this.options.opTimeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const waiters = this.connectionWaiters;
        const timer = setTimeout(done, left);
        waiters.add(done);
        function done() {
          clearTimeout(timer);
          waiters.delete(done);
          resolve();
        }
      });
    }
  }

  run<T>(op: Operation<T>): Promise<T> {
    if (this.closedForGood) {
      return Promise.reject(new FsError('ENOTCONN', `${op.name}: the SFTP connection is closed`, op.path));
    }
    return new Promise<T>((resolve, reject) => {
      const p: Pending = {
        op: op as Operation<unknown>,
        resolve: resolve as (value: unknown) => void,
        reject,
        attempts: 0,
        afterLoss: false,
        token: 0,
        live: null,
        timer: null,
      };
      this.pending.add(p);
      this.schedule(p);
    });
  }

  /** Fails everything still pending and closes the connection; no reconnect afterwards. */
  async close(): Promise<void> {
    if (this.closedForGood) return;
    this.closedForGood = true;
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    for (const p of [...this.pending]) this.fail(p, new FsError('EIO', `${p.op.name}: the SFTP session was closed`, p.op.path));
    const live = this.live;
    this.live = null;
    this.connectedSince = null;
    this.setState('closed');
    this.wakeConnectionWaiters();
    if (live) {
      live.alive = false;
      live.conn.close();
      await Promise.race([live.conn.closed, new Promise((r) => setTimeout(r, 2_000).unref())]);
    }
  }

  // ---- the one place attempts are sent, finished, lost or failed ----

  private schedule(p: Pending): void {
    if (this.live?.alive) {
      this.dispatch(p, this.live);
      return;
    }
    if (this.closedForGood || !this.options.reconnect) {
      this.fail(p, new FsError(this.options.reconnect ? 'EIO' : 'ENOTCONN', `${p.op.name}: not connected to the server`, p.op.path));
      return;
    }
    p.live = null;
    p.timer = setTimeout(() => {
      this.fail(p, new FsError('EIO', `${p.op.name}: no connection to the server for ${this.options.opTimeoutMs} ms`, p.op.path));
    }, this.options.opTimeoutMs);
  }

  private dispatch(p: Pending, live: Live): void {
    if (p.timer) clearTimeout(p.timer);
    p.attempts += 1;
    const token = ++p.token;
    p.live = live;
    const timeoutMs = this.options.opTimeoutMs;
    const sentAt = Date.now();
    const watchdog = () => {
      if (p.token !== token) return;
      const silentMs = Date.now() - Math.max(live.lastReplyAt, sentAt);
      if (live.alive && silentMs < timeoutMs) {
        p.timer = setTimeout(watchdog, timeoutMs - silentMs);
        return;
      }
      this.options.logger.warn({ conn: this.label, op: p.op.name, path: p.op.path }, 'server silent for the operation timeout: dropping the connection');
      this.fail(p, new FsError('EIO', `${p.op.name}: no reply from the server within ${timeoutMs} ms`, p.op.path));
      this.markDead(live, 'no reply');
    };
    p.timer = setTimeout(watchdog, timeoutMs);
    let promise: Promise<unknown>;
    try {
      promise = p.op.run({ conn: live.conn, epoch: live.epoch, afterLoss: p.afterLoss });
    } catch (err) {
      promise = Promise.reject(err);
    }
    promise.then(
      (value) => {
        live.lastReplyAt = Date.now();
        if (p.token !== token || !this.pending.has(p)) return;
        this.finish(p, value);
      },
      (err: unknown) => {
        if (p.token !== token || !this.pending.has(p)) return;
        if (!live.alive || isConnectionLoss(err)) {
          this.markDead(live, 'request failed: connection lost');
          // markDead re-queued p unless this attempt was already handled.
          if (p.token === token && this.pending.has(p)) this.lost(p);
          return;
        }
        live.lastReplyAt = Date.now();
        this.fail(p, toFsError(err, p.op.path));
      },
    );
  }

  private lost(p: Pending): void {
    p.token += 1; // late callbacks of the lost attempt are now stale
    if (p.timer) clearTimeout(p.timer);
    p.timer = null;
    p.live = null;
    if (p.op.policy === 'once' || p.attempts >= this.options.maxAttempts) {
      this.fail(p, new FsError('EIO', `${p.op.name}: the connection was lost and the operation cannot be retried`, p.op.path));
      return;
    }
    p.afterLoss = true;
    this.retried += 1;
    this.schedule(p);
  }

  private finish(p: Pending, value: unknown): void {
    if (p.timer) clearTimeout(p.timer);
    this.pending.delete(p);
    p.resolve(value);
  }

  private fail(p: Pending, err: unknown): void {
    if (p.timer) clearTimeout(p.timer);
    p.token += 1;
    if (!this.pending.delete(p)) return;
    p.reject(err);
  }

  // ---- connection lifecycle ----

  private async connectOnce(): Promise<SshConnection> {
    let timer: NodeJS.Timeout | undefined;
    const attempt = this.connector();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new FsError('ETIMEDOUT', `connecting took longer than ${this.options.connectTimeoutMs} ms`)), this.options.connectTimeoutMs);
      timer.unref(); // the connecting socket keeps the process alive; this timer alone must not
    });
    try {
      return await Promise.race([attempt, timeout]);
    } catch (err) {
      // A connection that completes after we gave up must not leak.
      attempt.then((late) => late.close(), () => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private install(conn: SshConnection): void {
    this.epoch += 1;
    const live: Live = { conn, epoch: this.epoch, alive: true, lastReplyAt: Date.now(), protocolError: null };
    this.live = live;
    this.connectedSince = Date.now();
    // The client's 'close' event fires before ssh2 fails the channel's outstanding requests
    // (ssh2/lib/client.js: emit('close') then _chanMgr.cleanup()), so `alive` is false by the time they arrive.
    conn.client.on('close', () => this.markDead(live, 'connection closed'));
    conn.sftp.on('close', () => this.markDead(live, 'SFTP channel closed'));
    conn.sftp.on('error', (err: Error) => this.protocolFailure(live, err));
    conn.closed.then(() => this.markDead(live, 'connection closed'), () => this.markDead(live, 'connection closed'));
    topUpReceiveWindow(conn);
    this.setState('connected');
    this.wakeConnectionWaiters();
    for (const p of [...this.pending]) {
      if (p.live === null && this.pending.has(p) && live.alive) this.dispatch(p, live);
    }
  }

  /**
   * The server sent a packet ssh2 cannot parse (a zero-length reply, a truncated NAME …; ssh2 then closes the
   * channel). Which request it answered cannot be known, so every request in flight on the connection fails
   * with EIO naming the error; retrying could send a broken server the same request forever. The connection
   * is re-opened for everything else.
   */
  private protocolFailure(live: Live, err: Error): void {
    if (!live.alive) return;
    live.protocolError = err.message;
    this.options.logger.warn({ conn: this.label, epoch: live.epoch, err: err.message, inFlight: this.pending.size }, 'SFTP protocol error from the server: requests in flight fail with EIO');
    this.markDead(live, `SFTP protocol error: ${err.message}`);
  }

  private markDead(live: Live, reason: string): void {
    if (!live.alive) return;
    live.alive = false;
    // destroy, not end(): a stuck link would hold a half-closed socket until TCP gives up.
    live.conn.client.destroy();
    if (this.live !== live) return;
    this.live = null;
    this.connectedSince = null;
    if (this.closedForGood) return;
    this.options.logger.warn({ conn: this.label, epoch: live.epoch, reason, inFlight: this.pending.size }, 'SFTP connection lost');
    if (!this.options.reconnect) {
      this.closedForGood = true;
      this.setState('closed');
      for (const p of [...this.pending]) {
        this.fail(p, new FsError('EIO', `${p.op.name}: the connection was lost (reconnect is off)`, p.op.path));
      }
      this.wakeConnectionWaiters();
      return;
    }
    this.setState('reconnecting');
    for (const p of [...this.pending]) {
      if (p.live !== live) continue;
      if (live.protocolError === null) this.lost(p);
      else this.fail(p, new FsError('EIO', `${p.op.name}: the server sent a malformed SFTP reply (${live.protocolError})`, p.op.path));
    }
    this.startReconnect();
  }

  private startReconnect(): void {
    if (this.reconnecting) return;
    this.reconnecting = true;
    let delay = this.options.backoffInitialMs;
    let malformedInARow = 0;
    const tryOnce = async (): Promise<void> => {
      this.backoffTimer = null;
      if (this.closedForGood) return;
      try {
        const conn = await this.connectOnce();
        if (this.closedForGood) {
          conn.close();
          return;
        }
        this.reconnecting = false;
        this.reconnects += 1;
        this.options.logger.info({ conn: this.label, epoch: this.epoch + 1 }, 'SFTP connection re-established');
        this.install(conn);
      } catch (err) {
        if (this.closedForGood) return;
        malformedInARow = err instanceof ConnectError && err.kind === 'sftp-protocol' ? malformedInARow + 1 : 0;
        if (malformedInARow >= MALFORMED_CONNECTS_BEFORE_GIVING_UP) {
          this.giveUp(err as ConnectError);
          return;
        }
        this.options.logger.warn({ conn: this.label, err: (err as Error).message, retryInMs: delay }, 'reconnect failed');
        const jitter = 0.8 + Math.random() * 0.4;
        this.backoffTimer = setTimeout(() => void tryOnce(), Math.round(delay * jitter));
        delay = Math.min(delay * 2, this.options.backoffMaxMs);
      }
    };
    // The first attempt goes out at once: most drops are a killed session on a live server, and waiting
    // would only delay the replay. Failed attempts then back off 250 ms → 5 s.
    void tryOnce();
  }

  /** The server broke the protocol at every reconnect: closed for good, in one log line, instead of retrying. */
  private giveUp(err: ConnectError): void {
    this.gaveUpWith = err;
    this.reconnecting = false;
    this.closedForGood = true;
    this.options.logger.error({ conn: this.label, err: err.message, attempts: MALFORMED_CONNECTS_BEFORE_GIVING_UP },
      'giving up: the server answers every connection with malformed SFTP packets');
    for (const p of [...this.pending]) this.fail(p, new FsError('EIO', `${p.op.name}: ${err.message}`, p.op.path));
    this.setState('closed');
    this.wakeConnectionWaiters();
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    for (const listener of [...this.stateListeners]) listener(state);
  }

  private wakeConnectionWaiters(): void {
    const waiters = [...this.connectionWaiters];
    this.connectionWaiters.clear();
    for (const wake of waiters) wake();
  }
}
