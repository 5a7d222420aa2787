/**
 * .htaccess processing, in the `beforeResolve` slot: for the requested path, the merged configuration from the
 * root down to its directory decides access (Require, Order/Allow/Deny, <Files>), then Redirect/RedirectMatch,
 * then mod_rewrite; a rewritten URL goes round again (Apache's internal redirect) so the new target's own
 * directory rules and access checks apply. Afterwards DirectoryIndex, `Options -Indexes`, Header and AddType
 * are set up for whichever middleware answers.
 */
import { posix } from 'node:path';
import type { Middleware, RequestContext } from '../middleware.js';
import { sendStatus } from '../respond.js';
import { effectiveRules } from '../htaccess/access.js';
import { EMPTY_CONFIG, type AliasRedirect, type DirectoryConfig } from '../htaccess/config.js';
import { sendHtaccessError } from '../htaccess/error-document.js';
import { installResponseEdits } from '../htaccess/header-hook.js';
import { applyRewrite, type FileTests, type RewriteRequest } from '../htaccess/rewrite.js';
import type { HtaccessStore } from '../htaccess/store.js';
import { isHiddenPath } from './dotfiles.js';
import { publicServerOf } from '../site-url.js';

export interface HtaccessOptions {
  readonly store: HtaccessStore;
  /** Local path of the site root for REQUEST_FILENAME ('' when the source has none). */
  readonly documentRoot: string;
  /** The index names resolve.ts tries when no DirectoryIndex is set (to decide `Options -Indexes`). */
  readonly indexNames: readonly string[];
}

/** Apache's LimitInternalRecursion default. */
const MAX_ROUNDS = 10;

