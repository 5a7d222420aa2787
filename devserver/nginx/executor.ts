/**
 * Runs one request through a compiled nginx server block (server-config.ts) the way nginx's phases do
 * (https://nginx.org/en/docs/dev/development_guide.html#http_phases): server-level rewrites, location lookup,
 * the location's rewrites (a changed URI looks the location up again), access, try_files, then the content
 * (index, directory redirect, file, or PHP). Internal redirects (try_files fallback, index, error_page) start
 * again from the server rewrites, at most MAX_REDIRECTS times, as nginx's 10-cycle limit. Pure apart from the
 * file tests, so the decisions are unit-tested without a server.
 */
import { posix } from 'node:path';
import { siteDirOf, type AccessRule, type AddHeader, type ErrorPage, type Expires, type IfCondition, type Location, type RewriteOp,
  type Scope, type ServerConfig } from './server-config.js';

export interface NginxRequest {
  /** Decoded, normalised path ($uri). */
  readonly uri: string;
  /** Query string without '?' ($args). */
  readonly args: string;
  /** The request target as sent ($request_uri). */
  readonly requestUri: string;
  readonly method: string;
  /** Host header ($host is its name part, $http_host all of it). */
  readonly host: string;
  readonly scheme: 'http' | 'https';
  readonly serverPort: number;
  readonly clientIp: string;
  /** Local path of the root ($document_root, $request_filename). */
  readonly documentRoot: string;
}

export interface FileTests {
  stat(path: string): Promise<{ readonly kind: string } | null>;
}

/** What the answering level adds to the response: its add_header fields and its expires. */
export interface AnswerHeaders {
  readonly headers: readonly AddHeader[];
  readonly expires: Expires | null;
}

export type NginxOutcome =
  /**
   * Serve site path `path` (a file, or a missing one: the 404 follows): the URI, or where the location's
   * root/alias puts it; `status` replaces the answer's (error_page).
   */
  | { readonly kind: 'serve'; readonly path: string; readonly args: string; readonly php: boolean; readonly status: number | null } & AnswerHeaders
  | { readonly kind: 'redirect'; readonly status: number; readonly location: string } & AnswerHeaders
  /** An answer made here; body null = the server's own error text. */
  | { readonly kind: 'respond'; readonly status: number; readonly body: string | null } & AnswerHeaders
  /** `return 444`: close the connection without an answer. */
  | { readonly kind: 'close' };

/** nginx's NGX_HTTP_MAX_URI_CHANGES (rewrite cycles) and internal redirect bound. */
const MAX_REDIRECTS = 10;

const REDIRECT_CODES = new Set([301, 302, 303, 307, 308]);

const NONE: AnswerHeaders = Object.freeze({ headers: [], expires: null });

function answerHeaders(scope: Scope): AnswerHeaders {
  return { headers: scope.addHeaders, expires: scope.expires };
}

/** A location's captures ($1…$9) in a root/alias: the only variables server-config.ts lets through there. */
function expandCaptures(template: string, state: State): string {
  return template.replace(/\$(?:\{(\d)\}|(\d))/g, (_, braced: string | undefined, bare: string | undefined) => state.captures?.[Number(braced ?? bare)] ?? '');
}

/**
 * Where URI `uri` is read from, as a site path (ngx_http_map_uri_to_path): the URI itself under the server's
 * root, else the location's root + URI, or its alias in place of the location's name (a regex location's alias,
 * captures expanded, names the file). null when that leaves the served root: the request is refused.
 */
function siteFileOf(uri: string, scope: Scope, state: State, serverRoot: string | null): string | null {
  const files = scope.files;
  if (files === null) return uri;
  if (serverRoot === null) return null;
  const base = expandCaptures(files.path, state);
  const local = files.kind === 'root' ? base + uri : files.replaces === null ? base : base + uri.slice(files.replaces);
  return siteDirOf(local, serverRoot);
}

interface State {
  /** The server's root as written: the served directory, which a location's root/alias is placed in. */
  readonly serverRoot: string | null;
  uri: string;
  args: string;
  captures: RegExpExecArray | null;
  internal: boolean;
  redirects: number;
  /** Variables made with `set`. */
  readonly vars: Map<string, string>;
  /** Set while an error page is being served: its status and the one to answer with. */
  errorPage: { readonly status: number | null } | null;
}

