/**
 * Resolves ctx.path to what will be served, and stores its stat in ctx.locals ('stat', locals.ts):
 * - a directory without its trailing slash → 301 to the slash form (relative links need it);
 * - a directory → its first index file (options.indexNames) when one exists;
 * - a path whose symlinks lead outside the root → 403 unless --follow-symlinks; one that leads to a
 *   dotfile inside the root → 404, as the dotfile itself.
 * Missing paths continue with stat null: the PHP/.htaccess middlewares or the 404 decide.
 */
import type { Middleware } from '../middleware.js';
import { sendStatus } from '../respond.js';
import { isHiddenPath } from './dotfiles.js';

export interface ResolveOptions {
  readonly indexNames: readonly string[];
  readonly followSymlinks: boolean;
}

export function resolvePath(options: ResolveOptions): Middleware {
  const { indexNames, followSymlinks } = options;
  return async function resolvePath(ctx, next) {
    const { source } = ctx;
    let stat = await source.stat(ctx.path);
    if (stat?.kind === 'directory') {
      if (!ctx.path.endsWith('/')) {
        // The target as the client spelled it (still percent-encoded), minus an absolute-form's scheme and host.
        const target = ctx.rawTarget.replace(/^https?:\/\/[^/?#]*/i, '') || '/';
        const q = target.indexOf('?');
        const location = q === -1 ? `${target}/` : `${target.slice(0, q)}/${target.slice(q)}`;
        sendStatus(ctx, 301, undefined, { Location: location });
        return;
      }
      for (const name of indexNames) {
        const indexStat = await source.stat(ctx.path + name);
        if (indexStat?.kind === 'file') {
          ctx.path += name;
          stat = indexStat;
          break;
        }
      }
    }
    if (stat) {
      // Asked even with --follow-symlinks: the caching source learns from it which paths are aliases.
      const real = await source.realpath(ctx.path);
      if (real === null && !followSymlinks) {
        sendStatus(ctx, 403, 'symlink points outside the served directory (use --follow-symlinks to allow)');
        return;
      }
      // Nobody watches outside the root, so no change event would ever drop a memoised copy (response-memo.ts).
      if (real === null) ctx.locals.get('memoRecorder')?.refuse();
      if (real !== null && real !== ctx.path && isHiddenPath(real)) {
        sendStatus(ctx, 404);
        return;
      }
    }
    ctx.locals.set('stat', stat);
    await next();
  };
}
