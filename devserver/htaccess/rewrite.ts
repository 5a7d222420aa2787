/**
 * mod_rewrite in per-directory (.htaccess) context, following mod_rewrite.c's apply_rewrite_list /
 * apply_rewrite_rule / apply_rewrite_cond:
 * - the directory prefix is stripped before matching ('/blog/a/b' in /blog/.htaccess matches 'a/b');
 * - conditions are evaluated after the rule's pattern matched, [OR] chains as in mod_rewrite;
 * - $N are the rule's groups, %N the last matched condition's groups;
 * - a relative substitution is prefixed with RewriteBase (default: the directory);
 * - one pass of the rule list; the caller re-runs the whole per-directory processing for a changed URL, as
 *   Apache does with its internal redirect, until nothing changes or [END] (bounded, like
 *   LimitInternalRecursion).
 */
import type { RewriteCond, RewriteConfig, RewriteRule } from './rewrite-types.js';
import { APACHE_COMPATIBLE_SOFTWARE } from '../cgi/env.js';

export interface RewriteRequest {
  /** Current decoded site path ('/blog/hello/'). */
  readonly path: string;
  /** Current raw query without '?'. */
  readonly query: string;
  readonly method: string;
  readonly host: string;
  readonly https: boolean;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly remoteAddr: string;
  readonly serverPort: number;
  readonly httpVersion: string;
  /** The original request target, for THE_REQUEST. */
  readonly rawTarget: string;
  /** Local filesystem path of the site root ('' when there is none): REQUEST_FILENAME = documentRoot + filename. */
  readonly documentRoot: string;
  /**
   * The part of `path` Apache's directory walk maps to a file (r->filename): up to the first segment that is not
   * a directory; the rest is PATH_INFO. '/index.php/a/b' → '/index.php', so `-f` holds for it.
   */
  readonly filename: string;
}

export interface FileTests {
  stat(path: string): Promise<{ kind: 'file' | 'directory' | 'symlink' | 'other'; size: number; mode: number } | null>;
  isSymlink(path: string): Promise<boolean>;
}

export type RewriteOutcome =
  | { readonly kind: 'unchanged'; readonly env: ReadonlyArray<readonly [string, string]> }
  | { readonly kind: 'rewritten'; readonly path: string; readonly query: string; readonly end: boolean; readonly env: ReadonlyArray<readonly [string, string]> }
  | { readonly kind: 'redirect'; readonly status: number; readonly location: string; readonly env: ReadonlyArray<readonly [string, string]> }
  | { readonly kind: 'status'; readonly status: 403 | 410; readonly env: ReadonlyArray<readonly [string, string]> };

function header(request: RewriteRequest, name: string): string {
  const value = request.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : (value ?? '');
}

function variable(name: string, request: RewriteRequest, current: { path: string; query: string; filename: string }): string {
  if (/^HTTP:/i.test(name)) return header(request, name.slice(5));
  if (/^ENV:/i.test(name)) return '';
  switch (name.toUpperCase()) {
    case 'REQUEST_FILENAME':
    case 'SCRIPT_FILENAME': return request.documentRoot.replace(/\/+$/, '') + current.filename;
    case 'REQUEST_URI': return current.path;
    case 'QUERY_STRING': return current.query;
    case 'HTTP_HOST': return request.host;
    case 'HTTPS': return request.https ? 'on' : 'off';
    case 'REQUEST_SCHEME': return request.https ? 'https' : 'http';
    case 'REQUEST_METHOD': return request.method;
    case 'HTTP_USER_AGENT': return header(request, 'user-agent');
    case 'HTTP_REFERER': return header(request, 'referer');
    case 'HTTP_COOKIE': return header(request, 'cookie');
    case 'HTTP_ACCEPT': return header(request, 'accept');
    case 'HTTP_FORWARDED': return header(request, 'forwarded');
    case 'HTTP_PROXY_CONNECTION': return header(request, 'proxy-connection');
    case 'REMOTE_ADDR': return request.remoteAddr;
    case 'SERVER_NAME': return request.host.replace(/:\d+$/, '');
    case 'SERVER_PORT': return String(request.serverPort);
    case 'SERVER_PROTOCOL': return `HTTP/${request.httpVersion}`;
    case 'DOCUMENT_ROOT': return request.documentRoot;
    case 'THE_REQUEST': return `${request.method} ${request.rawTarget} HTTP/${request.httpVersion}`;
    case 'SERVER_SOFTWARE': return APACHE_COMPATIBLE_SOFTWARE;
    default: return '';
  }
}

/**
 * Expands $N, %N, %{VAR} and backslash escapes in a test string or substitution. Runs for rules and conditions
 * of every request, so the literal text between expansions is copied with one slice per run, not char by char.
 */
