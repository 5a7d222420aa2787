/**
 * The server's logger: pino writing to stderr asynchronously (sonic-boom, no sync write per request).
 * NDJSON when stderr is not a terminal or --log-format json, so logs can be piped into jq or a collector;
 * compact coloured lines on a terminal.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export type LogFormat = 'json' | 'pretty';

const FLUSH_MS = 200;
const LOG_BUFFER_BYTES = 32 * 1024;

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
    // Lines are gathered up to 32 KiB before a write(2): one syscall per ~150 requests instead of one each
    // (the access log must not cost more than the response). A timer pushes out a partial buffer so a
    // `tail -f` or a test sees a line within FLUSH_MS; close() flushes the rest.
    const destination = pino.destination({ fd, sync: false, minLength: LOG_BUFFER_BYTES, maxWrite: 2 * LOG_BUFFER_BYTES });
    // flush() is a no-op while a write is in flight (sonic-boom), so the timer never stacks writes.
    setInterval(() => destination.flush(), FLUSH_MS).unref();
    const logger = pino(base, destination);
    jsonSinks.set(logger, (line) => { destination.write(line); });
    return logger;
  }
  return pino(base, new PrettyLines(fd, options.color ?? true));
}

const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const STATUS_COLOURS: Record<number, string> = { 2: '\x1b[32m', 3: '\x1b[36m', 4: '\x1b[33m', 5: '\x1b[31m' };
const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/** One short line per record: "12:01:02 200 GET /index.html 5.1 KiB 0.4 ms #3f2a…"; other records as "level msg". */
class PrettyLines extends Writable {
  private readonly out: { write(s: string): unknown };
  private readonly color: boolean;
  constructor(fd: number, color: boolean) {
    super();
    this.out = fd === 2 ? process.stderr : fd === 1 ? process.stdout : pino.destination({ fd, sync: false });
    this.color = color;
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const lines = chunk.toString().split('\n').filter(Boolean);
    for (const line of lines) this.out.write(`${this.format(line)}\n`);
    done();
  }

  private format(line: string): string {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      // Not JSON (cannot happen with pino): print it as it came.
      return line;
    }
    const time = typeof rec.time === 'string' ? rec.time.slice(11, 19) : '';
    const c = (code: string, s: string) => (this.color ? `${code}${s}${RESET}` : s);
    if (typeof rec.status === 'number' && rec.msg === 'request') {
      const status = c(STATUS_COLOURS[Math.floor(rec.status / 100)] ?? '', String(rec.status));
      const bytes = typeof rec.bytes === 'number' ? ` ${formatBytes(rec.bytes)}` : '';
      const ms = typeof rec.durationMs === 'number' ? ` ${rec.durationMs.toFixed(1)} ms` : '';
      return `${c(DIM, time)} ${status} ${String(rec.method)} ${String(rec.path)}${bytes}${ms} ${c(DIM, String(rec.reqId ?? ''))}`;
    }
    const level = LEVEL_NAMES[Number(rec.level)] ?? 'info';
    const { time: _t, level: _l, msg, ...rest } = rec;
    const extra = Object.keys(rest).length ? ` ${c(DIM, JSON.stringify(rest))}` : '';
    return `${c(DIM, time)} ${level === 'info' ? '' : `${level} `}${String(msg ?? '')}${extra}`;
  }
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
