/**
 * `beforeStatic` slot: `.php` files (and /script.php/path/info) run through php-cgi, per request or through the
 * FastCGI pool (the executor chosen at start-up). Other paths pass on to the static server.
 */
import type { SourceStat } from '../file-source.js';
import type { Middleware } from '../middleware.js';
import type { ScriptExecutor } from '../cgi/executor.js';
import { findScript, runMatchedScript } from '../cgi/dispatch.js';

export interface PhpOptions {
  readonly executor: ScriptExecutor;
  readonly timeoutMs: number;
  /** SERVER_SOFTWARE given to scripts (cgi/env.ts). */
  readonly serverSoftware: string;
  /** --follow-symlinks (cgi/dispatch.ts). */
  readonly followSymlinks: boolean;
}

export function php(options: PhpOptions): Middleware {
  const runOptions = Object.freeze({ executor: options.executor, timeoutMs: options.timeoutMs, serverSoftware: options.serverSoftware,
    followSymlinks: options.followSymlinks });
  const isPhp = (path: string, stat: SourceStat): boolean => stat.kind === 'file' && path.toLowerCase().endsWith('.php');
  const self: Middleware = async function php(ctx, next) {
    const stat = ctx.locals.get('stat');
    const match = await findScript(ctx, stat === undefined ? await ctx.source.stat(ctx.path) : stat, isPhp);
    if (match === null) {
      await next();
      return;
    }
    // Without a stack-level re-dispatch (tests running this middleware alone), a local redirect re-enters here.
    await runMatchedScript(ctx, match, runOptions, async () => {
      ctx.locals.delete('stat');
      await self(ctx, next);
    });
  };
  // Response memo (middleware.ts MemoPolicy): a path without '.php' in it can match no script (findScript only
  // tries the path and its prefixes), so this middleware only calls next().
  return Object.assign(self, { memo: { passesOn: (path: string) => !path.toLowerCase().includes('.php') } });
}
