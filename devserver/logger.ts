/**
 * The server's logger: pino writing to stderr asynchronously (sonic-boom, no sync write per request).
 * NDJSON when stderr is not a terminal or --log-format json, so logs can be piped into jq or a collector;
 * compact coloured lines on a terminal.
 */
import { Writable } from 'node:stream';
import { pino, type DestinationStream, type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

const FLUSH_MS = 200;
const BATCH_CHARS = 16 * 1024;

/**
 * Log lines gathered in one string and handed to sonic-boom ~16 KiB at a time: one write(2) per ~80 requests,
 * and sonic-boom's per-write bookkeeping (it measures the byte length of its whole pending buffer on every
 * write, sonic-boom 4 index.js write()) is paid per batch instead of per line, which made a 200-byte access
 * line cost a scan of up to 16 KiB.
 */
class LineBatch {
  private pending = '';
  constructor(private readonly out: { write(data: string): unknown }) {}

  push(line: string): void {
    this.pending += line;
    if (this.pending.length >= BATCH_CHARS) this.drain();
  }

  drain(): void {
    if (this.pending === '') return;
    const data = this.pending;
    this.pending = '';
    this.out.write(data);
  }
}

/** The raw destination of loggers made by createLogger in JSON format (see jsonLineSink). */
const jsonSinks = new WeakMap<Logger, (line: string) => void>();

/**
 * For the access log's hot path: where to write a ready-made NDJSON line (the same shape pino writes: level,
 * time, fields, msg), or null when the logger is not a plain JSON logger made here (a test's, a pretty one)
 * and records must go through pino. Info level is checked by the caller (level can change at run time).
 */
export function jsonLineSink(log: Logger): ((line: string) => void) | null {
  return jsonSinks.get(log) ?? null;
}

export interface LoggerOptions {
  readonly format: LogFormat | 'auto';
  readonly level?: string;
  /** Defaults to fd 2 (stderr). */
  readonly fd?: number;
  readonly color?: boolean;
  /** Also gets every record as its NDJSON line, whatever the format (a log file kept for `devmount logs`). */
  readonly copyTo?: (line: string) => void;
}

export function resolveLogFormat(format: LogFormat | 'auto', fd = 2): LogFormat {
  if (format !== 'auto') return format;
  return fd === 2 && process.stderr.isTTY ? 'pretty' : 'json';
}

export function createLogger(options: LoggerOptions): Logger {
  const fd = options.fd ?? 2;
  const format = resolveLogFormat(options.format, fd);
  const base = {
    level: options.level ?? 'info',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (format === 'json') {
    // minLength 1: a batch is written at once, yet flush(cb) still waits for the write in flight (with 0,
    // sonic-boom calls back at once, and close() could let the process exit before the last lines are out).
    const destination = pino.destination({ fd, sync: false, minLength: 1 });
    const batch = new LineBatch(destination);
    // pino's exit hook (on-exit-leak-free) flushes the destination synchronously. Lines still in the batch must be
    // part of that flush, so they are queued without starting an asynchronous write, which exit would cut short:
    // sonic-boom's write() only queues while its buffer is below `minLength` (sonic-boom 4 index.js write()).
    const flushDestinationSync = destination.flushSync.bind(destination);
    destination.flushSync = () => {
      (destination as unknown as { minLength: number }).minLength = Number.MAX_SAFE_INTEGER;
      batch.drain();
      flushDestinationSync();
    };
    // A timer pushes out a partial batch so a `tail -f` or a test sees a line within FLUSH_MS; close() flushes the rest.
    setInterval(() => batch.drain(), FLUSH_MS).unref();
    // Every record goes through the batch, pino's and the access log's, so lines stay in order.
    const copy = options.copyTo;
    const push = copy === undefined ? (line: string) => batch.push(line) : (line: string) => {
      batch.push(line);
      copy(line);
    };
    const stream: DestinationStream & { flush(cb: (err?: Error) => void): void } = {
      write: push,
      flush: (cb) => {
        batch.drain();
        destination.flush(cb);
      },
    };
    const logger = pino(base, stream);
    jsonSinks.set(logger, push);
    return logger;
  }
  return pino(base, new PrettyLines(fd, options.color ?? true, options.copyTo));
}

const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const STATUS_COLOURS: Record<number, string> = { 2: '\x1b[32m', 3: '\x1b[36m', 4: '\x1b[33m', 5: '\x1b[31m' };
const LEVEL_NAMES: Readonly<Record<number, string>> = Object.freeze({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' });
const LEVEL_COLOURS: Readonly<Record<string, string>> = Object.freeze({ debug: DIM, warn: '\x1b[33m', error: '\x1b[31m', fatal: '\x1b[31m' });

/** One short line per record: "12:01:02 200 GET /index.html 5.1 KiB 0.4 ms #3f2a…"; other records as "level msg". */
class PrettyLines extends Writable {
  private readonly out: { write(s: string): unknown };
  private readonly color: boolean;
  constructor(fd: number, color: boolean, private readonly copyTo?: (line: string) => void) {
    super();
    this.out = fd === 2 ? process.stderr : fd === 1 ? process.stdout : pino.destination({ fd, sync: false });
    this.color = color;
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const lines = chunk.toString().split('\n').filter(Boolean);
    for (const line of lines) {
      this.copyTo?.(`${line}\n`);
      this.out.write(`${prettyLine(line, this.color)}\n`);
    }
    done();
  }
}

/**
 * One NDJSON log line as the terminal shows it (serve's pretty format, and `devmount logs` on a terminal):
 * a request as "HH:MM:SS status method path size duration reqId", any other record as "HH:MM:SS [level] msg {fields}".
 */
export function prettyLine(line: string, color: boolean): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    // Not JSON (a banner line in a log file): print it as it came.
    return line;
  }
  const time = typeof rec.time === 'string' ? rec.time.slice(11, 19)
    : typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 19) : '';
  const c = (code: string, s: string) => (color ? `${code}${s}${RESET}` : s);
  if (typeof rec.status === 'number' && rec.msg === 'request') {
    const status = c(STATUS_COLOURS[Math.floor(rec.status / 100)] ?? '', String(rec.status));
    const bytes = typeof rec.bytes === 'number' ? ` ${formatBytes(rec.bytes)}` : '';
    const ms = typeof rec.durationMs === 'number' ? ` ${rec.durationMs.toFixed(1)} ms` : '';
    const why = typeof rec.errno === 'string' ? ` ${c(DIM, rec.errno)}` : '';
    return `${c(DIM, time)} ${status} ${String(rec.method)} ${String(rec.path)}${bytes}${ms}${why} ${c(DIM, String(rec.reqId ?? ''))}`;
  }
  const level = LEVEL_NAMES[Number(rec.level)] ?? 'info';
  const { time: _t, level: _l, msg, ...rest } = rec;
  const extra = Object.keys(rest).length ? ` ${c(DIM, JSON.stringify(rest))}` : '';
  const levelText = level === 'info' ? '' : `${c(LEVEL_COLOURS[level] ?? '', level)} `;
  return `${c(DIM, time)} ${levelText}${String(msg ?? '')}${extra}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
