/**
 * `npm run bench:remote`: `devmount serve user@host:/path` at 20 ms RTT (a TCP delay proxy adding 10 ms each way
 * in front of the harness sshd) against the same `devmount serve` on a local copy of the site, in the same run.
 *
 * 1. A small static page: req/s with `wrk -t1 -c50 -d5s` after a warm-up, best of DEVMOUNT_BENCH_ROUNDS
 *    alternations. Goal: remote/local >= 0.5x (cache hits are served from memory).
 * 2. PHP applications (apps.ts: DokuWiki, and WordPress's includes) — what opening a site costs:
 *    - first start, cold (empty disk cache): from spawning `devmount serve` to the first full page (goal ≤ 3 s);
 *    - warm pages (median of 5) and one page after BENCH_IDLE_S (25) seconds idle (goal ≤ 1.5x local serve);
 *    - second start (the disk cache of the first): spawn to the first full page (goal ≤ 1 s).
 *    The local server's first page (spawn to page) and warm pages are measured the same way, same run.
 * The machine is shared and noisy: `uptime` is printed with the figures; compare the ratios. BENCH_REMOTE_ONLY=
 * static,dokuwiki,wordpress limits the parts; BENCH_SERVER_HOME=login keeps the server login's shell startup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSshd, type Sshd } from '../../test/harness/sshd.js';
import { startDelayProxy } from '../delay-proxy.js';
import { DOKUWIKI, WORDPRESS_INCLUDES, type BenchApp } from './apps.js';
import { DEVMOUNT_CLI, execFileAsync, formatGoal, freePort, medianBy, printTable, startDevmountServe, stopChild, warmUp, wrk, type Row } from './lib.js';

const WRK_ARGS = ['-t1', '-c50', '-d5s'];
const ONE_WAY_DELAY_MS = 10; // 20 ms RTT
const ROUNDS = Math.max(1, Number(process.env.DEVMOUNT_BENCH_ROUNDS ?? 2));
const WARMUP_REQUESTS = 20;
const GOAL = 0.5;
const IDLE_MS = 1000 * Math.max(0, Number(process.env.BENCH_IDLE_S ?? 25));
const WARM_SAMPLES = 5;
/** Bound on one start (spawn to listening), and on one page. */
const START_LIMIT_MS = 60_000;
const PAGE_LIMIT_MS = 60_000;

/** Starts `devmount serve ARGS`, waits (bounded, ~30 s: the remote one connects through the delay proxy) and warms it up. */
async function startServe(args: readonly string[], logFile: string): Promise<{ child: ChildProcess; url: string }> {
  const { child, origin } = await startDevmountServe(args, { logFile, readyPath: '/index.html', attempts: 300 });
  const url = `${origin}/index.html`;
  await warmUp(url, WARMUP_REQUESTS);
  return { child, url };
}

async function loadAverage(): Promise<string> {
  const { stdout } = await execFileAsync('uptime', []);
  return stdout.trim();
}

