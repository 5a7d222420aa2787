/**
 * The PHP, CGI, .htaccess and proxy flags of `devmount serve`, plugged into serve.ts through its
 * serveFlagHooks: options are parsed and checked here, the executors and stores are created once, and the
 * middlewares go into the stack's named slots (devserver/stack.ts).
 */
import { access, constants } from 'node:fs/promises';
import { cpus } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../user-error.js';
import type { DevServerOptions } from '../../devserver/server.js';
import type { FileSource } from '../../devserver/file-source.js';
import type { Middleware } from '../../devserver/middleware.js';
import type { ScriptExecutor } from '../../devserver/cgi/executor.js';
import { APACHE_COMPATIBLE_SOFTWARE, SERVER_SOFTWARE } from '../../devserver/cgi/env.js';
import { createSpawnExecutor } from '../../devserver/cgi/spawn-executor.js';
import { createPhpExecutor, parsePhpBackend } from './php-backend.js';
import { createHtaccessStore } from '../../devserver/htaccess/store.js';
import { LocalFileSource } from '../../devserver/sources/local.js';
import { parseProxySpec, ProxySpecError, type ProxyRoute } from '../../devserver/proxy/routes.js';
import { htaccess } from '../../devserver/middlewares/htaccess.js';
import { htaccessErrorDocuments } from '../../devserver/middlewares/htaccess-error-documents.js';
import { php } from '../../devserver/middlewares/php.js';
import { cgi } from '../../devserver/middlewares/cgi.js';
import { proxy, proxyUpgradeHandler } from '../../devserver/middlewares/proxy.js';
import { isAllowedHost } from '../../devserver/middlewares/host-check.js';
import { wholeNumberFlag, type ServeFlagHook, type ServeFlags, type ServeHookContext } from './serve-flags.js';

interface PhpFlags {
  php?: boolean | string;
  phpWorkers?: string;
  phpTimeout?: string;
  phpBackend?: string;
  cgi: string[];
  proxy: string[];
  htaccess: boolean;
  phpIni?: string[];
}

const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

/**
 * php-cgi settings for a dev server: Debian's php.ini caps POST bodies at 8 MB and uploads at 2 MB, which makes
 * the large uploads a site accepts in production fail locally. The limits are raised to 2 GiB rather than
 * switched off (post_max_size=0): applications show min(upload_max_filesize, post_max_size) as the upload limit
 * (WordPress's wp_max_upload_size()), and 0 reads as "0 B" there and in WordPress's Site Health. The request
 * body is streamed to php-cgi either way. --php-ini settings come after these, so they win.
 * OPcache is on in Debian's cgi php.ini and only re-checks a file's mtime every opcache.revalidate_freq (2) seconds,
 * so a persistent worker would run the old code of a file saved a moment ago; 0 checks on every request.
 */
export const PHP_DEV_ARGS: readonly string[] = Object.freeze(['-d', 'post_max_size=2G', '-d', 'upload_max_filesize=2G',
  '-d', 'opcache.revalidate_freq=0']);

/**
 * PHP_FCGI_MAX_REQUESTS per worker. php-cgi's default of 500 guards long-running production servers against
 * leaks; in a dev server it only costs a php-cgi start (and a cold OPcache) every 500 requests, which under load
 * is several restarts a second. php-fpm's own default (pm.max_requests) is 0, never.
 */
const PHP_WORKER_MAX_REQUESTS = 100_000;