function expand(text: string, request: RewriteRequest, current: { path: string; query: string; filename: string },
  ruleGroups: readonly (string | undefined)[], condGroups: readonly (string | undefined)[]): string {
  let out = '';
  let literalFrom = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '\\' && c !== '$' && c !== '%') continue;
    const next = text[i + 1];
    if (next === undefined) break;
    let replacement: string | null = null;
    let last = i + 1;
    if (c === '\\') {
      replacement = next;
    } else if (next >= '0' && next <= '9') {
      replacement = (c === '$' ? ruleGroups : condGroups)[Number(next)] ?? '';
    } else if (next === '{') {
      const close = text.indexOf('}', i);
      if (close !== -1) {
        last = close;
        if (c === '%') {
          replacement = variable(text.slice(i + 2, close), request, current);
        } else {
          // RewriteMap lookup: not supported (reported at parse time); expands to the default after '|', if any.
          const inner = text.slice(i + 2, close);
          const bar = inner.indexOf('|');
          replacement = bar === -1 ? '' : inner.slice(bar + 1);
        }
      }
    }
    if (replacement === null) continue;
    out += text.slice(literalFrom, i) + replacement;
    i = last;
    literalFrom = last + 1;
  }
  return literalFrom === 0 ? text : out + text.slice(literalFrom);
}

async function evaluateCond(cond: RewriteCond, value: string, files: FileTests): Promise<{ ok: boolean; groups: readonly (string | undefined)[] | null }> {
  const { test } = cond;
  let result: boolean;
  let groups: readonly (string | undefined)[] | null = null;
  const fsPath = value;
  switch (test.kind) {
    case 'regex': {
      const match = test.regex.exec(value);
      result = match !== null;
      if (match !== null && !cond.negate) groups = [...match];
      break;
    }
    case 'file': result = (await files.stat(fsPath))?.kind === 'file'; break;
    case 'dir': result = (await files.stat(fsPath))?.kind === 'directory'; break;
    case 'size': {
      const stat = await files.stat(fsPath);
      result = stat?.kind === 'file' && stat.size > 0;
      break;
    }
    case 'symlink': result = await files.isSymlink(fsPath); break;
    case 'exec': {
      const stat = await files.stat(fsPath);
      result = stat !== null && (stat.mode & 0o111) !== 0;
      break;
    }
    case 'equal': result = cond.nocase ? value.toLowerCase() === test.value.toLowerCase() : value === test.value; break;
    case 'less': result = value < test.value; break;
    case 'greater': result = value > test.value; break;
    case 'lessOrEqual': result = value <= test.value; break;
    case 'greaterOrEqual': result = value >= test.value; break;
    default: result = false;
  }
  return { ok: cond.negate ? !result : result, groups };
}

/** mod_rewrite's condition loop, including the [OR] skipping rule. */
async function evaluateConds(rule: RewriteRule, request: RewriteRequest, current: { path: string; query: string; filename: string },
  ruleGroups: readonly (string | undefined)[], files: FileTests, documentRoot: string): Promise<readonly (string | undefined)[] | null> {
  let condGroups: readonly (string | undefined)[] = [];
  const conds = rule.conds;
  for (let i = 0; i < conds.length; i++) {
    let cond = conds[i];
    if (cond === undefined) break;
    const value = expand(cond.testString, request, current, ruleGroups, condGroups);
    // File tests take a filesystem path; we test the site path under the document root.
    const tested = cond.test.kind === 'regex' || cond.test.kind === 'equal' || cond.test.kind === 'less'
      || cond.test.kind === 'greater' || cond.test.kind === 'lessOrEqual' || cond.test.kind === 'greaterOrEqual'
      ? value : toSitePath(value, documentRoot);
    const { ok, groups } = tested === null ? { ok: cond.negate, groups: null } : await evaluateCond(cond, tested, files);
    if (ok && groups !== null) condGroups = groups;
    if (cond.ornext) {
      if (!ok) continue;
      while (i < conds.length && cond?.ornext === true) cond = conds[++i];
    } else if (!ok) {
      return null;
    }
  }
  return condGroups;
}

/** A filesystem path from a condition back to a site path; null when it is outside the site. */
function toSitePath(fsPath: string, documentRoot: string): string | null {
  const root = documentRoot.replace(/\/+$/, '');
  if (root === '') return fsPath.startsWith('/') ? fsPath : null;
  if (fsPath === root) return '/';
  if (fsPath.startsWith(`${root}/`)) return fsPath.slice(root.length);
  return null;
}

/** The path and query of an absolute URL that points at this server, or null (another host, or unparsable). */
function localPartOf(target: string, host: string): { path: string; query: string | null } | null {
  try {
    const url = new URL(target);
    if (url.host.toLowerCase() !== host.toLowerCase()) return null;
    return { path: decodeURIComponent(url.pathname), query: url.search === '' ? null : url.search.slice(1) };
  } catch {
    // Not a URL we can take apart (bad escapes, bad host): treat it as external, the client gets the redirect.
    return null;
  }
}

