/**
 * `beforeStatic` slot: executable files under the CGI directories (default /cgi-bin/, or --cgi DIR) run as
 * CGI/1.1 scripts; the kernel reads their shebang line. Non-executable files there are refused rather than
 * served, since a CGI directory's files are programs whose source is not meant to be published.
 */
import type { SourceStat } from '../file-source.js';
import type { Middleware, Next, RequestContext } from '../middleware.js';
import { sendStatus } from '../respond.js';
import type { ScriptExecutor } from '../cgi/executor.js';
import { findScript, runMatchedScript } from '../cgi/dispatch.js';

export interface CgiOptions {
  readonly executor: ScriptExecutor;
  readonly timeoutMs: number;
  /** SERVER_SOFTWARE given to scripts (cgi/env.ts). */
  readonly serverSoftware: string;
  /** --follow-symlinks (cgi/dispatch.ts). */
  readonly followSymlinks: boolean;
  /** Site directories holding CGI programs, with leading and trailing slash ('/cgi-bin/'). */
  readonly directories: readonly string[];
}

export function cgi(options: CgiOptions): Middleware {
  const runOptions = Object.freeze({ executor: options.executor, timeoutMs: options.timeoutMs, serverSoftware: options.serverSoftware,
    followSymlinks: options.followSymlinks });
  const directories = Object.freeze([...options.directories]);
  const inCgiDir = (path: string): boolean => directories.some((dir) => path.startsWith(dir));
  const isProgram = (path: string, stat: SourceStat): boolean => inCgiDir(path) && stat.kind === 'file' && (stat.mode & 0o111) !== 0;
  // Outside the CGI directories (nearly every request, PHP pages included) straight on, without an async frame.
  const self: Middleware = function cgi(ctx, next) {
    return inCgiDir(ctx.path) ? runInCgiDir(ctx, next) : next();
  };
  async function runInCgiDir(ctx: RequestContext, next: Next): Promise<void> {
    const stat = ctx.locals.get('stat');
    const match = await findScript(ctx, stat === undefined ? await ctx.source.stat(ctx.path) : stat, isProgram);
    if (match === null) {
      if (stat?.kind === 'file') {
        sendStatus(ctx, 403, 'not executable (chmod +x to run it as CGI)');
        return;
      }
      await next();
      return;
    }
    await runMatchedScript(ctx, match, runOptions, async () => {
      ctx.locals.delete('stat');
      await self(ctx, next);
    });
  }
  // Response memo (middleware.ts MemoPolicy): outside the CGI directories this middleware only calls next().
  return Object.assign(self, { memo: { passesOn: (path: string) => !inCgiDir(path) } });
}
