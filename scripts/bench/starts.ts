/**
 * What opening a site costs, for bench:remote: one start of `devmount serve ARGS` timed from spawning it to the
 * first full page, its warm pages and one page after idling; and the comparison of a remote site (a cold start,
 * then a second start on the first one's disk cache) with the same site served from a local copy, same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import { cpuSeconds, DEVMOUNT_CLI, execFileAsync, freePort, medianBy, printTable, stopChild, type Row } from './lib.js';

/** Bound on one start (spawn to listening), and on one page. */
const START_LIMIT_MS = 60_000;
const PAGE_LIMIT_MS = 60_000;
const WARM_SAMPLES = 5;
/** BENCH_IDLE_S (default 25): how long the remote server idles before the "after idle" page; 0 = not measured. */
export const IDLE_MS = 1000 * Math.max(0, Number(process.env.BENCH_IDLE_S ?? 25));

/** The page a benchmark times, and text it must contain (a page that failed to render must not count). */
export interface TimedPage {
  readonly name: string;
  readonly page: string;
  readonly expect: RegExp;
}

interface Spawned {
  readonly child: ChildProcess;
  readonly origin: string;
  readonly spawnedAt: number;
  /** When it first answered HTTP. */
  readonly listeningAt: number;
}

/** Spawns `devmount serve ARGS` on a free port and waits (bounded) until it answers HTTP at all. */
async function spawnServe(args: readonly string[], logFile: string): Promise<Spawned> {
  const port = await freePort();
  const log = await open(logFile, 'a');
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [DEVMOUNT_CLI, 'serve', ...args, '--port', String(port), '--log-format', 'json'],
    { stdio: ['ignore', 'ignore', log.fd] });
  await log.close();
  const origin = `http://127.0.0.1:${port}`;
  const deadline = spawnedAt + START_LIMIT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`devmount serve exited with ${child.exitCode}; see ${logFile}`);
    // Refused until it listens (bounded by the deadline).
    const listening = await fetch(`${origin}/__devmount/livereload.js`).then((res) => res.arrayBuffer()).then(() => true, () => false);
    if (listening) return { child, origin, spawnedAt, listeningAt: performance.now() };
    if (performance.now() > deadline) {
      await stopChild(child);
      throw new Error(`devmount serve did not listen within ${START_LIMIT_MS} ms; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GETs the page; milliseconds until its whole body arrived. A page that did not render fails the benchmark. */
async function timePage(origin: string, app: TimedPage): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${origin}${app.page}`, { signal: AbortSignal.timeout(PAGE_LIMIT_MS), redirect: 'manual' });
  const body = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200 || !app.expect.test(body)) throw new Error(`${app.name}: ${origin}${app.page} answered ${res.status}: ${body.slice(0, 300)}`);
  return ms;
}

async function medianPage(origin: string, app: TimedPage): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < WARM_SAMPLES; i++) samples.push(await timePage(origin, app));
  return medianBy(samples, (x) => x) ?? Number.NaN;
}

export interface StartFigures {
  /** Spawn → answering HTTP (Node's start, module loading, connecting, the server listening). */
  readonly listenMs: number;
  /** Spawn → first full page. */
  readonly firstMs: number;
  /**
   * CPU seconds the server and its PHP workers used from spawn to the first page (/proc/PID/stat): what a start
   * costs even when the machine is too loaded for its wall time to mean much.
   */
  readonly firstCpuS: number;
  readonly warmMs: number;
  readonly idleMs: number | null;
}

/** One start of `devmount serve ARGS`: first page after spawning, warm pages, optionally one page after idling. */
export async function measureStart(args: readonly string[], app: TimedPage, logFile: string, idle: boolean): Promise<StartFigures> {
  const served = await spawnServe(args, logFile);
  try {
    await timePage(served.origin, app);
    const firstMs = performance.now() - served.spawnedAt;
    const firstCpuS = served.child.pid === undefined ? Number.NaN : await cpuSeconds(served.child.pid, true);
    const warmMs = await medianPage(served.origin, app);
    let idleMs: number | null = null;
    if (idle && IDLE_MS > 0) {
      await new Promise((r) => setTimeout(r, IDLE_MS));
      idleMs = await timePage(served.origin, app);
    }
    return { listenMs: served.listeningAt - served.spawnedAt, firstMs, firstCpuS, warmMs, idleMs };
  } finally {
    await stopChild(served.child);
  }
}

