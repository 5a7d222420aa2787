/**
 * --php-backend: which program runs PHP for `devmount serve` — php-cgi (per request, or its FastCGI pool) or
 * php-fpm when installed. `auto` picks by the measurements of bench:php (docs/performance.md): php-cgi's pool.
 */
import { access, constants, readdir } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { Logger } from 'pino';
import { UserError } from '../user-error.js';
import type { ScriptExecutor } from '../../devserver/cgi/executor.js';
import { createSpawnExecutor } from '../../devserver/cgi/spawn-executor.js';
import { createFastCgiPool } from '../../devserver/cgi/fastcgi/pool.js';
import { createPhpFpmExecutor } from '../../devserver/cgi/fastcgi/fpm.js';

export const PHP_BACKENDS = ['auto', 'fpm', 'cgi'] as const;
export type PhpBackend = (typeof PHP_BACKENDS)[number];

/**
 * What `auto` chooses when php-fpm is installed. bench:php on the idle-ish machine (load 2–7, same page and
 * worker count, docs/performance.md) had the php-cgi pool ahead of php-fpm in every run: 3,752 vs 3,613 and
 * 4,114 vs 2,971 req/s, with less of devmount's own CPU per request (216 vs 248 µs). So `auto` is the php-cgi
 * pool; php-fpm stays one flag away (--php-backend fpm). The earlier preference for php-fpm came from two runs
 * at load 17–27.
 */
const AUTO_PREFERS_FPM = false;

export function parsePhpBackend(value: string | undefined): PhpBackend {
  const backend = value ?? 'auto';
  if (!(PHP_BACKENDS as readonly string[]).includes(backend)) {
    throw new UserError('usage', `--php-backend must be one of ${PHP_BACKENDS.join(', ')}, not "${backend}"`);
  }
  return backend as PhpBackend;
}

/**
 * php-fpm's binary: `php-fpm` on PATH, else Debian's versioned /usr/sbin/php-fpmX.Y (sbin is not on a normal
 * user's PATH), the newest first.
 */
export async function findPhpFpm(path: string): Promise<string | null> {
  const dirs = [...path.split(delimiter).filter((d) => d !== ''), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    const candidate = join(dir, 'php-fpm');
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  for (const dir of ['/usr/sbin', '/usr/local/sbin']) {
    const versioned = (await readdir(dir).catch(() => [])).filter((n) => /^php-fpm\d+\.\d+$/.test(n))
      .sort((a, b) => b.localeCompare(a, undefined, { numeric: true }));
    for (const name of versioned) {
      const candidate = join(dir, name);
      if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
    }
  }
  return null;
}

export interface PhpExecutorOptions {
  readonly backend: PhpBackend;
  /** php-cgi's binary. */
  readonly cgiBin: string;
  readonly args: readonly string[];
  /** 0 = php-cgi per request. */
  readonly workers: number;
  readonly maxRequests: number;
  readonly timeoutMs: number;
  readonly path: string;
  readonly log: Logger;
}

export async function createPhpExecutor(o: PhpExecutorOptions): Promise<ScriptExecutor> {
  if (o.workers === 0) {
    if (o.backend === 'fpm') throw new UserError('usage', '--php-backend fpm needs --php-workers 1 or more');
    return createSpawnExecutor({ interpreter: o.cgiBin, interpreterArgs: o.args, description: `php-cgi per request (${o.cgiBin})`, path: o.path });
  }
  const fpm = o.backend === 'cgi' || (o.backend === 'auto' && !AUTO_PREFERS_FPM) ? null : await findPhpFpm(o.path);
  if (o.backend === 'fpm' && fpm === null) throw new UserError('usage', 'php-fpm not found: install php-fpm (Debian: apt install php-fpm) or use --php-backend cgi');
  const cgiPool = () => createFastCgiPool({ bin: o.cgiBin, args: o.args, size: o.workers, maxRequests: o.maxRequests, path: o.path, onWorkerLog: (line) => o.log.warn({ php: line }, 'php-cgi') });
  if (fpm === null) return cgiPool();
  const fpmExecutor = await createPhpFpmExecutor({ bin: fpm, args: o.args, size: o.workers, timeoutSeconds: Math.ceil(o.timeoutMs / 1000), path: o.path, onLog: (line) => o.log.warn({ php: line }, 'php-fpm') });
  return withSettingsOnPhpCgi(fpmExecutor, await cgiPool());
}

/**
 * php-fpm takes per-request php.ini settings only as the PHP_VALUE parameter, and its child keeps them for the
 * requests it serves afterwards (seen here with php-fpm 8.2: a php_value of one directory showed in the script of
 * another). So a request carrying `.htaccess` php_value/php_flag settings runs on the php-cgi pool, whose workers
 * are started with exactly those settings as `-d` (fastcgi/pool.ts: workers start on first need, so a site without
 * such settings never starts one); every other request runs on php-fpm.
 */
function withSettingsOnPhpCgi(fpm: ScriptExecutor, cgi: ScriptExecutor): ScriptExecutor {
  return {
    description: fpm.description,
    execute: (job) => (job.ini !== undefined && job.ini.size > 0 ? cgi.execute(job) : fpm.execute(job)),
    close: async () => {
      await Promise.all([fpm.close(), cgi.close()]);
    },
  };
}
