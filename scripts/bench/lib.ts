/**
 * Shared pieces of the benchmark drivers: timing, child processes, and the ratio table. Benchmarks always
 * run devmount and the peer in the same run, on the same server and data, and print ratios — the machine
 * is shared and noisy, so absolute numbers are not comparable across runs.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { open, readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);

/** The repository root, from dist/scripts/bench/ where the compiled drivers run. */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
/** BENCH_DEVMOUNT_CLI: another build's bin/devmount.js (both sides then run that build), to compare builds with the same bench. */
export const DEVMOUNT_CLI = process.env.BENCH_DEVMOUNT_CLI ?? path.join(REPO, 'bin/devmount.js');

export interface Measurement {
  readonly seconds: number;
  /** True when the work was stopped at its time limit: the figure is a lower bound. */
  readonly timedOut: boolean;
}

/** Runs a shell command, timing it; stops it at `limitMs` (the result is then a lower bound). */
export async function timeShell(command: string, options: { cwd?: string; limitMs?: number } = {}): Promise<Measurement> {
  const started = process.hrtime.bigint();
  const child = spawn('bash', ['-c', command], { cwd: options.cwd, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  let timedOut = false;
  const timer = options.limitMs
    ? setTimeout(() => {
      timedOut = true;
      if (child.pid) process.kill(-child.pid, 'SIGKILL'); // the whole group: bash and what it started
    }, options.limitMs)
    : null;
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  if (timer) clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (!timedOut && code !== 0) throw new Error(`benchmark command failed (${code}): ${command}\n${stderr}`);
  return { seconds, timedOut };
}

export function formatSeconds(m: Measurement): string {
  return `${m.timedOut ? '>' : ''}${m.seconds.toFixed(2)} s`;
}

export function formatRate(bytes: number, m: Measurement): string {
  return `${m.timedOut ? '<' : ''}${(bytes / 1e6 / m.seconds).toFixed(1)} MB/s`;
}

/** Peak resident set size of a process, from /proc (VmHWM), in MB. */
export async function peakRssMb(pid: number): Promise<number | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /VmHWM:\s+(\d+) kB/.exec(status);
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null; // the process is gone
  }
}

export interface Row {
  readonly label: string;
  readonly ours: string;
  readonly peer: string;
  /** ours/peer for times (lower is better), or as stated in `better`. */
  readonly ratio: string;
  readonly goal?: string;
}

export function printTable(title: string, columns: { ours: string; peer: string }, rows: readonly Row[]): void {
  const header = ['work', columns.ours, columns.peer, 'ratio', 'goal'];
  const lines = rows.map((r) => [r.label, r.ours, r.peer, r.ratio, r.goal ?? '']);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  process.stdout.write(`\n${title}\n${fmt(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const l of lines) process.stdout.write(`${fmt(l)}\n`);
}

/** The median sample by `value` (the lower of the middle two); undefined for none. The machine is shared: single runs are noisy. */
export function medianBy<T>(samples: readonly T[], value: (sample: T) => number): T | undefined {
  const sorted = [...samples].sort((a, b) => value(a) - value(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

export function ratio(ours: Measurement, peer: Measurement): string {
  const r = ours.seconds / peer.seconds;
  // A peer stopped at its limit makes the ratio an upper bound (we are at least this much faster).
  return `${peer.timedOut ? '<' : ''}${r.toFixed(2)}x`;
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it; the server that gets it binds it shortly after). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

/** SIGTERM, then SIGKILL after 5 s if the child still runs; resolves once it has exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export interface WaitOptions {
  /** Polls, 100 ms apart (default 100, i.e. about 10 s). */
  readonly attempts?: number;
  /** Appended to the error message, e.g. where the server's log is. */
  readonly hint?: string;
}

/** Waits (bounded) until `url` answers 2xx; a server that never does is stopped, so a failed start leaves nothing behind. */
export async function waitForHttp(url: string, child: ChildProcess, options: WaitOptions = {}): Promise<void> {
  try {
    await pollHttp(url, child, options);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

async function pollHttp(url: string, child: ChildProcess, { attempts = 100, hint }: WaitOptions): Promise<void> {
  const suffix = hint ? `; ${hint}` : '';
  for (let i = 0; i < attempts; i++) {
    if (child.exitCode !== null) throw new Error(`${url}: server exited with ${child.exitCode}${suffix}`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // Not listening yet: try again shortly (bounded by the loop).
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up${suffix}`);
}

