/**
 * A real nginx (Debian nginx-light) and php-fpm (php8.2-fpm) on loopback, each with a generated configuration in
 * a temp dir: nginx in the foreground as one process (`daemon off; master_process off;`), php-fpm with a static
 * pool on a Unix socket (`--nodaemonize --fpm-config`), both started as root (php-fpm's workers drop to
 * www-data, so the site is made world-readable) and stopped by stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitForListener } from './net.js';

export const NGINX_BIN = '/usr/sbin/nginx';
export const PHP_FPM_BIN = '/usr/sbin/php-fpm8.2';

export async function nginxAvailable(): Promise<boolean> {
  return access(NGINX_BIN).then(() => access(PHP_FPM_BIN)).then(() => true, () => false);
}

interface Daemon {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  stderr(): string;
}

function daemon(bin: string, args: readonly string[]): Daemon {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return { child, exited, stderr: () => stderr };
}

async function stopDaemon(d: Daemon): Promise<void> {
  // SIGQUIT: graceful for both (nginx finishes requests; php-fpm waits for its workers).
  if (d.child.exitCode === null && d.child.signalCode === null) d.child.kill('SIGQUIT');
  await d.exited;
}

export interface PhpFpm {
  /** The Unix socket, for `fastcgi_pass unix:…`. */
  readonly socket: string;
  stop(): Promise<void>;
}

/** php-fpm with `workers` static children listening on a Unix socket in `dir`. */
export async function startPhpFpm(dir: string, workers: number, ini: Readonly<Record<string, string>> = {}): Promise<PhpFpm> {
  const socket = path.join(dir, 'php-fpm.sock');
  const config = [
    '[global]',
    `pid = ${dir}/php-fpm.pid`,
    `error_log = ${dir}/php-fpm.log`,
    'daemonize = no',
    '[site]',
    'user = www-data',
    'group = www-data',
    `listen = ${socket}`,
    'pm = static',
    `pm.max_children = ${workers}`,
    'catch_workers_output = yes',
    'clear_env = no',
    ...Object.entries(ini).map(([k, v]) => `php_admin_value[${k}] = ${v}`),
    '',
  ].join('\n');
  const file = path.join(dir, 'php-fpm.conf');
  await writeFile(file, config);
  const d = daemon(PHP_FPM_BIN, ['--nodaemonize', '--fpm-config', file]);
  if (!(await waitForListener(socket, () => d.child.exitCode !== null))) {
    await stopDaemon(d);
    const log = await readFile(path.join(dir, 'php-fpm.log'), 'utf8').catch(() => '');
    throw new Error(`php-fpm did not start: ${d.stderr()}${log}`);
  }
  return { socket, stop: () => stopDaemon(d) };
}

export interface Nginx {
  readonly origin: string;
  readonly root: string;
  readonly errorLog: () => Promise<string>;
  stop(): Promise<void>;
}

export interface NginxSite {
  /**
   * The `server { … }` block, with {listen}, {root} and {php} standing for the listen address, the site root and
   * the php-fpm socket (`fastcgi_pass {php};`).
   */
  readonly serverBlock: string;
  /** Files of the site, written under {root}. */
  readonly files: Readonly<Record<string, string>>;
  /** php-fpm children (and nginx stays at one worker). Default 2. */
  readonly phpWorkers?: number;
}

/** Fills the placeholders of NginxSite.serverBlock. */
export function fillServerBlock(block: string, values: { listen: string; root: string; php: string }): string {
  return block.replaceAll('{listen}', values.listen).replaceAll('{root}', values.root).replaceAll('{php}', values.php);
}

export async function startNginx(site: NginxSite): Promise<Nginx> {
  const base = await mkdtemp(path.join(tmpdir(), 'devmount-nginx-'));
  await chmod(base, 0o755);
  const root = path.join(base, 'site');
  for (const [name, content] of Object.entries(site.files)) {
    const file = path.join(root, name);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
    await writeFile(file, content, { mode: 0o644 });
  }
  await mkdir(root, { recursive: true, mode: 0o755 });
  await chmod(root, 0o755);
  const fpm = await startPhpFpm(base, site.phpWorkers ?? 2);
  const port = await freePort();
  const temp = path.join(base, 'tmp');
  await mkdir(temp);
  const serverBlock = fillServerBlock(site.serverBlock, { listen: `127.0.0.1:${port}`, root, php: `unix:${fpm.socket}` });
  await writeFile(path.join(base, 'site.conf'), serverBlock);
  // Debian's snippets include fastcgi.conf relative to the conf prefix, which is this directory here.
  await copyFile('/etc/nginx/fastcgi.conf', path.join(base, 'fastcgi.conf'));
  const config = [
    'daemon off;',
    'master_process off;',
    'worker_processes 1;',
    `pid ${base}/nginx.pid;`,
    `error_log ${base}/error.log warn;`,
    'events { worker_connections 512; }',
    'http {',
    '  include /etc/nginx/mime.types;',
    '  default_type application/octet-stream;',
    '  access_log off;',
    `  client_body_temp_path ${temp}/body;`,
    `  fastcgi_temp_path ${temp}/fastcgi;`,
    `  proxy_temp_path ${temp}/proxy;`,
    `  uwsgi_temp_path ${temp}/uwsgi;`,
    `  scgi_temp_path ${temp}/scgi;`,
    `  include ${base}/site.conf;`,
    '}',
    '',
  ].join('\n');
  const configFile = path.join(base, 'nginx.conf');
  await writeFile(configFile, config);
  const d = daemon(NGINX_BIN, ['-p', base, '-c', configFile]);
  const stop = async (): Promise<void> => {
    await stopDaemon(d);
    await fpm.stop();
    await rm(base, { recursive: true, force: true });
  };
  if (!(await waitForListener(port, () => d.child.exitCode !== null))) {
    const log = await readFile(path.join(base, 'error.log'), 'utf8').catch(() => '');
    await stop();
    throw new Error(`nginx did not start: ${d.stderr()}${log}`);
  }
  return { origin: `http://127.0.0.1:${port}`, root, errorLog: () => readFile(path.join(base, 'error.log'), 'utf8').catch(() => ''), stop };
}
