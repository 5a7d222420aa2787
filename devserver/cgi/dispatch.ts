/**
 * Shared by the PHP and CGI middlewares: find which file of a path is the script (the rest is PATH_INFO), run
 * it, and re-dispatch a local redirect (RFC 3875 §6.2.2) through the stack.
 */
import { posix } from 'node:path';
import type { SourceStat } from '../file-source.js';
import type { RequestContext } from '../middleware.js';
import { sendStatus } from '../respond.js';
import { isHiddenPath } from '../middlewares/dotfiles.js';
import { runScript, type RunScriptOptions } from './run-script.js';

export interface ScriptMatch {
  readonly scriptName: string;
  readonly pathInfo: string;
}

/** Local redirects followed per request before giving up (a script redirecting to itself). */
const MAX_LOCAL_REDIRECTS = 10;

/**
 * The first path prefix that is a file; it is the script when `isScript` says so. PATH_INFO is what follows it,
 * taken from the already normalised site path, so it cannot name anything outside the root.
 */
export async function findScript(ctx: RequestContext, stat: SourceStat | null | undefined,
  isScript: (path: string, stat: SourceStat) => boolean): Promise<ScriptMatch | null> {
  if (stat?.kind === 'file') return isScript(ctx.path, stat) ? { scriptName: ctx.path, pathInfo: '' } : null;
  if (stat !== null && stat !== undefined) return null;
  const segments = ctx.path.split('/');
  for (let i = 2; i < segments.length; i++) {
    const prefix = segments.slice(0, i).join('/');
    const prefixStat = await ctx.source.stat(prefix);
    if (prefixStat === null) return null;
    if (prefixStat.kind === 'file') {
      return isScript(prefix, prefixStat) ? { scriptName: prefix, pathInfo: ctx.path.slice(prefix.length) } : null;
    }
  }
  return null;
}

export async function runMatchedScript(ctx: RequestContext, match: ScriptMatch, options: RunScriptOptions,
  continueChain: () => Promise<void>): Promise<void> {
  if (isHiddenPath(match.scriptName)) {
    // Scripts under a dot-directory (.git/hooks, .well-known/…) never run.
    sendStatus(ctx, 403, 'scripts under a dot-directory are not run');
    return;
  }
  // resolve.ts checked the requested path, but with PATH_INFO (/link.php/x) that is not the script's own path:
  // the script file itself must not lead outside the root through a symlink.
  if (match.pathInfo !== '') {
    const real = await ctx.source.realpath(match.scriptName);
    if (real === null && !options.followSymlinks) {
      sendStatus(ctx, 403, 'symlink points outside the served directory (use --follow-symlinks to allow)');
      return;
    }
    if (real !== null && isHiddenPath(real)) {
      sendStatus(ctx, 403, 'scripts under a dot-directory are not run');
      return;
    }
  }
  // One after the other: both are answered at once by every source that has local paths, and Promise.all's
  // arrays and resolvers cost more per request than a second await.
  const scriptFilename = await ctx.source.localPath(match.scriptName);
  const documentRoot = await ctx.source.localPath('/');
  if (scriptFilename === null || documentRoot === null) {
    sendStatus(ctx, 502, `${ctx.source.description} has no local path for ${match.scriptName}, so it cannot be run`);
    return;
  }
  ctx.locals.set('scriptRan', true);
  // DOCUMENT_ROOT without a trailing slash, as Apache sets it (scripts concatenate it with '/path').
  const root = documentRoot.replace(/\/+$/, '') || '/';
  const outcome = await runScript(ctx, { scriptName: match.scriptName, scriptFilename, pathInfo: match.pathInfo, documentRoot: root }, options);
  if (outcome.kind === 'answered') return;
  const count = (ctx.locals.get('localRedirects') ?? 0) + 1;
  if (count > MAX_LOCAL_REDIRECTS) {
    sendStatus(ctx, 500, `more than ${MAX_LOCAL_REDIRECTS} local redirects`);
    return;
  }
  ctx.locals.set('localRedirects', count);
  ctx.locals.delete('scriptRan');
  const q = outcome.location.indexOf('?');
  const rawPath = q === -1 ? outcome.location : outcome.location.slice(0, q);
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    sendStatus(ctx, 502, `script redirected to an invalid path ${JSON.stringify(rawPath)}`);
    return;
  }
  ctx.path = posix.normalize(decoded);
  ctx.query = q === -1 ? '' : outcome.location.slice(q + 1);
  ctx.log.debug({ location: outcome.location }, 'local redirect');
  const redispatch = ctx.locals.get('redispatch');
  await (redispatch ?? continueChain)();
}
