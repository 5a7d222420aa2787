/**
 * What `devmount logs` reads and keeps: the NDJSON log files under `$XDG_STATE_HOME/devmount/` (mount daemons'
 * mount-*.log, foreground servers' serve-*.log, `up`'s devmount.log, servers started by `up` in serve/*.log, and
 * their rotated .1/.2 copies), one record per line, filtered by request id, age and level. Lines that are not
 * JSON records with a time (a server's start-up banner in serve/NAME.log) are skipped. The fields are those of
 * docs/logging.md.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { clientRequestId } from '../../devserver/context.js';
import { UserError } from '../user-error.js';

export const LEVELS: Readonly<Record<string, number>> = Object.freeze({ trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 });

export interface LogsFlags {
  req?: string;
  since?: string;
  level?: string;
  follow?: boolean;
  json?: boolean;
}

export interface LogFilter {
  readonly reqId: string | null;
  /** Records older than this (epoch ms) are left out; null = all. */
  readonly sinceMs: number | null;
  readonly minLevel: number;
}

const UNIT_MS: Readonly<Record<string, number>> = Object.freeze({ s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 });

/** Checks the flags once; bad input is a UserError('usage') naming the flag and what to give instead. */
export function resolveLogFilter(flags: LogsFlags, nowMs: number): LogFilter {
  let reqId: string | null = null;
  if (flags.req !== undefined) {
    reqId = clientRequestId(flags.req);
    if (reqId === null) throw new UserError('usage', `--req ${JSON.stringify(flags.req)}: give a request id as logged (letters, digits, ._:@-), e.g. the X-Request-Id response header`);
  }
  let sinceMs: number | null = null;
  if (flags.since !== undefined) {
    const duration = /^(\d+)([smhd])$/.exec(flags.since);
    const at = Date.parse(flags.since);
    if (duration !== null) sinceMs = nowMs - Number(duration[1]) * (UNIT_MS[duration[2] ?? 's'] ?? 1000);
    else if (/^\d{4}-\d\d-\d\d/.test(flags.since) && !Number.isNaN(at)) sinceMs = at;
    else throw new UserError('usage', `--since ${flags.since}: give an age like 30s, 10m, 2h, 1d or a time like 2026-12-07T18:00:00Z`);
  }
  let minLevel = 0;
  if (flags.level !== undefined) {
    const level = LEVELS[flags.level.toLowerCase()];
    if (level === undefined) throw new UserError('usage', `--level ${flags.level}: give one of ${Object.keys(LEVELS).join(', ')}`);
    minLevel = level;
  }
  return Object.freeze({ reqId, sinceMs, minLevel });
}

export interface LogRecord {
  readonly timeMs: number;
  /** The line as written (without its newline): printed as it is with --json. */
  readonly line: string;
}

/** The record of one line when it passes the filter; null for other lines and for lines that are not records. */
export function matchLine(line: string, filter: LogFilter): LogRecord | null {
  if (!line.startsWith('{')) return null;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    // A line cut off by a crash, or not ours: not a record.
    return null;
  }
  const timeMs = typeof rec.time === 'string' ? Date.parse(rec.time) : typeof rec.time === 'number' ? rec.time : Number.NaN;
  if (Number.isNaN(timeMs)) return null;
  if (filter.reqId !== null && rec.reqId !== filter.reqId) return null;
  if (filter.sinceMs !== null && timeMs < filter.sinceMs) return null;
  if (typeof rec.level === 'number' && rec.level < filter.minLevel) return null;
  return { timeMs, line };
}

const LOG_FILE = /\.log(\.\d+)?$/;

/** Every devmount log file under the state directory (serve/ included); a missing directory has none. */
export async function listLogFiles(stateDir: string): Promise<string[]> {
  const files: string[] = [];
  for (const dir of [stateDir, join(stateDir, 'serve')]) {
    const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [] as string[];
      throw err;
    });
    for (const name of names) if (LOG_FILE.test(name)) files.push(join(dir, name));
  }
  return files.sort();
}

/** Records in time order; records of the same millisecond keep their file and line order (a stable sort). */
export function inTimeOrder<T extends LogRecord>(records: T[]): T[] {
  return records.sort((a, b) => a.timeMs - b.timeMs);
}