function aliasRedirect(redirects: readonly AliasRedirect[], path: string, query: string, base: string): { status: number; location: string | null } | null {
  for (const redirect of redirects) {
    let target: string | null = null;
    if (redirect.match.kind === 'prefix') {
      const prefix = redirect.match.prefix;
      // mod_alias matches whole path segments: "/old" matches /old and /old/x, not /older.
      const matches = path === prefix || path.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`);
      if (!matches) continue;
      target = redirect.target === null ? null : redirect.target + path.slice(prefix.length);
    } else {
      const match = redirect.match.regex.exec(path);
      if (match === null) continue;
      target = redirect.target === null ? null : redirect.target.replace(/\$(\d)/g, (_, n: string) => match[Number(n)] ?? '');
    }
    if (target === null) return { status: redirect.status, location: null };
    if (target.startsWith('/')) target = base + target;
    if (query !== '' && !target.includes('?')) target += `?${query}`;
    return { status: redirect.status, location: target };
  }
  return null;
}

/**
 * Apache's directory walk for the current path: the deepest existing directory (whose .htaccess chain applies)
 * and r->filename, the path up to the first segment that is not a directory (the rest is PATH_INFO).
 * Only existing directories are looked up, so arbitrary request paths cannot grow the .htaccess cache.
 */
async function directoryWalk(ctx: RequestContext, stat: { kind: string } | null): Promise<{ directory: string; filename: string }> {
  if (stat?.kind === 'directory') return { directory: ctx.path.endsWith('/') ? ctx.path : `${ctx.path}/`, filename: ctx.path };
  if (stat !== null) return { directory: parentDirectory(ctx.path), filename: ctx.path };
  const segments = ctx.path.split('/');
  let directory = '/';
  for (let i = 2; i < segments.length; i++) {
    const prefix = segments.slice(0, i).join('/');
    const kind = (await ctx.source.stat(prefix))?.kind;
    if (kind !== 'directory') return { directory, filename: prefix };
    directory = `${prefix}/`;
  }
  return { directory, filename: ctx.path };
}

function parentDirectory(path: string): string {
  return path.slice(0, path.lastIndexOf('/') + 1) || '/';
}

export function htaccess(options: HtaccessOptions): Middleware {
  const { store, documentRoot, indexNames } = Object.freeze({ ...options });
  const self: Middleware = async function htaccess(ctx, next) {
    const { req, source } = ctx;
    const { https, host, serverPort } = publicServerOf(ctx);
    const clientIp = req.socket.remoteAddress ?? '';
    const files: FileTests = {
      stat: (path) => source.stat(path),
      isSymlink: async (path) => {
        const real = await source.realpath(path);
        return real !== null && real !== path;
      },
    };
    const extraEnv: Record<string, string> = {};
    let config: DirectoryConfig | null = null;
    let ended = false;
    let stat = null;
    for (let round = 0; ; round++) {
      if (round === MAX_ROUNDS) {
        ctx.log.error({ path: ctx.path }, 'rewrite loop: more than 10 internal redirects (LimitInternalRecursion)');
        sendStatus(ctx, 500, 'rewrite loop in .htaccess rules');
        return;
      }
      stat = await source.stat(ctx.path);
      const walk = await directoryWalk(ctx, stat);
      config = await store.configFor(walk.directory);
      const basename = ctx.path.endsWith('/') ? '' : posix.basename(ctx.path);
      if (!effectiveRules(config, basename, clientIp).allowed) {
        ctx.log.info({ path: ctx.path }, 'denied by .htaccess');
        await sendHtaccessError(ctx, 403, config);
        return;
      }
      const alias = aliasRedirect(config.redirects, ctx.path, ctx.query, `${https ? 'https' : 'http'}://${host}`);
      if (alias !== null) {
        if (alias.location === null) await sendHtaccessError(ctx, alias.status, config);
        else sendStatus(ctx, alias.status, undefined, { Location: alias.location });
        return;
      }
      if (config.rewrite === null || ended) break;
      const request: RewriteRequest = {
        path: ctx.path, query: ctx.query, method: req.method ?? 'GET', host, https, headers: req.headers,
        remoteAddr: clientIp, serverPort, httpVersion: req.httpVersion,
        rawTarget: ctx.rawTarget, documentRoot, filename: walk.filename,
      };
      const outcome = await applyRewrite(config.rewrite, request, files);
      for (const [name, value] of outcome.env) extraEnv[name] = value;
      if (outcome.kind === 'redirect') {
        sendStatus(ctx, outcome.status, undefined, { Location: outcome.location });
        return;
      }
      if (outcome.kind === 'status') {
        await sendHtaccessError(ctx, outcome.status, config);
        return;
      }
      if (outcome.kind === 'unchanged') break;
      // Rewrite targets are site paths; normalising keeps them inside the root ('/../x' → '/x').
      const normalised = posix.normalize(outcome.path.startsWith('/') ? outcome.path : `/${outcome.path}`);
      ctx.log.debug({ from: ctx.path, to: normalised, query: outcome.query }, 'rewritten');
      ctx.path = normalised;
      ctx.query = outcome.query;
      ended = outcome.end;
    }
    // What the rules led to is guarded on disk (dotfiles.ts): an existing dotfile is absent, a dot-path that
    // names nothing goes on to the script that routes it (or to the 404).
    if (isHiddenPath(ctx.path) && stat !== null) {
      sendStatus(ctx, 404);
      return;
    }
    if (stat?.kind === 'directory' && ctx.path.endsWith('/')) {
      let hasIndex = false;
      for (const name of config.directoryIndex ?? indexNames) {
        const candidate = name.startsWith('/') ? name : ctx.path + name;
        const indexStat = await source.stat(candidate);
        if (indexStat?.kind === 'file') {
          if (config.directoryIndex !== null) ctx.path = candidate;
          hasIndex = true;
          break;
        }
      }
      if (!hasIndex && config.indexes === false) {
        await sendHtaccessError(ctx, 403, config, 'directory listing disabled by Options -Indexes');
        return;
      }
    }
    const finalConfig = config;
    const rules = effectiveRules(finalConfig, ctx.path.endsWith('/') ? '' : posix.basename(ctx.path), clientIp);
    if (!rules.allowed) {
      // The DirectoryIndex file itself may be denied by a <Files> section.
      await sendHtaccessError(ctx, 403, finalConfig);
      return;
    }
    if (Object.keys(extraEnv).length > 0) ctx.locals.set('cgiExtraEnv', extraEnv);
    if (finalConfig.phpIni.size > 0) ctx.locals.set('phpIni', finalConfig.phpIni);
    ctx.locals.set('htaccessConfig', finalConfig);
    // A re-dispatched request (local redirect, ErrorDocument script) keeps the edits installed the first time:
    // installing twice would apply `Header append` twice.
    if ((rules.headers.length > 0 || rules.types.size > 0) && !ctx.locals.has('htaccessEditsInstalled')) {
      ctx.locals.set('htaccessEditsInstalled', true);
      const context: RequestContext = ctx;
      installResponseEdits(ctx.res, {
        headers: rules.headers,
        contentType: () => {
          if (context.locals.get('scriptRan') === true) return null;
          const ext = posix.extname(context.path).slice(1).toLowerCase();
          return rules.types.get(ext) ?? null;
        },
      });
    }
    await next();
  };
  // Response memo (middleware.ts MemoPolicy): with no .htaccess in the path's directory or any ancestor
  // (EMPTY_CONFIG), nothing here looks at the request: no access rule, redirect, rewrite or header edit applies.
  const memo = { passesOn: async (path: string) => (await store.configFor(parentDirectory(path))) === EMPTY_CONFIG };
  return Object.assign(self, { memo });
}