/** The static page: req/s remote vs local (part 1). */
async function staticPage(sshd: Sshd, work: string, remoteArgs: (site: string) => string[], children: ChildProcess[]): Promise<void> {
  const site = path.join(sshd.root, 'site');
  await mkdir(path.join(site, 'css'), { recursive: true });
  const paragraph = '<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.</p>\n';
  await writeFile(path.join(site, 'index.html'), `<!doctype html><html><head><link rel="stylesheet" href="css/site.css"></head><body>\n${paragraph.repeat(50)}</body></html>\n`);
  await writeFile(path.join(site, 'css', 'site.css'), 'body { font-family: sans-serif; }\n');
  const localCopy = path.join(work, 'local-site');
  await cp(site, localCopy, { recursive: true });
  const remote = await startServe([...remoteArgs(site), '--cache-dir', path.join(work, 'static-cache')], path.join(work, 'remote.log'));
  children.push(remote.child);
  const local = await startServe([localCopy], path.join(work, 'local.log'));
  children.push(local.child);
  let bestRemote = 0;
  let bestLocal = 0;
  for (let round = 0; round < ROUNDS; round++) {
    bestRemote = Math.max(bestRemote, await wrk(remote.url, WRK_ARGS));
    bestLocal = Math.max(bestLocal, await wrk(local.url, WRK_ARGS));
  }
  await Promise.all([stopChild(remote.child), stopChild(local.child)]);
  const r = bestRemote / bestLocal;
  process.stdout.write(`\nbench:remote — 5 KiB page, wrk ${WRK_ARGS.join(' ')}, best of ${ROUNDS}, remote at ${2 * ONE_WAY_DELAY_MS} ms RTT\n`);
  process.stdout.write(`| server                                | req/s    |\n|---------------------------------------|----------|\n`);
  process.stdout.write(`| devmount serve user@host:/site (20ms) | ${bestRemote.toFixed(0).padStart(8)} |\n`);
  process.stdout.write(`| devmount serve ./local-copy           | ${bestLocal.toFixed(0).padStart(8)} |\n`);
  process.stdout.write(`remote/local ratio: ${formatGoal(r, GOAL)}\n`);
}

interface Spawned {
  readonly child: ChildProcess;
  readonly origin: string;
  readonly spawnedAt: number;
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
    if (listening) return { child, origin, spawnedAt };
    if (performance.now() > deadline) {
      await stopChild(child);
      throw new Error(`devmount serve did not listen within ${START_LIMIT_MS} ms; see ${logFile}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GETs the app's page; milliseconds until its whole body arrived. A page that did not render fails the benchmark. */
async function timePage(origin: string, app: BenchApp): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${origin}${app.page}`, { signal: AbortSignal.timeout(PAGE_LIMIT_MS) });
  const body = await res.text();
  const ms = performance.now() - started;
  if (res.status !== 200 || !app.expect.test(body)) throw new Error(`${app.name}: ${origin}${app.page} answered ${res.status}: ${body.slice(0, 300)}`);
  return ms;
}

async function medianPage(origin: string, app: BenchApp): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < WARM_SAMPLES; i++) samples.push(await timePage(origin, app));
  return medianBy(samples, (x) => x) ?? Number.NaN;
}

interface StartFigures {
  /** Spawn → first full page. */
  readonly firstMs: number;
  readonly warmMs: number;
  readonly idleMs: number | null;
}