/** Compiled variables: $uri, $args, $1…, $host … (an unknown variable expands to '', as an unset one in nginx). */
function expand(template: string, state: State, req: NginxRequest, scope: Scope): string {
  return template.replace(/\$(?:\{(\w+)\}|(\w+))/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    if (/^\d$/.test(name)) return state.captures?.[Number(name)] ?? '';
    const named = state.captures?.groups?.[name] ?? state.vars.get(name);
    if (named !== undefined) return named;
    switch (name) {
      case 'uri': case 'document_uri': return state.uri;
      case 'args': case 'query_string': return state.args;
      case 'is_args': return state.args === '' ? '' : '?';
      case 'request_uri': return req.requestUri;
      case 'request_method': return req.method;
      case 'host': return req.host.replace(/:\d+$/, '').toLowerCase();
      case 'http_host': return req.host;
      case 'scheme': return req.scheme;
      case 'server_port': return String(req.serverPort);
      case 'remote_addr': return req.clientIp;
      case 'document_root': return req.documentRoot;
      case 'request_filename': return req.documentRoot + (siteFileOf(state.uri, scope, state, state.serverRoot) ?? state.uri);
      case 'fastcgi_script_name': {
        const m = scope.splitPathInfo?.exec(state.uri);
        return m?.[1] ?? state.uri;
      }
      default:
        if (name.startsWith('arg_')) return argument(state.args, name.slice(4));
        if (name.startsWith('http_')) return '';
        return '';
    }
  });
}

function argument(args: string, name: string): string {
  for (const pair of args.split('&')) {
    const eq = pair.indexOf('=');
    if ((eq === -1 ? pair : pair.slice(0, eq)).toLowerCase() === name.toLowerCase()) return eq === -1 ? '' : pair.slice(eq + 1);
  }
  return '';
}

/**
 * A URI the configuration made (rewrite, try_files, index, error_page) as a site path: '..' and '.' resolved
 * inside the root, as nginx's ngx_http_parse_complex_uri does for the request; a file test or the file served can
 * then never name anything above the root, whatever the rules write.
 */
function clean(uri: string): string {
  return posix.normalize(uri.startsWith('/') ? uri : `/${uri}`);
}

/** Splits "uri?args" as nginx does for a rewrite replacement or a try_files fallback. */
function splitTarget(target: string): { uri: string; args: string | null } {
  const q = target.indexOf('?');
  return q === -1 ? { uri: target, args: null } : { uri: target.slice(0, q), args: target.slice(q + 1) };
}

interface Found { readonly location: Location; readonly captures: RegExpExecArray | null; readonly definitive: boolean }

/**
 * ngx_http_core_find_location: an exact match wins at once; otherwise the longest prefix, whose nested
 * locations are searched first; unless that prefix is `^~`, the regular expressions of this level are then
 * tried in order and the first match wins; otherwise the longest prefix.
 */
function findLocation(locations: readonly Location[], uri: string): Found | null {
  let best: Location | null = null;
  for (const l of locations) {
    if (l.modifier === '=' && l.pattern === uri) return { location: l, captures: null, definitive: true };
    if ((l.modifier === '' || l.modifier === '^~') && uri.startsWith(l.pattern) && (best === null || l.pattern.length > best.pattern.length)) best = l;
  }
  let candidate: Found | null = best === null ? null : { location: best, captures: null, definitive: false };
  if (best !== null && best.scope.locations.length > 0) {
    const inner = findLocation(best.scope.locations, uri);
    if (inner?.definitive === true) return inner;
    if (inner !== null) candidate = inner;
  }
  if (best?.modifier === '^~') return candidate;
  for (const l of locations) {
    if (l.regex === null) continue;
    const m = l.regex.exec(uri);
    if (m !== null) return { location: l, captures: m, definitive: true };
  }
  return candidate;
}