/** `uptime`'s line: printed with every table, as the machine's load changes within a run. */
export async function loadAverage(): Promise<string> {
  const { stdout } = await execFileAsync('uptime', []);
  return stdout.trim();
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const times = (ours: number, peer: number): string => `${(ours / peer).toFixed(2)}x`;

/** The local copy, then the remote cold start (both with the idle page), then the remote second start; one table. */
export async function compareStarts(app: TimedPage, runs: { local: readonly string[]; remote: readonly string[] }, logs: (what: string) => string, rtt: string, note?: string): Promise<void> {
  const loadBefore = await loadAverage();
  const local = await measureStart(runs.local, app, logs('local'), true);
  const cold = await measureStart(runs.remote, app, logs('remote'), true);
  const second = await measureStart(runs.remote, app, logs('remote-2'), false);
  const rows: Row[] = [
    { label: 'first start (empty cache): spawn → page', ours: seconds(cold.firstMs), peer: seconds(local.firstMs), ratio: times(cold.firstMs, local.firstMs), goal: `≤ 3 s: ${cold.firstMs <= 3000 ? 'OK' : 'NO'}` },
    { label: `warm page (median of ${WARM_SAMPLES})`, ours: `${cold.warmMs.toFixed(0)} ms`, peer: `${local.warmMs.toFixed(0)} ms`, ratio: times(cold.warmMs, local.warmMs), goal: `≤ 1.5x: ${cold.warmMs <= 1.5 * local.warmMs ? 'OK' : 'NO'}` },
    // Against the local server's page after the same idle time (a database connection, PHP workers idle too).
    ...(cold.idleMs !== null && local.idleMs !== null ? [{ label: `page after ${IDLE_MS / 1000} s idle`, ours: `${cold.idleMs.toFixed(0)} ms`, peer: `${local.idleMs.toFixed(0)} ms`, ratio: times(cold.idleMs, local.idleMs), goal: `≤ 1.5x: ${cold.idleMs <= 1.5 * local.idleMs ? 'OK' : 'NO'}` }] : []),
    { label: 'first start: spawn → listening', ours: seconds(cold.listenMs), peer: seconds(local.listenMs), ratio: times(cold.listenMs, local.listenMs), goal: '' },
    { label: 'second start: spawn → listening', ours: seconds(second.listenMs), peer: seconds(local.listenMs), ratio: times(second.listenMs, local.listenMs), goal: '' },
    { label: 'first start: CPU to the page (server + PHP)', ours: `${cold.firstCpuS.toFixed(2)} s`, peer: `${local.firstCpuS.toFixed(2)} s`, ratio: times(cold.firstCpuS, local.firstCpuS), goal: '' },
    { label: 'second start: CPU to the page (server + PHP)', ours: `${second.firstCpuS.toFixed(2)} s`, peer: `${local.firstCpuS.toFixed(2)} s`, ratio: times(second.firstCpuS, local.firstCpuS), goal: '' },
    { label: 'second start (disk cache): spawn → page', ours: seconds(second.firstMs), peer: seconds(local.firstMs), ratio: times(second.firstMs, local.firstMs), goal: `≤ 1 s: ${second.firstMs <= 1000 ? 'OK' : 'NO'}` },
    { label: 'second start: warm page', ours: `${second.warmMs.toFixed(0)} ms`, peer: `${local.warmMs.toFixed(0)} ms`, ratio: times(second.warmMs, local.warmMs), goal: '' },
  ];
  printTable(`bench:remote — ${app.name} (${app.page}), remote at ${rtt} RTT${note ? `\n${note}` : ''}`, { ours: `serve user@host (${rtt})`, peer: 'serve ./local-copy' }, rows);
  process.stdout.write(`load: before ${loadBefore}; after ${await loadAverage()}\n`);
}