/** One start of `devmount serve ARGS`: first page after spawning, warm pages, optionally one page after idling. */
async function measureStart(args: readonly string[], app: BenchApp, logFile: string, idle: boolean): Promise<StartFigures> {
  const served = await spawnServe(args, logFile);
  try {
    await timePage(served.origin, app);
    const firstMs = performance.now() - served.spawnedAt;
    const warmMs = await medianPage(served.origin, app);
    let idleMs: number | null = null;
    if (idle && IDLE_MS > 0) {
      await new Promise((r) => setTimeout(r, IDLE_MS));
      idleMs = await timePage(served.origin, app);
    }
    return { firstMs, warmMs, idleMs };
  } finally {
    await stopChild(served.child);
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const times = (ours: number, peer: number): string => `${(ours / peer).toFixed(2)}x`;

/** Part 2: one application, remote (cold, then a second start) and local, same run. */
async function appStarts(sshd: Sshd, work: string, app: BenchApp, remoteArgs: (site: string) => string[]): Promise<void> {
  const slug = app.name.toLowerCase().replace(/\W+/g, '-');
  const remoteSite = path.join(sshd.root, slug);
  const localSite = path.join(work, `local-${slug}`);
  await app.write(remoteSite);
  await app.write(localSite);
  const cacheDir = path.join(work, `cache-${slug}`);
  const args = [...remoteArgs(remoteSite), '--cache-dir', cacheDir];
  const local = await measureStart([localSite], app, path.join(work, `local-${slug}.log`), false);
  const cold = await measureStart(args, app, path.join(work, `remote-${slug}.log`), true);
  const second = await measureStart(args, app, path.join(work, `remote-${slug}-2.log`), false);
  const rows: Row[] = [
    { label: 'first start (empty cache): spawn → page', ours: seconds(cold.firstMs), peer: seconds(local.firstMs), ratio: times(cold.firstMs, local.firstMs), goal: `≤ 3 s: ${cold.firstMs <= 3000 ? 'OK' : 'NO'}` },
    { label: `warm page (median of ${WARM_SAMPLES})`, ours: `${cold.warmMs.toFixed(0)} ms`, peer: `${local.warmMs.toFixed(0)} ms`, ratio: times(cold.warmMs, local.warmMs), goal: `≤ 1.5x: ${cold.warmMs <= 1.5 * local.warmMs ? 'OK' : 'NO'}` },
    ...(cold.idleMs !== null ? [{ label: `page after ${IDLE_MS / 1000} s idle`, ours: `${cold.idleMs.toFixed(0)} ms`, peer: `${local.warmMs.toFixed(0)} ms`, ratio: times(cold.idleMs, local.warmMs), goal: `≤ 1.5x: ${cold.idleMs <= 1.5 * local.warmMs ? 'OK' : 'NO'}` }] : []),
    { label: 'second start (disk cache): spawn → page', ours: seconds(second.firstMs), peer: seconds(local.firstMs), ratio: times(second.firstMs, local.firstMs), goal: `≤ 1 s: ${second.firstMs <= 1000 ? 'OK' : 'NO'}` },
    { label: 'second start: warm page', ours: `${second.warmMs.toFixed(0)} ms`, peer: `${local.warmMs.toFixed(0)} ms`, ratio: times(second.warmMs, local.warmMs), goal: '' },
  ];
  printTable(`bench:remote — ${app.name} (${app.page}), remote at ${2 * ONE_WAY_DELAY_MS} ms RTT`, { ours: 'serve user@host (20 ms)', peer: 'serve ./local-copy' }, rows);
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'devmount-bench-remote-'));
  // As bench:mount: the commands devmount runs on the server (listing, tar, watcher) start without the login's
  // shell startup files unless BENCH_SERVER_HOME=login (here root's ~/.bashrc costs ~0.9 s of CPU per command).
  const keepLoginHome = process.env.BENCH_SERVER_HOME === 'login';
  const emptyHome = path.join(work, 'server-home');
  await mkdir(emptyHome);
  const sshd = await startSshd(keepLoginHome ? {} : { extraConfig: `SetEnv HOME=${emptyHome}` });
  const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: ONE_WAY_DELAY_MS });
  const children: ChildProcess[] = [];
  try {
    process.stdout.write(`load before: ${await loadAverage()}\n`);
    process.stdout.write(`server sessions: ${keepLoginHome ? "the login's own HOME and shell startup files" : `HOME=${emptyHome} (no shell startup files)`}\n`);
    const knownHosts = path.join(work, 'known_hosts');
    await writeFile(knownHosts, `[127.0.0.1]:${proxy.port} ${sshd.hostPublicKey}\n`);
    const remoteArgs = (site: string) => [`${sshd.user}@127.0.0.1:${site}`, '-o', `Port=${proxy.port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${knownHosts}`];
    const only = process.env.BENCH_REMOTE_ONLY?.split(',').filter(Boolean);
    if (!only || only.includes('static')) await staticPage(sshd, work, remoteArgs, children);
    for (const [key, app] of [['dokuwiki', DOKUWIKI], ['wordpress', WORDPRESS_INCLUDES]] as const) {
      if (!only || only.includes(key)) await appStarts(sshd, work, app, remoteArgs);
    }
    process.stdout.write(`load after: ${await loadAverage()}\n`);
  } finally {
    await Promise.all(children.map(stopChild));
    await proxy.close();
    await sshd.stop();
    // BENCH_KEEP=1 keeps the logs (and sites) for a look at where the time went.
    if (process.env.BENCH_KEEP === '1') process.stdout.write(`kept ${work}\n`);
    else await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:remote failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
