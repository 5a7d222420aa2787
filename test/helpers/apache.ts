/**
 * A real Apache httpd (Debian apache2 + libapache2-mod-php) on a loopback port with a generated config in a
 * temp dir: prefork MPM, mod_php, AllowOverride All on the document root, Debian's `<Files ".ht*">` deny.
 * Started as root and dropping to www-data, as Debian runs it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeSite, type SiteFiles } from './php-site.js';
import { freePort, waitForListener } from './net.js';

export const APACHE_BIN = '/usr/sbin/apache2';
const MODULES = '/usr/lib/apache2/modules';

export async function apacheAvailable(): Promise<boolean> {
  return access(APACHE_BIN).then(() => access(`${MODULES}/libphp8.2.so`)).then(() => true, () => false);
}

export interface Apache {
  readonly origin: string;
  readonly errorLog: () => Promise<string>;
  stop(): Promise<void>;
}

export async function startApache(files: SiteFiles, phpModule = 'libphp8.2.so'): Promise<Apache> {
  const base = await mkdtemp(path.join(tmpdir(), 'devmount-apache-'));
  // www-data must be able to read the site.
  await chmod(base, 0o755);
  const root = path.join(base, 'site');
  await writeSite(root, files);
  await chmod(root, 0o755);
  const port = await freePort();
  const load = (name: string, file: string): string => `LoadModule ${name} ${MODULES}/${file}`;
  const config = [
    `Listen 127.0.0.1:${port}`,
    `ServerName 127.0.0.1`,
    `PidFile ${base}/httpd.pid`,
    `ErrorLog ${base}/error.log`,
    'LogLevel warn',
    `Mutex file:${base} default`,
    'User www-data',
    'Group www-data',
    load('mpm_prefork_module', 'mod_mpm_prefork.so'),
    load('authz_core_module', 'mod_authz_core.so'),
    load('authz_host_module', 'mod_authz_host.so'),
    load('access_compat_module', 'mod_access_compat.so'),
    load('dir_module', 'mod_dir.so'),
    load('mime_module', 'mod_mime.so'),
    load('rewrite_module', 'mod_rewrite.so'),
    load('alias_module', 'mod_alias.so'),
    load('headers_module', 'mod_headers.so'),
    load('negotiation_module', 'mod_negotiation.so'),
    load('autoindex_module', 'mod_autoindex.so'),
    load('env_module', 'mod_env.so'),
    load('setenvif_module', 'mod_setenvif.so'),
    load('php_module', phpModule),
    'StartServers 2', 'MinSpareServers 1', 'MaxSpareServers 3', 'MaxRequestWorkers 8',
    'TypesConfig /etc/mime.types',
    '<FilesMatch "\\.php$">', '  SetHandler application/x-httpd-php', '</FilesMatch>',
    `DocumentRoot ${root}`,
    '<Directory />', '  AllowOverride None', '  Require all denied', '</Directory>',
    `<Directory ${root}>`, '  AllowOverride All', '  Options FollowSymLinks', '  Require all granted', '</Directory>',
    'DirectoryIndex index.html index.htm index.php',
    '<Files ".ht*">', '  Require all denied', '</Files>',
    '',
  ].join('\n');
  const configFile = path.join(base, 'httpd.conf');
  await writeFile(configFile, config);
  // detached: prefork's shutdown signals its whole process group (ap_unixd_killpg), which would otherwise be ours.
  const child: ChildProcess = spawn(APACHE_BIN, ['-f', configFile, '-DFOREGROUND'], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(base, { recursive: true, force: true });
  };
  if (!(await waitForListener(port, () => child.exitCode !== null))) {
    const log = await readFile(path.join(base, 'error.log'), 'utf8').catch(() => '');
    await stop();
    throw new Error(`apache2 did not start: ${stderr}${log}`);
  }
  return {
    origin: `http://127.0.0.1:${port}`,
    errorLog: () => readFile(path.join(base, 'error.log'), 'utf8').catch(() => ''),
    stop,
  };
}