export async function findOnPath(name: string): Promise<string | null> {
  if (name.includes('/')) {
    return access(name, constants.X_OK).then(() => name, () => null);
  }
  for (const dir of (process.env.PATH ?? DEFAULT_PATH).split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return null;
}

/**
 * The php-cgi that reads a remote site's production URL from its database (cli/remote-serve.ts): none when PHP
 * is off or --site-url names the URL already.
 */
export async function sitePhpCgi(flags: ServeFlags): Promise<string | null> {
  if (flags.php === false || flags.siteUrl !== undefined) return null;
  return findOnPath(typeof flags.php === 'string' ? flags.php : 'php-cgi');
}

async function rootHasPhp(source: FileSource): Promise<boolean> {
  const entries = await source.readdir('/').catch(() => []);
  return entries.some((e) => e.stat.kind === 'file' && e.name.toLowerCase().endsWith('.php'));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--php-ini KEY=VALUE` → php-cgi's `-d KEY=VALUE`. */
export function phpIniArgs(settings: readonly string[]): string[] {
  const args: string[] = [];
  for (const setting of settings) {
    const match = /^([A-Za-z0-9_.-]+)=([^\n\r\0]*)$/.exec(setting);
    if (match === null) throw new UserError('usage', `--php-ini expects KEY=VALUE, such as memory_limit=512M, not "${setting}"`);
    args.push('-d', `${match[1]}=${match[2]}`);
  }
  return args;
}

function cgiDirectory(dir: string): string {
  const trimmed = dir.replace(/^\/+|\/+$/g, '');
  if (trimmed === '' || trimmed.split('/').some((s) => s === '..' || s === '.' || s.startsWith('.'))) {
    throw new UserError('usage', `--cgi ${dir}: give a directory inside the site, such as cgi-bin`);
  }
  return `/${trimmed}/`;
}

export const phpServeHook: ServeFlagHook = {
  addOptions(command: Command): void {
    command
      .option('--php [bin]', 'run .php files through php-cgi (default: on when the root has .php files and php-cgi is installed)')
      .option('--no-php', 'never run PHP, even when .php files are present')
      .option('--php-workers <n>', 'persistent php-cgi FastCGI workers (0 = start php-cgi for every request)', String(Math.min(8, Math.max(2, cpus().length * 2))))
      .option('--php-ini <key=value>', 'a php.ini setting for the PHP workers, e.g. memory_limit=512M (repeatable)', collect, [])
      .option('--php-backend <name>', 'what runs PHP with --php-workers: fpm (php-fpm), cgi (php-cgi), auto (php-cgi, measured ahead)', 'auto')
      .option('--php-timeout <seconds>', 'stop a PHP or CGI script after this many seconds', '30')
      .option('--cgi <dir>', 'also run executable files under DIR (site-relative) as CGI (cgi-bin/ always; repeatable)', collect, [])
      .option('--proxy <prefix=url>', 'forward PREFIX to URL, e.g. /api=http://127.0.0.1:3000 (repeatable; WebSockets too)', collect, [])
      .option('--no-htaccess', 'ignore .htaccess files');
  },

  async resolve(rawFlags: ServeFlags, { source, log, routedBy, site }: ServeHookContext): Promise<Partial<DevServerOptions>> {
    const flags = rawFlags as ServeFlags & PhpFlags;
    const timeoutMs = wholeNumberFlag(flags.phpTimeout ?? '30', '--php-timeout', 1, 86_400) * 1000;
    const workers = wholeNumberFlag(flags.phpWorkers ?? '4', '--php-workers', 0, 256);
    // The dev defaults, then the database tunnel's default socket/port (fs/tunnel/db-plan.ts), then --php-ini (last wins).
    const phpArgs = Object.freeze([...PHP_DEV_ARGS, ...(site?.phpArgs ?? []), ...phpIniArgs(flags.phpIni ?? [])]);
    const backend = parsePhpBackend(flags.phpBackend);
    const routes: ProxyRoute[] = [];
    for (const spec of flags.proxy ?? []) {
      try {
        routes.push(parseProxySpec(spec));
      } catch (err) {
        if (err instanceof ProxySpecError) throw new UserError('usage', err.message);
        throw err;
      }
    }
    const cgiDirs = ['/cgi-bin/', ...(flags.cgi ?? []).map(cgiDirectory)];
    const path = process.env.PATH ?? DEFAULT_PATH;
    const closers: Array<() => Promise<void> | void> = [];
    const early: Middleware[] = [];
    const beforeResolve: Middleware[] = [];
    const beforeStatic: Middleware[] = [];
    const beforeNotFound: Middleware[] = [];
    let onUpgrade: DevServerOptions['onUpgrade'];

    if (routes.length > 0) {
      early.push(proxy(routes));
      const upgrades = proxyUpgradeHandler(routes, log);
      // Upgrades bypass the middleware stack, so the DNS-rebinding guard (host-check.ts, CVE-2025-24010) is
      // applied here too: a WebSocket to the upstream is as sensitive as any proxied request.
      const allowedHosts = new Set([...(flags.allowedHost ?? []), flags.host ?? '127.0.0.1'].map((h) => h.toLowerCase()));
      const anyHost = allowedHosts.has('all');
      onUpgrade = (req, socket, head) => {
        const host = req.headers.host;
        if (!anyHost && host !== undefined && !isAllowedHost(host, allowedHosts)) return false;
        return upgrades.handle(req, socket, head);
      };
      closers.push(() => upgrades.close());
    }

    const documentRoot = (await source.localPath('/')) ?? '';
    const phpRequested = flags.php;
    let phpExecutor: ScriptExecutor | null = null;
    if (phpRequested !== false) {
      const explicit = typeof phpRequested === 'string' ? phpRequested : null;
      const bin = await findOnPath(explicit ?? 'php-cgi');
      if (bin === null && (explicit !== null || phpRequested === true)) {
        throw new UserError('usage', `${explicit ?? 'php-cgi'} not found: install php-cgi (Debian: apt install php-cgi) or give --php=/path/to/php-cgi`);
      }
      const wanted = phpRequested === true || explicit !== null || await rootHasPhp(source);
      if (bin === null && wanted) {
        process.stdout.write('devmount serve: found .php files but php-cgi is not installed (Debian: apt install php-cgi); they are served as plain files\n');
      }
      if (bin !== null && wanted) {
        phpExecutor = await createPhpExecutor({ backend, cgiBin: bin, args: phpArgs, workers, maxRequests: PHP_WORKER_MAX_REQUESTS, timeoutMs, path, log });
        closers.push(() => phpExecutor?.close());
        if (phpRequested === undefined) {
          process.stdout.write(`devmount serve: PHP on (found .php files): ${phpExecutor.description}; --no-php to turn it off\n`);
        }
      }
    }
    // With .htaccess honoured, scripts are told the server is Apache-compatible (cgi/env.ts).
    const serverSoftware = flags.htaccess !== false ? APACHE_COMPATIBLE_SOFTWARE : SERVER_SOFTWARE;
    const followSymlinks = flags.followSymlinks ?? false;
    const cgiExecutor = createSpawnExecutor({ interpreter: null, description: 'CGI programs', path });
    closers.push(() => cgiExecutor.close());
    beforeStatic.push(cgi({ executor: cgiExecutor, timeoutMs, directories: cgiDirs, serverSoftware, followSymlinks }));
    if (phpExecutor !== null) beforeStatic.push(php({ executor: phpExecutor, timeoutMs, serverSoftware, followSymlinks }));

    const indexNames = phpExecutor !== null ? ['index.html', 'index.htm', 'index.php'] : ['index.html', 'index.htm'];
    // nginx reads no .htaccess: with its server block in charge (serve-routing.ts), neither does devmount.
    if (flags.htaccess !== false && routedBy === undefined) {
      // A local tree watched with inotify tells the store of a changed .htaccess before the next request; other
      // sources are checked per request (store.ts).
      const directoryWatch = source instanceof LocalFileSource ? source.directoryWatch() : null;
      const store = createHtaccessStore(source, (w) => log.warn({ file: w.file, line: w.line }, `.htaccess: ${w.message}`), { directoryWatch });
      closers.push(() => store.close());
      beforeResolve.push(htaccess({ store, documentRoot, indexNames }));
      beforeNotFound.push(htaccessErrorDocuments());
    }
    return {
      slots: { early, beforeResolve, beforeStatic, beforeNotFound },
      indexNames,
      closers,
      ...(onUpgrade !== undefined ? { onUpgrade } : {}),
    };
  },
};
