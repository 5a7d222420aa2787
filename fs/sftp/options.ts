/** Options of the SFTP layer, resolved once and frozen. */
import { createOperationTracer, type OperationContext } from '../trace.js';

/** What the session logs (pino's Logger satisfies it). */
export interface SftpLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface SftpOptions {
  /** Connections in the pool: the first carries metadata, the others file data (sshfs `max_conns`). */
  readonly maxConns: number;
  /** Reconnect after a drop (sshfs `reconnect`); false fails everything after a drop. */
  readonly reconnect: boolean;
  /** How long an operation waits for a connection, or for a reply, before failing with EIO (sshfs#3, #223). */
  readonly opTimeoutMs: number;
  /** Upper bound for one connection attempt (the connector's own readyTimeout usually fires first). */
  readonly connectTimeoutMs: number;
  /** Reconnect backoff: first delay, doubling up to the max, ±20 % jitter. */
  readonly backoffInitialMs: number;
  readonly backoffMaxMs: number;
  /** How often one operation may be re-sent after connection losses before it fails with EIO. */
  readonly maxAttempts: number;
  /** Bytes per SFTP READ/WRITE request (capped by limits@openssh.com). */
  readonly chunkBytes: number;
  /** SFTP READ/WRITE requests in flight per read()/write() call. */
  readonly chunksInFlight: number;
  /** READ/WRITE requests in flight per connection, over all files and calls (bounds memory on slow links). */
  readonly maxChunksInFlight: number;
  /** READDIR requests in flight per listing (OpenSSH answers them in order, ~100 names each). */
  readonly readdirInFlight: number;
  /**
   * When the data connections are opened: 'with-meta' (before the pool is handed out: a start fails when one
   * cannot be made), or 'in-background' (the pool is handed out once the metadata connection is up; files use it
   * until a data connection is, and a data connection that cannot be made leaves them on it, with a log line).
   * A dev server's start waits for nothing it does not need first: a second SSH handshake is ~0.3 s here.
   */
  readonly dataConnections: 'with-meta' | 'in-background';
  readonly logger: SftpLogger | undefined;
  /** Who each operation is done for (fs/trace.ts): operations with a caller are logged with it at debug level. */
  readonly operationContext: OperationContext | undefined;
}

const silent: SftpLogger = Object.freeze({ info() {}, warn() {}, debug() {}, error() {} });

export function resolveSftpOptions(partial: Partial<SftpOptions> = {}) {
  const maxConns = Math.max(1, Math.floor(partial.maxConns ?? 2));
  const logger = partial.logger ?? silent;
  return Object.freeze({
    maxConns,
    reconnect: partial.reconnect ?? true,
    opTimeoutMs: partial.opTimeoutMs ?? 30_000,
    connectTimeoutMs: partial.connectTimeoutMs ?? 30_000,
    backoffInitialMs: partial.backoffInitialMs ?? 250,
    backoffMaxMs: partial.backoffMaxMs ?? 5_000,
    maxAttempts: partial.maxAttempts ?? 8,
    chunkBytes: partial.chunkBytes ?? 256 * 1024,
    // 16 × 256 KiB = 4 MiB per call: measured here, 0 ms: 16 in flight ~105 MiB/s, 32 ~55, 64 ~45 (more
    // outstanding data only adds queueing); 20 ms RTT: 30–40 MiB/s for 8…64 alike (the link is not the limit).
    chunksInFlight: partial.chunksInFlight ?? 16,
    maxChunksInFlight: partial.maxChunksInFlight ?? 128,
    readdirInFlight: partial.readdirInFlight ?? 16,
    dataConnections: partial.dataConnections ?? 'with-meta',
    logger,
    operationContext: partial.operationContext,
    tracer: createOperationTracer(partial.operationContext, logger),
  });
}

export type ResolvedSftpOptions = ReturnType<typeof resolveSftpOptions>;
