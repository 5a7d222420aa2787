/**
 * `devmount logs [--req ID] [--since 10m] [--level warn] [--follow] [--json]`: the NDJSON logs of mount daemons,
 * dev servers and `up` (cli/logs/query.ts), merged in time order. On a terminal one coloured line per record, as
 * `serve` prints its log (devserver/logger.ts prettyLine); NDJSON when piped or with --json. `--req ID` is
 * everything one request caused, in every process it reached. `--follow` keeps printing new records until Ctrl-C.
 */
import { open } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Command } from 'commander';
import { prettyLine } from '../../devserver/logger.js';
import { devmountStateDir } from '../config/paths.js';
import { ExitCode } from '../exit-codes.js';
import { inTimeOrder, listLogFiles, matchLine, resolveLogFilter, type LogFilter, type LogRecord, type LogsFlags } from '../logs/query.js';

/** How often --follow looks for new lines (no inotify: a log file may be written on any filesystem). */
const FOLLOW_POLL_MS = 250;

/** Where reading stopped in one file, by inode, so a file renamed by rotation (x.log → x.log.1) is not read twice. */
interface Tail {
  offset: number;
  /** Bytes after the last newline: a line still being written. */
  partial: Buffer;
}

/** Which process wrote a file, for the terminal: "mount-1a2b3c4d5e6f", "serve-…", "devmount" (up), "serve/NAME". */
function sourceOf(path: string): string {
  const name = basename(path).replace(/\.log(\.\d+)?$/, '');
  return basename(dirname(path)) === 'serve' ? `serve/${name}` : name;
}

interface SourcedRecord extends LogRecord {
  readonly source: string;
}

async function readNewRecords(path: string, tails: Map<string, Tail>, filter: LogFilter): Promise<SourcedRecord[]> {
  const handle = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    // Rotated away or removed between the listing and now: its lines are in the file it became.
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (handle === null) return [];
  try {
    const stats = await handle.stat();
    const key = `${stats.dev}:${stats.ino}`;
    let tail = tails.get(key) ?? { offset: 0, partial: Buffer.alloc(0) };
    if (stats.size < tail.offset) tail = { offset: 0, partial: Buffer.alloc(0) }; // truncated: start over
    tails.set(key, tail);
    if (stats.size === tail.offset) return [];
    const fresh = Buffer.alloc(stats.size - tail.offset);
    const { bytesRead } = await handle.read(fresh, 0, fresh.length, tail.offset);
    tail.offset += bytesRead;
    const data = Buffer.concat([tail.partial, fresh.subarray(0, bytesRead)]);
    const end = data.lastIndexOf(0x0a);
    tail.partial = Buffer.from(data.subarray(end + 1));
    const records: SourcedRecord[] = [];
    const source = sourceOf(path);
    for (const line of data.subarray(0, end + 1).toString('utf8').split('\n')) {
      const record = matchLine(line, filter);
      if (record !== null) records.push({ ...record, source });
    }
    return records;
  } finally {
    await handle.close();
  }
}

async function readAll(stateDir: string, tails: Map<string, Tail>, filter: LogFilter): Promise<SourcedRecord[]> {
  const records: SourcedRecord[] = [];
  for (const file of await listLogFiles(stateDir)) records.push(...(await readNewRecords(file, tails, filter)));
  return inTimeOrder(records);
}

async function runLogs(flags: LogsFlags): Promise<void> {
  const filter = resolveLogFilter(flags, Date.now());
  const pretty = flags.json !== true && process.stdout.isTTY === true;
  const color = process.env.NO_COLOR === undefined;
  // `devmount logs | head`: a closed pipe ends the command, quietly; any other output error in one line.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(ExitCode.ok);
    process.stderr.write(`devmount: cannot write the logs: ${err.message}\n`);
    process.exit(ExitCode.failure);
  });
  // On a terminal each line ends with the process that wrote it (dimmed), as records of several are merged.
  const tag = (source: string) => (color ? `\x1b[2m[${source}]\x1b[0m` : `[${source}]`);
  const print = (records: readonly SourcedRecord[]): void => {
    if (records.length === 0) return;
    process.stdout.write(records.map((r) => `${pretty ? `${prettyLine(r.line, color)} ${tag(r.source)}` : r.line}\n`).join(''));
  };
  const stateDir = devmountStateDir();
  const tails = new Map<string, Tail>();
  print(await readAll(stateDir, tails, filter));
  if (flags.follow !== true) return;
  // Runs until Ctrl-C (SIGINT: exit 130, as shells report it) or SIGTERM.
  process.once('SIGINT', () => process.exit(ExitCode.interrupted));
  process.once('SIGTERM', () => process.exit(ExitCode.ok));
  for (;;) {
    await new Promise<void>((resolve) => setTimeout(resolve, FOLLOW_POLL_MS));
    print(await readAll(stateDir, tails, filter));
  }
}

export function register(program: Command): void {
  program
    .command('logs')
    .description('show the logs of mounts, dev servers and `up`, merged in time order')
    .option('--req <id>', 'only what one request caused (its X-Request-Id), in every process it reached')
    .option('--since <age>', 'only records newer than this: 30s, 10m, 2h, 1d, or a time (2026-12-07T18:00:00Z)')
    .option('--level <level>', 'only records at this level or above: trace, debug, info, warn, error, fatal')
    .option('-f, --follow', 'keep printing new records until Ctrl-C')
    .option('--json', 'print NDJSON (the default when the output is not a terminal)')
    .action(async (flags: LogsFlags) => {
      await runLogs(flags);
    });
}
