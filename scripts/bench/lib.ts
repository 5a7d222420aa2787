/**
 * Shared pieces of the benchmark drivers: timing, child processes, and the ratio table. Benchmarks always
 * run devmount and the peer in the same run, on the same server and data, and print ratios — the machine
 * is shared and noisy, so absolute numbers are not comparable across runs.
 */
import { execFile, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

export const execFileAsync = promisify(execFile);

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

export function ratio(ours: Measurement, peer: Measurement): string {
  const r = ours.seconds / peer.seconds;
  // A peer stopped at its limit makes the ratio an upper bound (we are at least this much faster).
  return `${peer.timedOut ? '<' : ''}${r.toFixed(2)}x`;
}