export interface StartedServe {
  readonly child: ChildProcess;
  /** http://127.0.0.1:PORT */
  readonly origin: string;
}

/**
 * Starts `devmount serve ARGS --port P --log-format json` on a free port and waits until `readyPath` answers.
 * stderr (the JSON log) goes to `logFile` when given, else nowhere.
 */
export async function startDevmountServe(args: readonly string[],
  options: WaitOptions & { logFile?: string; readyPath: string; cli?: string }): Promise<StartedServe> {
  const port = await freePort();
  const log = options.logFile ? await open(options.logFile, 'a') : null;
  const child = spawn(process.execPath, [options.cli ?? DEVMOUNT_CLI, 'serve', ...args, '--port', String(port), '--log-format', 'json'],
    { stdio: ['ignore', 'ignore', log ? log.fd : 'ignore'] });
  await log?.close();
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}${options.readyPath}`, child, { ...options, hint: options.hint ?? (options.logFile ? `see ${options.logFile}` : undefined) });
  return { child, origin };
}

/** `count` sequential GETs of `url`, bodies read: fills caches before a measurement. */
export async function warmUp(url: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await (await fetch(url)).arrayBuffer();
}

/** Runs `wrk ARGS url` and returns its Requests/sec; any non-2xx/3xx response fails the benchmark. */
export async function wrk(url: string, args: readonly string[]): Promise<number> {
  return (await wrkRun(url, args)).rate;
}

export interface WrkResult {
  readonly rate: number;
  readonly requests: number;
}

/** `wrk ARGS url`: Requests/sec and the number of requests it completed. */
export async function wrkRun(url: string, args: readonly string[]): Promise<WrkResult> {
  const { stdout } = await execFileAsync('wrk', [...args, url], { timeout: 60_000 });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  const n = /(\d+) requests in/.exec(stdout);
  if (!m || !n) throw new Error(`wrk output not understood:\n${stdout}`);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  if (errors) throw new Error(`wrk saw ${errors[1]} error responses from ${url}`);
  return { rate: Number(m[1]), requests: Number(n[1]) };
}

/** Clock ticks per second of /proc's utime/stime (USER_HZ; 100 on Linux for every architecture Node runs on). */
const USER_HZ = 100;

/**
 * CPU seconds (user + system) used so far by `pid`, with `descendants` also by its children still running (nginx's
 * worker is a child of its master), from /proc/PID/stat fields 14 and 15 (proc(5)). Per request, it says what a
 * server costs even when the machine is too loaded for req/s to mean much.
 */
export async function cpuSeconds(pid: number, descendants = false): Promise<number> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  const stats = new Map<number, { ppid: number; ticks: number }>();
  await Promise.all(entries.filter((e) => /^\d+$/.test(e)).map(async (e) => {
    const text = await readFile(`/proc/${e}/stat`, 'utf8').catch(() => null);
    if (text === null) return;
    // The command name (field 2) may hold spaces and parentheses: the fields after it start past the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    stats.set(Number(e), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
  }));
  let ticks = 0;
  const tree = [pid];
  while (tree.length > 0) {
    const current = tree.pop();
    for (const [candidate, s] of stats) {
      if (candidate === current) ticks += s.ticks;
      else if (descendants && s.ppid === current) tree.push(candidate);
    }
  }
  return ticks / USER_HZ;
}

/** "2.31x (goal >= 2x) OK" for a higher-is-better ratio. */
export function formatGoal(value: number, goal: number): string {
  return `${value.toFixed(2)}x (goal >= ${goal}x) ${value >= goal ? 'OK' : 'BELOW GOAL'}`;
}