/** ap_escape_uri-like: what mod_rewrite does to a redirect target unless [NE]. */
function escapePath(path: string): string {
  return path.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/g, (c) => encodeURIComponent(c));
}

function withQuery(path: string, query: string): string {
  return query === '' ? path : `${path}?${query}`;
}

const NO_GROUPS: readonly (string | undefined)[] = Object.freeze([]);

export async function applyRewrite(config: RewriteConfig, request: RewriteRequest, files: FileTests): Promise<RewriteOutcome> {
  const env: Array<readonly [string, string]> = [];
  if (!config.engine || config.rules.length === 0) return { kind: 'unchanged', env };
  const directory = config.directory;
  const base = config.base ?? directory;
  const current = { path: request.path, query: request.query, filename: request.filename };
  let changed = false;
  let redirect: number | null = null;
  let end = false;
  const scheme = request.https ? 'https' : 'http';
  let skipChain = false;
  let skip = 0;
  for (const rule of config.rules) {
    if (skip > 0) { skip--; continue; }
    if (skipChain) { skipChain = rule.flags.chain; continue; }
    // Per-directory prefix stripping; a directory requested without its slash matches as ''.
    let subject: string;
    if (current.path.startsWith(directory)) subject = current.path.slice(directory.length);
    else if (`${current.path}/` === directory) subject = '';
    else continue;
    const match = rule.regex.exec(subject);
    const matched = rule.negate ? match === null : match !== null;
    if (!matched) {
      if (rule.flags.chain) skipChain = true;
      continue;
    }
    const ruleGroups: readonly (string | undefined)[] = match !== null && !rule.negate ? [...match] : [subject];
    // A rule without conditions (WordPress's first, [E=HTTP_AUTHORIZATION:…], matches every request) skips the
    // async condition loop.
    const condGroups = rule.conds.length === 0 ? NO_GROUPS : await evaluateConds(rule, request, current, ruleGroups, files, request.documentRoot);
    if (condGroups === null) {
      if (rule.flags.chain) skipChain = true;
      continue;
    }
    for (const [name, value] of rule.flags.env) env.push([name, expand(value, request, current, ruleGroups, condGroups)]);
    if (rule.flags.forbidden) return { kind: 'status', status: 403, env };
    if (rule.flags.gone) return { kind: 'status', status: 410, env };
    if (rule.substitution !== '-') {
      let target = expand(rule.substitution, request, current, ruleGroups, condGroups);
      let query = current.query;
      const q = target.indexOf('?');
      if (q !== -1) {
        const newQuery = target.slice(q + 1);
        target = target.slice(0, q);
        query = rule.flags.qsa && current.query !== '' ? (newQuery === '' ? current.query : `${newQuery}&${current.query}`) : newQuery;
      } else if (rule.flags.qsd) {
        query = '';
      }
      const absolute = /^[a-z][a-z0-9+.-]*:\/\//i.exec(target);
      if (absolute !== null) {
        const local = localPartOf(target, request.host);
        if (redirect === null && rule.flags.redirect === null && local !== null) {
          // mod_rewrite's reduce_uri: an absolute URL to this very server is a local path.
          target = local.path;
          if (local.query !== null) query = local.query;
        } else {
          return { kind: 'redirect', status: rule.flags.redirect ?? 302, location: withQuery(target, query), env };
        }
      }
      if (!target.startsWith('/')) target = base + target;
      if (target !== current.path || query !== current.query) changed = true;
      current.path = target;
      current.filename = target;
      current.query = query;
      if (rule.flags.redirect !== null) redirect = rule.flags.redirect;
    } else if (rule.flags.redirect !== null) {
      // [R] with '-': mod_rewrite redirects to the current URL.
      redirect = rule.flags.redirect;
    }
    if (rule.flags.skip > 0) skip = rule.flags.skip;
    if (rule.flags.end) { end = true; break; }
    if (rule.flags.last) break;
  }
  if (redirect !== null) {
    const path = current.path;
    const location = `${scheme}://${request.host}${escapePathUnlessNe(path, config)}`;
    return { kind: 'redirect', status: redirect, location: withQuery(location, current.query), env };
  }
  if (!changed) return { kind: 'unchanged', env };
  return { kind: 'rewritten', path: current.path, query: current.query, end, env };
}

function escapePathUnlessNe(path: string, config: RewriteConfig): string {
  // The NE flag is per rule; a redirect built from several rules is escaped unless every redirecting rule said NE.
  const noEscape = config.rules.some((r) => r.flags.redirect !== null && r.flags.noescape);
  return noEscape ? path : escapePath(path);
}
