/**
 * `npm run bench:remote`: `devmount serve user@host:/path` at 20 ms RTT (a TCP delay proxy adding 10 ms each way
 * in front of the harness sshd) against the same `devmount serve` on a local copy of the site, in the same run.
 *
 * 1. A small static page: req/s with `wrk -t1 -c50 -d5s` after a warm-up, best of DEVMOUNT_BENCH_ROUNDS
 *    alternations. Goal: remote/local >= 0.5x (cache hits are served from memory).
 * 2. PHP applications — what opening a site costs: DokuWiki and a page of WordPress's includes (apps.ts, no
 *    database, on the harness sshd), and WordPress's real front page with its database on the server
 *    (wordpress-db.ts, in a network-namespace lab behind the same 20 ms delay):
 *    - first start, cold (empty disk cache): from spawning `devmount serve` to the first full page (goal ≤ 3 s);
 *    - warm pages (median of 5) and one page after BENCH_IDLE_S (25) seconds idle (goal ≤ 1.5x local serve);
 *    - second start (the disk cache of the first): spawn to the first full page (goal ≤ 1 s).
 *    The local server's first page (spawn to page) and warm pages are measured the same way, same run.
 *    WordPress's front page is measured twice: with its database on the server (both sides 20 ms from it), and
 *    with the database near for both sides (the same socket, no delay) while devmount's files stay 20 ms away —
 *    the start goals without the application's own query round trips. Each start also prints spawn → listening
 *    (its phases are in the serve log's `start-up phases` record; BENCH_KEEP=1 keeps the logs).
 * The machine is shared and noisy: `uptime` is printed with the figures; compare the ratios. BENCH_REMOTE_ONLY=
 * static,dokuwiki,wordpress,wordpress-db (both WordPress tables),wordpress-db-near (the second alone) limits the parts; BENCH_SERVER_HOME=login keeps the server login's shell startup.
 */
import type { ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSshd, type Sshd } from '../../test/harness/sshd.js';
import { startDelayProxy } from '../delay-proxy.js';
import { DOKUWIKI, WORDPRESS_INCLUDES, type BenchApp } from './apps.js';
import { formatGoal, startDevmountServe, stopChild, warmUp, wrk } from './lib.js';
import { compareStarts, loadAverage } from './starts.js';
import { wordpressWithDatabase } from './wordpress-db.js';

const WRK_ARGS = ['-t1', '-c50', '-d5s'];
const ONE_WAY_DELAY_MS = 10; // 20 ms RTT
const ROUNDS = Math.max(1, Number(process.env.DEVMOUNT_BENCH_ROUNDS ?? 2));
const WARMUP_REQUESTS = 20;
const GOAL = 0.5;

/** Starts `devmount serve ARGS`, waits (bounded, ~30 s: the remote one connects through the delay proxy) and warms it up. */
async function startServe(args: readonly string[], logFile: string): Promise<{ child: ChildProcess; url: string }> {
  const { child, origin } = await startDevmountServe(args, { logFile, readyPath: '/index.html', attempts: 300 });
  const url = `${origin}/index.html`;
  await warmUp(url, WARMUP_REQUESTS);
  return { child, url };
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

/** Part 2: one application without a database, remote (cold, then a second start) and local, same run. */
async function appStarts(sshd: Sshd, work: string, app: BenchApp, remoteArgs: (site: string) => string[]): Promise<void> {
  const slug = app.name.toLowerCase().replace(/\W+/g, '-');
  const remoteSite = path.join(sshd.root, slug);
  const localSite = path.join(work, `local-${slug}`);
  await app.write(remoteSite);
  await app.write(localSite);
  const remote = [...remoteArgs(remoteSite), '--cache-dir', path.join(work, `cache-${slug}`)];
  await compareStarts(app, { local: [localSite], remote }, (what) => path.join(work, `${what}-${slug}.log`), `${2 * ONE_WAY_DELAY_MS} ms`);
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
    const far = !only || only.includes('wordpress-db');
    const near = !only || only.includes('wordpress-db') || only.includes('wordpress-db-near');
    if (far || near) await wordpressWithDatabase(work, emptyHome, ONE_WAY_DELAY_MS, { far, near });
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
