/**
 * `npm run bench:php`: the same PHP page served several ways, measured with `wrk -t1 -c8 -d3s` in one run:
 * devmount with php-cgi started per request (--php-workers 0), devmount with its php-cgi FastCGI pool and with
 * php-fpm (--php-backend cgi|fpm, default worker count), `php -S` (PHP's built-in server), Apache 2.4 with
 * mod_php (prefork) and nginx + php-fpm (one nginx worker, as many php-fpm children as devmount's workers).
 * Also a WordPress pretty URL (.htaccess on devmount and Apache, try_files on nginx). Ratios against `php -S`
 * and against nginx + php-fpm.
 * The machine is shared and noisy (other jobs' benchmarks come and go within seconds), so every server is warmed
 * up first (workers started, JIT warm), then measured in ROUNDS interleaved rounds, and the median is reported:
 * a burst of someone else's load then hits every server alike instead of deciding one server's number.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cpus } from 'node:os';
import { apacheAvailable, startApache } from '../../test/helpers/apache.js';
import { nginxAvailable, startNginx } from '../../test/helpers/nginx.js';
import { WORDPRESS_SERVER_BLOCK } from '../../test/helpers/nginx-cases.js';
import { writeSite, type SiteFiles } from '../../test/helpers/php-site.js';
import { WORDPRESS_HTACCESS } from '../../test/helpers/rewrite-cases.js';
import { cpuSeconds, freePort, medianBy, startDevmountServe, stopChild, waitForHttp, wrk, wrkRun } from './lib.js';
const WRK_ARGS = ['-t1', '-c8', '-d3s'];
const WARMUP_ARGS = ['-t1', '-c8', '-d1s'];
const ROUNDS = 3;

const SITE: SiteFiles = {
  '.htaccess': WORDPRESS_HTACCESS,
  'hello.php': '<?php $rows = []; for ($i = 0; $i < 50; $i++) { $rows[] = "<li>item $i</li>"; } echo "<!doctype html><ul>", implode("", $rows), "</ul>";',
  'index.php': '<?php echo "front controller: ", htmlspecialchars($_SERVER["REQUEST_URI"]);',
};

interface Server {
  readonly name: string;
  readonly origin: string;
  readonly htaccess: boolean;
  /** devmount's Node process: its CPU time per request is measured (without its PHP workers). */
  readonly nodePid?: number;
  close(): Promise<void>;
}

/** devmount's default --php-workers (cli/commands/serve-php.ts), also given to php-fpm under nginx. */
const DEFAULT_WORKERS = Math.min(8, Math.max(2, cpus().length * 2));

/** backend null: php-cgi per request (--php-workers 0). */
async function devmount(root: string, backend: 'cgi' | 'fpm' | null): Promise<Server> {
  const args = backend === null ? ['--php-workers', '0'] : ['--php-backend', backend];
  const { child, origin } = await startDevmountServe([root, '--no-livereload', '--php', ...args], { readyPath: '/hello.php' });
  const name = backend === null ? 'devmount, php-cgi per request' : backend === 'cgi' ? 'devmount, php-cgi FastCGI pool' : 'devmount, php-fpm';
  return { name, origin, htaccess: true, nodePid: child.pid, close: () => stopChild(child) };
}

async function nginxFpm(): Promise<Server> {
  const files = Object.fromEntries(Object.entries(SITE).filter((e): e is [string, string] => typeof e[1] === 'string'));
  const nginx = await startNginx({ serverBlock: WORDPRESS_SERVER_BLOCK, files, phpWorkers: DEFAULT_WORKERS });
  return { name: NGINX_NAME, origin: nginx.origin, htaccess: true, close: () => nginx.stop() };
}

const NGINX_NAME = `nginx + php-fpm (${DEFAULT_WORKERS} children)`;

function median(values: readonly number[]): number {
  return medianBy(values, (v) => v) ?? NaN;
}

async function phpBuiltin(root: string): Promise<Server> {
  const port = await freePort();
  const child = spawn('php', ['-S', `127.0.0.1:${port}`, '-t', root], { stdio: 'ignore', env: { ...process.env, PHP_CLI_SERVER_WORKERS: '1' } });
  const origin = `http://127.0.0.1:${port}`;
  await waitForHttp(`${origin}/hello.php`, child);
  return { name: 'php -S', origin, htaccess: false, close: () => stopChild(child) };
}

