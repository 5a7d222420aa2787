/**
 * `beforeResolve` slot, --front-controller SCRIPT: a path that is neither a file nor a directory is handed to the
 * application's front controller, as nginx's `try_files $uri $uri/ /index.php?$query_string` does
 * (https://nginx.org/en/docs/http/ngx_http_core_module.html#try_files). The query string is kept and
 * REQUEST_URI stays the client's (cgi/env.ts takes it from the raw target), so the application routes the
 * pretty URL itself. A path under an existing script (/index.php/a/b, PATH_INFO) is the PHP middleware's.
 */
import type { FileSource } from '../file-source.js';
import type { Middleware } from '../middleware.js';

export interface FrontControllerOptions {
  /** Site path of the script, '/index.php'. */
  readonly script: string;
  readonly source: FileSource;
}

/** True when a prefix of `path` ending in '.php' is a file: that script answers with PATH_INFO. */
async function underScript(source: FileSource, path: string): Promise<boolean> {
  const lower = path.toLowerCase();
  for (let at = lower.indexOf('.php/'); at !== -1; at = lower.indexOf('.php/', at + 1)) {
    if ((await source.stat(path.slice(0, at + 4)))?.kind === 'file') return true;
  }
  return false;
}

export function frontController(options: FrontControllerOptions): Middleware {
  const { script, source } = Object.freeze({ ...options });
  const routed = async (path: string): Promise<boolean> => (await source.stat(path)) === null && !(await underScript(source, path));
  const self: Middleware = async function frontController(ctx, next) {
    if (await routed(ctx.path)) {
      ctx.log.debug({ from: ctx.path, to: script }, 'front controller');
      ctx.path = script;
    }
    await next();
  };
  // Response memo (middleware.ts MemoPolicy): an existing path is passed on untouched; every change to the tree
  // drops the memo, so the answer stays true while it is used.
  return Object.assign(self, { memo: { passesOn: async (path: string) => !(await routed(path)) } });
}