function ipv4(address: string): number | null {
  const parts = address.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return null;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function addressMatches(rule: AccessRule, clientIp: string): boolean {
  if (rule.match === 'all') return true;
  const client = clientIp.replace(/^::ffff:/, '');
  const { address, bits } = rule.match;
  if (bits === null) return client === address;
  const a = ipv4(address);
  const c = ipv4(client);
  if (a === null || c === null) return false;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((a & mask) >>> 0) === ((c & mask) >>> 0);
}

/** ngx_http_access_module: the first matching rule decides; no rule matching allows. */
function allowed(rules: readonly AccessRule[], clientIp: string): boolean {
  for (const rule of rules) if (addressMatches(rule, clientIp)) return rule.allow;
  return true;
}

type OpsResult =
  /** stop: a `break` (or rewrite … break) ended the rewrite directives of this level. */
  | { readonly kind: 'done'; readonly changed: boolean; readonly stop: boolean }
  | { readonly kind: 'last' }
  | { readonly kind: 'outcome'; readonly status: number; readonly text: string | null; readonly redirect: boolean };

/** The rewrite module's directives of one level, in order (an `if` block's ones when its condition holds). */
async function runOps(ops: readonly RewriteOp[], state: State, req: NginxRequest, scope: Scope, files: FileTests): Promise<OpsResult> {
  let changed = false;
  for (const op of ops) {
    // `break` also forgets a URI change made before it: no new location lookup (ngx_http_script_break_code).
    if (op.kind === 'break') return { kind: 'done', changed: false, stop: true };
    if (op.kind === 'return') {
      const text = op.text === null ? null : expand(op.text, state, req, scope);
      return { kind: 'outcome', status: op.status, text, redirect: REDIRECT_CODES.has(op.status) };
    }
    if (op.kind === 'set') {
      state.vars.set(op.name, expand(op.value, state, req, scope));
      continue;
    }
    if (op.kind === 'if') {
      if (!(await holds(op.condition, state, req, scope, files))) continue;
      const inner = await runOps(op.ops, state, req, scope, files);
      if (inner.kind !== 'done') return inner;
      if (inner.stop) return inner;
      changed ||= inner.changed;
      continue;
    }
    const m = op.regex.exec(state.uri);
    if (m === null) continue;
    state.captures = m;
    const replaced = expand(op.replacement, state, req, scope);
    const absolute = /^https?:\/\//.test(replaced);
    // A replacement with its own '?' replaces the arguments, keeping the old ones after '&' unless it ends in '?'.
    const { uri, args } = splitTarget(replaced);
    const newArgs = args === null ? state.args : args === '' ? '' : state.args === '' || replaced.endsWith('?') ? args : `${args}&${state.args}`;
    if (absolute || op.flag === 'redirect' || op.flag === 'permanent') {
      const location = newArgs === '' ? uri : `${uri}?${newArgs}`;
      return { kind: 'outcome', status: op.flag === 'permanent' ? 301 : 302, text: location, redirect: true };
    }
    state.uri = clean(uri);
    state.args = newArgs;
    changed = true;
    if (op.flag === 'last') return { kind: 'last' };
    if (op.flag === 'break') return { kind: 'done', changed: false, stop: true };
  }
  return { kind: 'done', changed, stop: false };
}

/** An `if` condition (ngx_http_rewrite_module); file tests take a server path and look inside the root only. */
async function holds(c: IfCondition, state: State, req: NginxRequest, scope: Scope, files: FileTests): Promise<boolean> {
  switch (c.kind) {
    case 'variable': {
      const value = expand(c.value, state, req, scope);
      return value !== '' && value !== '0';
    }
    case 'compare':
      return (expand(c.value, state, req, scope) === expand(c.to, state, req, scope)) === c.equal;
    case 'match': {
      const m = c.regex.exec(expand(c.value, state, req, scope));
      if (m !== null && !c.negate) state.captures = m;
      return (m !== null) !== c.negate;
    }
    case 'file': {
      const path = expand(c.path, state, req, scope);
      const inside = req.documentRoot === '' ? path : path === req.documentRoot ? '/' : path.startsWith(`${req.documentRoot}/`) ? path.slice(req.documentRoot.length) : null;
      const stat = inside === null ? null : await files.stat(clean(inside).replace(/(.)\/+$/, '$1'));
      const found = c.test === 'f' ? stat?.kind === 'file' : c.test === 'd' ? stat?.kind === 'directory' : stat !== null;
      return found !== c.negate;
    }
    default:
      return false;
  }
}

export async function runNginx(server: ServerConfig, req: NginxRequest, files: FileTests): Promise<NginxOutcome> {
  const state: State = { serverRoot: server.root, uri: req.uri, args: req.args, captures: null, internal: false, redirects: 0, errorPage: null, vars: new Map() };
  const loop: NginxOutcome = { kind: 'respond', status: 500, body: null, ...NONE };

  /** An error status: its error_page (once, as recursive_error_pages off), else the plain answer. */
  const fail = async (status: number, scope: Scope): Promise<NginxOutcome> => {
    const page: ErrorPage | undefined = scope.errorPages.get(status);
    if (page === undefined || state.errorPage !== null) return { kind: 'respond', status, body: null, ...answerHeaders(scope) };
    if (/^https?:\/\//.test(page.target)) return { kind: 'redirect', status: 302, location: page.target, ...answerHeaders(scope) };
    state.errorPage = { status: page.status === 'target' ? null : page.status ?? status };
    state.captures = null;
    if (page.target.startsWith('@')) return named(page.target);
    const { uri, args } = splitTarget(page.target);
    state.uri = clean(uri);
    state.args = args ?? '';
    return redirect();
  };

  const named = async (name: string): Promise<NginxOutcome> => {
    const location = server.named.get(name);
    if (location === undefined) return { kind: 'respond', status: 500, body: null, ...NONE };
    state.internal = true;
    return inLocation(location.scope, 0);
  };

  /** An internal redirect: from the server rewrites on, with the new URI. */
  const redirect = async (): Promise<NginxOutcome> => {
    state.internal = true;
    if (++state.redirects > MAX_REDIRECTS) return loop;
    return fromServer();
  };

  const fromServer = async (): Promise<NginxOutcome> => {
    const result = await runOps(server.scope.ops, state, req, server.scope, files);
    if (result.kind === 'outcome') return answer(result, server.scope);
    return lookup(0);
  };

  const lookup = async (cycles: number): Promise<NginxOutcome> => {
    if (cycles > MAX_REDIRECTS) return loop;
    const found = findLocation(server.scope.locations, state.uri);
    if (found?.captures) state.captures = found.captures;
    const scope = found?.location.scope ?? server.scope;
    if (scope.internal && !state.internal) return fail(404, scope);
    if (found === null) return content(scope);
    return inLocation(scope, cycles);
  };

  const inLocation = async (scope: Scope, cycles: number): Promise<NginxOutcome> => {
    const result = await runOps(scope.ops, state, req, scope, files);
    if (result.kind === 'outcome') return answer(result, scope);
    if (result.kind === 'last' || result.changed) return lookup(cycles + 1);
    return content(scope);
  };

  const answer = async (result: Extract<OpsResult, { kind: 'outcome' }>, scope: Scope): Promise<NginxOutcome> => {
    if (result.status === 444) return { kind: 'close' };
    if (result.redirect && result.text !== null) return { kind: 'redirect', status: result.status, location: result.text, ...answerHeaders(scope) };
    if (result.text !== null) return { kind: 'respond', status: result.status, body: result.text, ...answerHeaders(scope) };
    return result.status >= 400 ? fail(result.status, scope) : { kind: 'respond', status: result.status, body: '', ...answerHeaders(scope) };
  };

  const content = async (scope: Scope): Promise<NginxOutcome> => {
    if (!allowed(scope.access, req.clientIp)) return fail(403, scope);
    const requested = state.uri;
    if (scope.tryFiles !== null) {
      const last = scope.tryFiles.length - 1;
      let hit = false;
      for (let i = 0; i < last; i++) {
        const template = scope.tryFiles[i] ?? '';
        const name = expand(template, state, req, scope);
        // A name written with a final '/' tests for a directory; the URI becomes the name without that slash
        // (ngx_http_core_try_files: test_dir), so '$uri/' for /dir still gets the directory redirect.
        const wantDir = template.endsWith('/');
        const tested = clean(wantDir ? name.slice(0, -1) : name);
        const stat = await statOf(tested, scope);
        if (stat !== null && (stat.kind === 'directory') === wantDir) {
          state.uri = tested;
          hit = true;
          break;
        }
      }
      if (!hit) {
        const fallback = scope.tryFiles[last] ?? '';
        if (/^=\d{3}$/.test(fallback)) {
          const status = Number(fallback.slice(1));
          return status >= 400 ? fail(status, scope) : { kind: 'respond', status, body: '', ...answerHeaders(scope) };
        }
        if (fallback.startsWith('@')) return named(fallback);
        const { uri, args } = splitTarget(expand(fallback, state, req, scope));
        state.uri = clean(uri);
        if (args !== null) state.args = args;
        return redirect();
      }
    }
    if (scope.php) {
      // fastcgi_split_path_info: the script is its first group and PATH_INFO the rest, also after try_files
      // tested the script alone (Debian's snippets/fastcgi-php.conf keeps $fastcgi_path_info for that reason);
      // devmount's PHP middleware splits the full path the same way.
      const split = scope.splitPathInfo?.exec(requested);
      if (split && (state.uri === requested || state.uri === split[1])) return serve(scope, true, requested);
      if (/\.php$/i.test(state.uri)) return serve(scope, true, state.uri);
    }
    if (state.uri.endsWith('/')) {
      for (const name of scope.index) {
        const candidate = clean(name.startsWith('/') ? name : state.uri + expand(name, state, req, scope));
        // The last name may be absolute and is then used without a test (ngx_http_index_module).
        if ((await statOf(candidate, scope))?.kind === 'file' || (name.startsWith('/') && name === scope.index[scope.index.length - 1])) {
          state.uri = candidate;
          return redirect();
        }
      }
      const dir = await statOf(state.uri, scope);
      return fail(dir?.kind === 'directory' ? 403 : 404, scope);
    }
    const stat = await statOf(state.uri, scope);
    if (stat?.kind === 'directory') {
      const location = state.args === '' ? `${state.uri}/` : `${state.uri}/?${state.args}`;
      return { kind: 'redirect', status: 301, location, ...answerHeaders(scope) };
    }
    if (stat === null) return fail(404, scope);
    return serve(scope, false);
  };

  const serve = (scope: Scope, php: boolean, uri: string = state.uri): NginxOutcome => {
    const status = state.errorPage?.status ?? null;
    return { kind: 'serve', path: fileOf(uri, scope), args: state.args, php, status, ...answerHeaders(scope) };
  };

  /** The site path URI `uri` is read from in `scope`; throws OutsideRoot when its root/alias would leave the served root. */
  const fileOf = (uri: string, scope: Scope): string => {
    const path = siteFileOf(uri, scope, state, server.root);
    if (path === null) throw new OutsideRoot();
    return path;
  };

  /** A file test of URI `uri` (a directory's final '/' dropped). */
  const statOf = (uri: string, scope: Scope): ReturnType<FileTests['stat']> => {
    const path = fileOf(uri, scope);
    return files.stat(path.length > 1 ? path.replace(/\/+$/, '') : '/');
  };

  try {
    return await fromServer();
  } catch (err) {
    // Refused rather than served from elsewhere: server-config.ts reported the fixed ones at start.
    if (err instanceof OutsideRoot) return { kind: 'respond', status: 403, body: null, ...NONE };
    throw err;
  }
}

/** A location's root/alias put a request outside the served root (the one failure path of siteFileOf's null). */
class OutsideRoot extends Error {
  constructor() {
    super('root or alias outside the served root');
  }
}

/** ngx_http_headers_module: add_header applies to these statuses, other ones only with `always`. */
const HEADER_STATUSES = new Set([200, 201, 204, 206, 301, 302, 303, 304, 307, 308]);

/** The add_header fields sent with a response of `status`. */
export function headersForStatus(headers: readonly AddHeader[], status: number): readonly AddHeader[] {
  return headers.filter((h) => h.always || HEADER_STATUSES.has(status));
}

/** ngx_http_set_expires's fixed values: `expires max` is ten years, dated as nginx dates it. */
const EXPIRES_MAX = Object.freeze({ expires: 'Thu, 31 Dec 2037 23:55:55 GMT', cacheControl: 'max-age=315360000' });
const EXPIRES_EPOCH = Object.freeze({ expires: 'Thu, 01 Jan 1970 00:00:01 GMT', cacheControl: 'no-cache' });

/**
 * The Expires and Cache-Control fields `expires` sets on a response of `status` at `nowMs` (ngx_http_headers_module:
 * only for the statuses add_header uses without `always`; they replace the response's own). A time is counted
 * from the request in whole seconds, as ngx_time(); a negative one gives `no-cache`.
 */
export function expiresFields(expires: Expires | null, status: number, nowMs: number): readonly (readonly [string, string])[] {
  if (expires === null || expires.kind === 'off' || !HEADER_STATUSES.has(status)) return [];
  if (expires.kind === 'max' || expires.kind === 'epoch') {
    const fixed = expires.kind === 'max' ? EXPIRES_MAX : EXPIRES_EPOCH;
    return [['Expires', fixed.expires], ['Cache-Control', fixed.cacheControl]];
  }
  const at = new Date((Math.floor(nowMs / 1000) + expires.seconds) * 1000).toUTCString();
  return [['Expires', at], ['Cache-Control', expires.seconds < 0 ? 'no-cache' : `max-age=${expires.seconds}`]];
}