async function main(): Promise<void> {
  const base = await mkdtemp(path.join(tmpdir(), 'devmount-bench-php-'));
  const root = path.join(base, 'site');
  await writeSite(root, SITE);
  const servers: Server[] = [];
  try {
    servers.push(await devmount(root, null), await devmount(root, 'cgi'), await devmount(root, 'fpm'));
    try {
      servers.push(await phpBuiltin(root));
    } catch (err) {
      process.stdout.write(`php -S unavailable (install php-cli): ${err instanceof Error ? err.message : String(err)}\n`);
    }
    if (await nginxAvailable()) {
      servers.push(await nginxFpm());
    } else {
      process.stdout.write('nginx + php-fpm unavailable (apt install nginx-light php-fpm)\n');
    }
    if (await apacheAvailable()) {
      const apache = await startApache(SITE);
      servers.push({ name: 'Apache 2.4 + mod_php (prefork)', origin: apache.origin, htaccess: true, close: () => apache.stop() });
    } else {
      process.stdout.write('Apache mod_php unavailable (apt install apache2 libapache2-mod-php)\n');
    }
    for (const server of servers) {
      await wrk(`${server.origin}/hello.php`, WARMUP_ARGS);
      if (server.htaccess) await wrk(`${server.origin}/2024/05/a-post/`, WARMUP_ARGS);
    }
    const samples = servers.map(() => ({ plain: [] as number[], pretty: [] as number[], nodeCpu: [] as number[] }));
    for (let round = 0; round < ROUNDS; round++) {
      for (const [i, server] of servers.entries()) {
        const pid = server.nodePid;
        const cpuBefore = pid === undefined ? 0 : await cpuSeconds(pid);
        const { rate, requests } = await wrkRun(`${server.origin}/hello.php`, WRK_ARGS);
        samples[i]?.plain.push(rate);
        if (pid !== undefined) samples[i]?.nodeCpu.push((await cpuSeconds(pid) - cpuBefore) / Math.max(requests, 1));
        if (server.htaccess) samples[i]?.pretty.push(await wrk(`${server.origin}/2024/05/a-post/`, WRK_ARGS));
      }
    }
    const results = servers.map((server, i) => ({
      name: server.name,
      plain: median(samples[i]?.plain ?? []),
      plainAll: samples[i]?.plain ?? [],
      nodeCpu: (samples[i]?.nodeCpu.length ?? 0) > 0 ? median(samples[i]?.nodeCpu ?? []) : null,
      pretty: server.htaccess ? median(samples[i]?.pretty ?? []) : null,
    }));
    const reference = results.find((r) => r.name === 'php -S')?.plain ?? NaN;
    const nginx = results.find((r) => r.name === NGINX_NAME);
    const times = (value: number, of: number | undefined): string => (of !== undefined && Number.isFinite(of) ? `${(value / of).toFixed(2)}x` : 'n/a');
    process.stdout.write(`\nbench:php — wrk ${WRK_ARGS.join(' ')}, median of ${ROUNDS} interleaved rounds (req/s; ratios of /hello.php vs php -S and vs nginx + php-fpm)\n`);
    process.stdout.write(`${'server'.padEnd(36)} ${'/hello.php'.padStart(11)} ${'/php -S'.padStart(8)} ${'/nginx'.padStart(7)} ${'pretty URL'.padStart(11)} ${'/nginx'.padStart(7)}\n`);
    for (const r of results) {
      const pretty = r.pretty === null ? 'n/a' : r.pretty.toFixed(0);
      process.stdout.write(`${r.name.padEnd(36)} ${r.plain.toFixed(0).padStart(11)} ${times(r.plain, reference).padStart(8)} ${times(r.plain, nginx?.plain).padStart(7)}`
        + ` ${pretty.padStart(11)} ${(r.pretty === null ? 'n/a' : times(r.pretty, nginx?.pretty ?? undefined)).padStart(7)}`
        + `   (/hello.php rounds: ${r.plainAll.map((v) => v.toFixed(0)).join(', ')})\n`);
    }
    // What devmount's own process spends per request (its PHP workers not counted): under load, req/s follows the
    // scheduler, this follows the code.
    for (const r of results) {
      if (r.nodeCpu !== null) process.stdout.write(`${r.name}: Node CPU ${(r.nodeCpu * 1e6).toFixed(0)} µs per /hello.php request (median of ${ROUNDS})\n`);
    }
  } finally {
    await Promise.allSettled(servers.map((s) => s.close()));
    await rm(base, { recursive: true, force: true });
  }
}

await main();
