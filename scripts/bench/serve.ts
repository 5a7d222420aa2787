/**
 * `npm run bench:serve`: devmount serve vs http-server vs nginx (1 worker) vs a bare node:http server writing a
 * cached buffer (bare-node-server.ts: the ceiling of one Node thread) on the same 5 KiB page, each measured with
 * `wrk -t1 -c50 -d5s` in the same run (the machine is shared and noisy: compare ratios, not absolute numbers
 * across runs; DEVMOUNT_BENCH_ROUNDS alternations, best of each), with each server's CPU time per request (user +
 * system, from /proc: what a request costs even when the load makes req/s noisy); then 10,000 idle keep-alive
 * connections held against devmount and its RSS. DEVMOUNT_BENCH_PEER=DIR adds the devmount of another checkout
 * (built, e.g. a `git worktree` of the base commit) as a row of its own, measured in the same alternation.
 * Goals: >= 4x http-server, >= 1.0x nginx.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, formatGoal, freePort, REPO, startDevmountServe, stopChild, waitForHttp, wrkRun } from './lib.js';

const WRK_ARGS = ['-t1', '-c50', '-d5s'];
const IDLE_CONNECTIONS = Number(process.env.DEVMOUNT_BENCH_IDLE ?? 10_000);
const ROUNDS = Math.max(1, Number(process.env.DEVMOUNT_BENCH_ROUNDS ?? 2));
const PEER = process.env.DEVMOUNT_BENCH_PEER;

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

interface Started { readonly child: ChildProcess; readonly url: string }

async function startDevmount(site: string, logFile: string, cli?: string): Promise<Started> {
  const { child, origin } = await startDevmountServe([site], { logFile, readyPath: '/index.html', ...(cli === undefined ? {} : { cli }) });
  return { child, url: `${origin}/index.html` };
}

async function startHttpServer(site: string): Promise<Started> {
  const port = await freePort();
  // -s: no per-request console log, its fastest setting; -c-1 so it revalidates like devmount does.
  const child = spawn(path.join(REPO, 'node_modules/.bin/http-server'), [site, '-p', String(port), '-a', '127.0.0.1', '-s', '-c-1'],
    { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/index.html`;
  await waitForHttp(url, child);
  return { child, url };
}

async function startNginx(site: string, work: string): Promise<Started> {
  const port = await freePort();
  const conf = path.join(work, 'nginx.conf');
  await writeFile(conf, `worker_processes 1;
daemon off;
pid ${work}/nginx.pid;
error_log ${work}/nginx-error.log;
events { worker_connections 20000; }
http {
  access_log ${work}/nginx-access.log combined buffer=64k;
  client_body_temp_path ${work}/body; proxy_temp_path ${work}/proxy; fastcgi_temp_path ${work}/fastcgi;
  uwsgi_temp_path ${work}/uwsgi; scgi_temp_path ${work}/scgi;
  types { text/html html; }
  server { listen 127.0.0.1:${port}; root ${site}; etag on; add_header Cache-Control no-cache; }
}
`);
  const child = spawn('nginx', ['-c', conf, '-p', work, '-e', path.join(work, 'nginx-error.log')], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/index.html`;
  await waitForHttp(url, child);
  return { child, url };
}

async function startBareNode(site: string): Promise<Started> {
  const port = await freePort();
  const script = fileURLToPath(new URL('./bare-node-server.js', import.meta.url));
  const child = spawn(process.execPath, [script, path.join(site, 'index.html'), String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}/index.html`;
  await waitForHttp(url, child);
  return { child, url };
}

/** Opens `count` keep-alive connections, each makes one request and then stays idle. */
async function holdIdleConnections(url: string, count: number): Promise<{ sockets: Socket[]; opened: number }> {
  const { hostname, port, pathname } = new URL(url);
  const sockets: Socket[] = [];
  let opened = 0;
  const batch = 500;
  for (let i = 0; i < count; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, count - i) }, () => new Promise<void>((resolve) => {
      const s = connect(Number(port), hostname);
      s.setNoDelay(true);
      s.once('error', () => resolve());
      s.once('connect', () => s.write(`GET ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`));
      s.once('data', () => { opened++; resolve(); });
      s.on('data', () => {});
      sockets.push(s);
    })));
  }
  return { sockets, opened };
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'devmount-bench-serve-'));
  const site = path.join(work, 'site');
  await mkdir(site);
  // nginx workers run as an unprivileged user when started as root: they must be able to read the page.
  await chmod(work, 0o755);
  const para = '<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.</p>\n';
  let page = '<!doctype html>\n<html><head><meta charset="utf-8"><title>bench</title></head><body>\n';
  while (page.length < 5 * 1024 - 20) page += para;
  page = `${page.slice(0, 5 * 1024 - 15)}\n</body></html>\n`;
  await writeFile(path.join(site, 'index.html'), page);
  const children: ChildProcess[] = [];
  try {
    // All four run side by side and are measured in alternation, best of ROUNDS each: the machine is shared,
    // and a burst of someone else's work during one 5 s window would otherwise decide the ratio.
    const servers: Record<string, Started> = {
      devmount: await startDevmount(site, path.join(work, 'devmount.log')),
      ...(PEER === undefined ? {} : { 'devmount peer': await startDevmount(site, path.join(work, 'peer.log'), path.join(path.resolve(PEER), 'bin/devmount.js')) }),
      'bare node': await startBareNode(site),
      'http-server': await startHttpServer(site),
      nginx: await startNginx(site, work),
    };
    for (const s of Object.values(servers)) children.push(s.child);
    const results: Record<string, number> = Object.fromEntries(Object.keys(servers).map((n) => [n, 0]));
    // CPU per request, the lowest of the rounds (the one least disturbed by other processes on the same cores).
    const cpuPerRequest: Record<string, number> = Object.fromEntries(Object.keys(servers).map((n) => [n, Infinity]));
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, started] of Object.entries(servers)) {
        const pid = started.child.pid ?? 0;
        const cpuBefore = await cpuSeconds(pid, true);
        const { rate, requests } = await wrkRun(started.url, WRK_ARGS);
        const cpu = (await cpuSeconds(pid, true) - cpuBefore) / Math.max(requests, 1);
        results[name] = Math.max(results[name] ?? 0, rate);
        cpuPerRequest[name] = Math.min(cpuPerRequest[name] ?? Infinity, cpu);
        process.stdout.write(`round ${round} ${name.padEnd(12)} ${rate.toFixed(0).padStart(8)} req/s ${(cpu * 1e6).toFixed(1).padStart(7)} µs CPU/request\n`);
      }
    }
    for (const s of Object.values(servers)) await stopChild(s.child);
    const at = (table: Record<string, number>, name: string): number => table[name] ?? NaN;
    process.stdout.write(`\nbest of ${ROUNDS}: ${Object.entries(results).map(([n, r]) => `${n} ${r.toFixed(0)}`).join(', ')} req/s\n`);
    process.stdout.write(`CPU per request (lowest of ${ROUNDS}): ${Object.entries(cpuPerRequest).map(([n, c]) => `${n} ${(c * 1e6).toFixed(1)} µs`).join(', ')}\n`);
    process.stdout.write(`\n5 KiB page, wrk ${WRK_ARGS.join(' ')}\n`);
    process.stdout.write(`devmount / http-server: ${formatGoal(at(results, 'devmount') / at(results, 'http-server'), 4)}\n`);
    process.stdout.write(`devmount / nginx:       ${formatGoal(at(results, 'devmount') / at(results, 'nginx'), 1)}\n`);
    process.stdout.write(`devmount / bare node:   ${(at(results, 'devmount') / at(results, 'bare node')).toFixed(2)}x req/s, `
      + `${(at(cpuPerRequest, 'devmount') / at(cpuPerRequest, 'bare node')).toFixed(2)}x CPU per request (bare node: one Node thread writing a cached buffer)\n`);
    if (PEER !== undefined) {
      process.stdout.write(`devmount / peer (${PEER}): ${(at(results, 'devmount') / at(results, 'devmount peer')).toFixed(2)}x req/s, `
        + `${(at(cpuPerRequest, 'devmount') / at(cpuPerRequest, 'devmount peer')).toFixed(2)}x CPU per request\n`);
    }

    const dm = await startDevmount(site, path.join(work, 'devmount-idle.log'));
    children.push(dm.child);
    const before = await rssMb(dm.child.pid ?? 0);
    const { sockets, opened } = await holdIdleConnections(dm.url, IDLE_CONNECTIONS);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await rssMb(dm.child.pid ?? 0);
    const alive = sockets.filter((s) => !s.destroyed).length;
    // A request on a fresh connection must still be answered while the idle ones are held.
    const probe = await fetch(dm.url).then((r) => r.status, () => 0);
    process.stdout.write(`\nidle keep-alive: ${opened}/${IDLE_CONNECTIONS} answered, ${alive} still open after 1 s, `
      + `server RSS ${before.toFixed(0)} MB -> ${after.toFixed(0)} MB (${((after - before) * 1024 / Math.max(alive, 1)).toFixed(1)} KiB/conn), probe ${probe}\n`);
    for (const s of sockets) s.destroy();
    await stopChild(dm.child);
  } finally {
    await Promise.allSettled(children.map(stopChild));
    await rm(work, { recursive: true, force: true });
  }
}

await main();
