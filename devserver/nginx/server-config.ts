/**
 * Compiles one nginx `server { … }` block into the subset devmount applies (executor.ts): `root`, `index`,
 * `try_files`, `location` (prefix, `=`, `^~`, `~`, `~*`, named `@…`, nested), `allow`/`deny`, `return`, `if`, `set`,
 * `rewrite`, `break`, `add_header`, `expires`, `error_page`, `internal`, `root`/`alias` inside a location, and
 * `fastcgi_pass` as "PHP runs here".
 * Inheritance follows the nginx modules' merge functions: `index`, `allow`/`deny`, `add_header`, `expires`,
 * `root`/`alias` and `error_page` are taken from the enclosing level when a location has none of its own;
 * `try_files`, rewrite directives and `fastcgi_pass` are not inherited.
 * A location's `root` or `alias` must lie inside the server's `root` (the directory devmount serves): one that
 * does not is reported, and its requests are refused (executor.ts), never served from somewhere else. Every other directive is reported (once per file and line by
 * the caller): settings that only matter to a production server as info, the rest as unsupported.
 */
import { posix } from 'node:path';
import type { ConfigWarning, Directive } from './parser.js';

export type RewriteFlag = 'last' | 'break' | 'redirect' | 'permanent' | null;

export type RewriteOp =
  | { readonly kind: 'rewrite'; readonly regex: RegExp; readonly replacement: string; readonly flag: RewriteFlag }
  /** `return code [text|URL]` and `return URL` (302). */
  | { readonly kind: 'return'; readonly status: number; readonly text: string | null }
  | { readonly kind: 'break' }
  /** `set $name value`: a variable for the directives that follow. */
  | { readonly kind: 'set'; readonly name: string; readonly value: string }
  /** `if (…) { … }` holding only rewrite-module directives, evaluated in order with the others. */
  | { readonly kind: 'if'; readonly condition: IfCondition; readonly ops: readonly RewriteOp[] };

/** The conditions of ngx_http_rewrite_module's `if`. */
export type IfCondition =
  | { readonly kind: 'variable'; readonly value: string }
  | { readonly kind: 'compare'; readonly value: string; readonly equal: boolean; readonly to: string }
  | { readonly kind: 'match'; readonly value: string; readonly regex: RegExp; readonly negate: boolean }
  | { readonly kind: 'file'; readonly test: 'f' | 'd' | 'e' | 'x'; readonly path: string; readonly negate: boolean };

export interface AccessRule {
  readonly allow: boolean;
  /** 'all', or an address with an optional prefix length. */
  readonly match: 'all' | { readonly address: string; readonly bits: number | null };
}

export interface AddHeader {
  readonly name: string;
  readonly value: string;
  readonly always: boolean;
}

export interface ErrorPage {
  /** A URI ('/404.html', '/index.php?e=1'), a named location ('@fallback') or a URL (302 to it). */
  readonly target: string;
  /** `=CODE`: the status sent instead; 'target' for a bare `=` (the target's own status); null keeps the error's. */
  readonly status: number | 'target' | null;
}

/**
 * `root` or `alias` inside a location (ngx_http_core_module), as written. nginx maps a URI to a file as
 * ngx_http_map_uri_to_path does: root + URI; for alias, the alias replaces the location's name (`replaces`
 * characters of the URI); in a regular-expression location the alias, its captures expanded, is the whole path.
 */
export interface FileRoot {
  readonly kind: 'root' | 'alias';
  readonly path: string;
  /** alias in a prefix or exact location: the length of the location's name; null for root and regex aliases. */
  readonly replaces: number | null;
  readonly file: string;
  readonly line: number;
}

/** ngx_http_headers_module `expires`: `off`, `epoch`, `max`, or a time in seconds (negative: in the past). */
export type Expires =
  | { readonly kind: 'off' }
  | { readonly kind: 'epoch' }
  | { readonly kind: 'max' }
  | { readonly kind: 'after'; readonly seconds: number };

export interface Scope {
  readonly ops: readonly RewriteOp[];
  readonly access: readonly AccessRule[];
  readonly tryFiles: readonly string[] | null;
  readonly index: readonly string[];
  readonly addHeaders: readonly AddHeader[];
  /** null: none at this level or above (the same as `off`). */
  readonly expires: Expires | null;
  /** This location's own or inherited root/alias; null: the server's root. */
  readonly files: FileRoot | null;
  readonly errorPages: ReadonlyMap<number, ErrorPage>;
  readonly internal: boolean;
  /** fastcgi_pass here: matching .php requests run as scripts (through devmount's own PHP backend). */
  readonly php: boolean;
  /** fastcgi_split_path_info: how $fastcgi_script_name is cut from $uri. */
  readonly splitPathInfo: RegExp | null;
  readonly locations: readonly Location[];
}

export interface Location {
  readonly modifier: '' | '=' | '^~' | '~' | '~*' | '@';
  readonly pattern: string;
  readonly regex: RegExp | null;
  readonly scope: Scope;
  /** "file:line", for logs. */
  readonly where: string;
}

export interface ServerConfig {
  /** The server-level `root`, or null when it has none. */
  readonly root: string | null;
  readonly scope: Scope;
  readonly named: ReadonlyMap<string, Location>;
  /** "file:line" of the `server` directive. */
  readonly where: string;
}

export type Warn = (w: ConfigWarning & { readonly level: 'info' | 'warn' }) => void;

/** nginx's own default `index` (ngx_http_index_module). */
const DEFAULT_INDEX: readonly string[] = Object.freeze(['index.html']);

/** Settings of a production server that a local dev server has no use for: reported as info, not as missing. */
const NOT_APPLICABLE = new Set([
  'listen', 'server_name', 'access_log', 'error_log', 'ssl_certificate', 'ssl_certificate_key', 'ssl_protocols',
  'ssl_ciphers', 'ssl_prefer_server_ciphers', 'ssl_session_cache', 'ssl_session_timeout', 'ssl_dhparam',
  'sendfile', 'tcp_nopush', 'tcp_nodelay', 'keepalive_timeout', 'client_max_body_size', 'client_body_timeout',
  'server_tokens', 'log_not_found', 'gzip', 'gzip_vary', 'gzip_types', 'gzip_proxied', 'gzip_comp_level',
  'default_type', 'charset', 'http2', 'ssl_stapling', 'ssl_stapling_verify', 'resolver', 'autoindex',
]);

/** ngx_parse_time's units for seconds (a number without a unit is seconds). */
const TIME_UNITS: Readonly<Record<string, number>> = Object.freeze({ '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800, M: 2592000, y: 31536000 });

/** `expires off|epoch|max|[-]TIME` (TIME as "1h", "30d", "1h 30m"); `modified` and daily `@…` are reported. */
function parseExpires(d: Directive): Expires | string {
  const arg = d.args.join(' ');
  if (d.args[0] === 'modified' || arg.startsWith('@')) return '"modified" and "@time" are not supported (give off, epoch, max or a time)';
  if (arg === 'off' || arg === 'epoch' || arg === 'max') return { kind: arg };
  const m = /^(-?)((?:\d+[smhdwMy]?\s*)+)$/.exec(arg);
  if (m === null || (m[2] ?? '').trim() === '') return `bad time ${JSON.stringify(arg)}`;
  let seconds = 0;
  for (const [, n, unit] of (m[2] ?? '').matchAll(/(\d+)([smhdwMy]?)/g)) seconds += Number(n) * (TIME_UNITS[unit ?? ''] ?? 1);
  return { kind: 'after', seconds: m[1] === '-' ? -seconds : seconds };
}

/** A variable other than a capture: $1…$9 are the only variables a root/alias may hold here, any other is reported. */
const NOT_A_CAPTURE = /\$(?!(?:\d|\{\d\})(?![\w}]))/;

/** The location a root/alias belongs to: its name's length and whether it is a regular expression. */
interface LocationName {
  readonly length: number;
  readonly regex: boolean;
  readonly named: boolean;
}

function parseFileRoot(d: Directive, at: LocationName | null, earlier: FileRoot | null): FileRoot | string {
  const [path] = d.args;
  if (at === null) return d.name === 'alias' ? 'only applies to a location' : 'expects one path';
  if (path === undefined || d.args.length !== 1) return 'expects one path';
  if (earlier !== null) return `${earlier.kind} was given earlier in this location (nginx refuses both)`;
  if (d.name === 'alias' && at.named) return 'cannot be used in a named location';
  if (NOT_A_CAPTURE.test(path)) return 'only the captures $1…$9 are supported as variables in it';
  if (d.name === 'alias' && at.regex && !path.includes('$')) {
    return 'in a regular-expression location it needs the captures that name the file (nginx maps every match to the same path otherwise)';
  }
  return { kind: d.name === 'alias' ? 'alias' : 'root', path, replaces: d.name === 'alias' && !at.regex ? at.length : null, file: d.file, line: d.line };
}

/**
 * What devmount's PHP backend does itself (it runs every .php file through php-cgi/php-fpm): the FastCGI
 * parameters, and the `set $path_info $fastcgi_path_info` of Debian's snippets/fastcgi-php.conf.
 */
function isPhpDirective(d: Directive): boolean {
  return /^fastcgi_(?!pass$|split_path_info$)\w+$/.test(d.name) || (d.name === 'set' && (d.args[1] ?? '').includes('$fastcgi_'));
}

export function parseRegex(pattern: string, caseless: boolean): RegExp {
  // PCRE's inline (?i) at the start is the one spelling of caselessness JavaScript lacks.
  const inline = pattern.startsWith('(?i)');
  return new RegExp(inline ? pattern.slice(4) : pattern, caseless || inline ? 'i' : '');
}

function parseAccess(d: Directive): AccessRule | string {
  const arg = d.args[0];
  if (d.args.length !== 1 || arg === undefined) return 'expects one address or "all"';
  if (arg === 'all') return { allow: d.name === 'allow', match: 'all' };
  const m = /^([0-9a-fA-F.:]+)(?:\/(\d{1,3}))?$/.exec(arg);
  if (m === null) return `unsupported address ${JSON.stringify(arg)} (give an address, a CIDR range or "all")`;
  return { allow: d.name === 'allow', match: { address: m[1] ?? '', bits: m[2] === undefined ? null : Number(m[2]) } };
}

function parseReturn(d: Directive): RewriteOp | string {
  const [first, second] = d.args;
  if (first === undefined || d.args.length > 2) return 'expects CODE [TEXT|URL] or URL';
  if (/^\d{3}$/.test(first)) {
    const status = Number(first);
    if (d.args.length === 1 && [301, 302, 303, 307, 308].includes(status)) return 'a redirect code needs a URL';
    return { kind: 'return', status, text: second ?? null };
  }
  if (d.args.length === 1 && /^(https?:\/\/|\$scheme)/.test(first)) return { kind: 'return', status: 302, text: first };
  return `unexpected ${JSON.stringify(first)}`;
}

function parseRewrite(d: Directive): RewriteOp | string {
  const [pattern, replacement, flag] = d.args;
  if (pattern === undefined || replacement === undefined || d.args.length > 3) return 'expects REGEX REPLACEMENT [FLAG]';
  if (flag !== undefined && !['last', 'break', 'redirect', 'permanent'].includes(flag)) return `unknown flag ${JSON.stringify(flag)}`;
  try {
    return { kind: 'rewrite', regex: parseRegex(pattern, false), replacement, flag: (flag ?? null) as RewriteFlag };
  } catch {
    return `regular expression ${JSON.stringify(pattern)} is not supported`;
  }
}

function parseSet(d: Directive): RewriteOp | string {
  const [name, value] = d.args;
  const m = /^\$(\w+)$/.exec(name ?? '');
  if (m === null || value === undefined || d.args.length !== 2) return 'expects $NAME VALUE';
  return { kind: 'set', name: m[1] ?? '', value };
}

/** The words between `if (` and `)`: nginx's lexer leaves the parentheses on the first and last word. */
function parseCondition(args: readonly string[]): IfCondition | string {
  const words = [...args];
  words[0] = (words[0] ?? '').replace(/^\(/, '');
  words[words.length - 1] = (words[words.length - 1] ?? '').replace(/\)$/, '');
  const [a, b, c, ...rest] = words.filter((w) => w !== '');
  if (a === undefined || rest.length > 0) return 'expects ( CONDITION )';
  const file = /^(!?)-([fdex])$/.exec(a);
  if (file !== null) {
    if (b === undefined || c !== undefined) return `-${file[2] ?? ''} expects one path`;
    return { kind: 'file', test: file[2] as 'f' | 'd' | 'e' | 'x', path: b, negate: file[1] === '!' };
  }
  if (b === undefined) return { kind: 'variable', value: a };
  if (c === undefined) return `operator ${JSON.stringify(b)} expects a value`;
  if (b === '=' || b === '!=') return { kind: 'compare', value: a, equal: b === '=', to: c };
  const match = /^(!?)~(\*?)$/.exec(b);
  if (match === null) return `unknown operator ${JSON.stringify(b)}`;
  try {
    return { kind: 'match', value: a, regex: parseRegex(c, match[2] === '*'), negate: match[1] === '!' };
  } catch {
    return `regular expression ${JSON.stringify(c)} is not supported`;
  }
}

/**
 * `if` with rewrite-module directives inside (rewrite, return, break, nested if). Anything else in its block
 * would make it a location of its own ("if is evil", nginx wiki), which is not supported: reported.
 */
function parseIf(d: Directive, warn: Warn): RewriteOp | string {
  if (d.block === null) return 'expects a { … } block';
  const condition = parseCondition(d.args);
  if (typeof condition === 'string') return condition;
  const ops: RewriteOp[] = [];
  for (const inner of d.block) {
    const op = inner.name === 'rewrite' ? parseRewrite(inner)
      : inner.name === 'set' ? parseSet(inner)
      : inner.name === 'return' ? parseReturn(inner)
        : inner.name === 'break' ? { kind: 'break' as const }
          : inner.name === 'if' ? parseIf(inner, warn)
            : `${inner.name}: only rewrite, return, break, set and if are supported inside if`;
    if (typeof op === 'string') warn({ level: 'warn', file: inner.file, line: inner.line, message: `${op}; ignored` });
    else ops.push(op);
  }
  return { kind: 'if', condition, ops };
}

function parseErrorPage(d: Directive, into: Map<number, ErrorPage>): string | null {
  const args = [...d.args];
  const target = args.pop();
  if (target === undefined || args.length === 0) return 'expects CODE … [=[RESPONSE]] URI';
  let status: ErrorPage['status'] = null;
  const last = args[args.length - 1];
  if (last?.startsWith('=')) {
    args.pop();
    status = last === '=' ? 'target' : /^=\d{3}$/.test(last) ? Number(last.slice(1)) : null;
    if (status === null) return `bad response code ${JSON.stringify(last)}`;
  }
  const codes = args.map(Number);
  if (codes.some((c) => !Number.isInteger(c) || c < 300 || c > 599)) return `codes must be 300–599: ${args.join(' ')}`;
  for (const code of codes) into.set(code, { target, status });
  return null;
}

interface Parent {
  readonly access: readonly AccessRule[];
  readonly index: readonly string[];
  readonly addHeaders: readonly AddHeader[];
  readonly expires: Expires | null;
  readonly files: FileRoot | null;
  readonly errorPages: ReadonlyMap<number, ErrorPage>;
}

const TOP: Parent = Object.freeze({ access: [], index: DEFAULT_INDEX, addHeaders: [], expires: null, files: null, errorPages: new Map() });

/** `location` is null at the server level. */
function compileScope(block: readonly Directive[], parent: Parent, location: LocationName | null, warn: Warn, named: Map<string, Location>): Scope & { root: string | null } {
  const level = location === null ? 'server' : 'location';
  const ops: RewriteOp[] = [];
  const access: AccessRule[] = [];
  const index: string[] = [];
  const addHeaders: AddHeader[] = [];
  const errorPages = new Map<number, ErrorPage>();
  const nested: Directive[] = [];
  let tryFiles: string[] | null = null;
  let internal = false;
  let php = false;
  let splitPathInfo: RegExp | null = null;
  let root: string | null = null;
  let expires: Expires | null = null;
  let files: FileRoot | null = null;
  // A FastCGI directive is handled by devmount's PHP backend: reported as info, nothing to apply.
  const phpInfo = (d: Directive): null => {
    warn({ level: 'info', file: d.file, line: d.line, message: `${d.name}: PHP runs through devmount's own PHP backend; ignored` });
    return null;
  };
  // A location's root or alias: where its files are.
  const placeFiles = (d: Directive): string | null => {
    const given = parseFileRoot(d, location, files);
    if (typeof given === 'string') return given;
    files = given;
    return null;
  };
  for (const d of block) {
    const bad = (message: string): void => warn({ level: 'warn', file: d.file, line: d.line, message: `${d.name}: ${message}; ignored` });
    const result = ((): string | null => {
      switch (d.name) {
        case 'root':
          if (level === 'server') {
            root = d.args[0] ?? null;
            return d.args.length === 1 ? null : 'expects one path';
          }
          return placeFiles(d);
        case 'alias':
          return placeFiles(d);
        case 'expires': {
          const parsed = parseExpires(d);
          if (typeof parsed === 'string') return parsed;
          expires = parsed;
          return null;
        }
        case 'index':
          if (d.args.length === 0) return 'expects file names';
          index.push(...d.args);
          return null;
        case 'try_files':
          if (d.args.length < 2) return 'expects at least one file and a fallback';
          tryFiles = [...d.args];
          return null;
        case 'location':
          nested.push(d);
          return null;
        case 'allow':
        case 'deny': {
          const rule = parseAccess(d);
          if (typeof rule === 'string') return rule;
          access.push(rule);
          return null;
        }
        case 'return':
        case 'rewrite': {
          const op = d.name === 'return' ? parseReturn(d) : parseRewrite(d);
          if (typeof op === 'string') return op;
          ops.push(op);
          return null;
        }
        case 'break':
          ops.push({ kind: 'break' });
          return null;
        case 'set': {
          if (isPhpDirective(d)) return phpInfo(d);
          const op = parseSet(d);
          if (typeof op === 'string') return op;
          ops.push(op);
          return null;
        }
        case 'if': {
          const op = parseIf(d, warn);
          if (typeof op === 'string') return op;
          ops.push(op);
          return null;
        }
        case 'add_header': {
          const [name, value, always] = d.args;
          if (name === undefined || value === undefined || (always !== undefined && always !== 'always') || d.args.length > 3) return 'expects NAME VALUE [always]';
          addHeaders.push({ name, value, always: always === 'always' });
          return null;
        }
        case 'error_page':
          return parseErrorPage(d, errorPages);
        case 'internal':
          if (level === 'server') return 'only applies to a location';
          internal = true;
          return null;
        case 'fastcgi_pass':
          php = true;
          return null;
        case 'fastcgi_split_path_info':
          try {
            splitPathInfo = parseRegex(d.args[0] ?? '', false);
            return null;
          } catch {
            return 'unsupported regular expression';
          }
        default:
          if (NOT_APPLICABLE.has(d.name)) {
            warn({ level: 'info', file: d.file, line: d.line, message: `${d.name}: not applicable to a dev server; ignored` });
          } else if (isPhpDirective(d)) {
            phpInfo(d);
          } else {
            return 'not supported by devmount';
          }
          return null;
      }
    })();
    if (result !== null) bad(result);
  }
  const mine: Parent = {
    access: access.length > 0 ? access : parent.access,
    index: index.length > 0 ? index : parent.index,
    addHeaders: addHeaders.length > 0 ? addHeaders : parent.addHeaders,
    expires: expires ?? parent.expires,
    files: files ?? parent.files,
    errorPages: errorPages.size > 0 ? errorPages : parent.errorPages,
  };
  const locations: Location[] = [];
  for (const d of nested) {
    const location = compileLocation(d, mine, warn, named);
    if (location === null) continue;
    if (location.modifier === '@') named.set(location.pattern, location);
    else locations.push(location);
  }
  return { ...mine, ops, tryFiles, internal, php, splitPathInfo, locations, root };
}

function compileLocation(d: Directive, parent: Parent, warn: Warn, named: Map<string, Location>): Location | null {
  const bad = (message: string): null => {
    warn({ level: 'warn', file: d.file, line: d.line, message: `location: ${message}; ignored with its contents` });
    return null;
  };
  if (d.block === null) return bad('expects a { … } block');
  let modifier: Location['modifier'] = '';
  let pattern: string | undefined;
  if (d.args.length === 2) {
    const m = d.args[0];
    if (m !== '=' && m !== '^~' && m !== '~' && m !== '~*') return bad(`unknown modifier ${JSON.stringify(m)}`);
    modifier = m;
    pattern = d.args[1];
  } else if (d.args.length === 1) {
    pattern = d.args[0];
    if (pattern?.startsWith('@')) modifier = '@';
    // nginx also accepts the modifier glued to the pattern: "location =/x", "location ~\.php$".
    const glued = /^(=|\^~|~\*|~)(.+)$/.exec(pattern ?? '');
    if (glued !== null) {
      modifier = glued[1] as Location['modifier'];
      pattern = glued[2];
    }
  }
  if (pattern === undefined) return bad('expects [MODIFIER] PATTERN');
  let regex: RegExp | null = null;
  if (modifier === '~' || modifier === '~*') {
    try {
      regex = parseRegex(pattern, modifier === '~*');
    } catch {
      return bad(`regular expression ${JSON.stringify(pattern)} is not supported`);
    }
  }
  const scope = compileScope(d.block, parent, { length: pattern.length, regex: regex !== null, named: modifier === '@' }, warn, named);
  return { modifier, pattern, regex, scope, where: `${d.file}:${d.line}` };
}

/** The http-level directives a server inherits (ngx_http_*_merge_loc_conf: index, add_header, error_page, access). */
const INHERITED_FROM_HTTP = new Set(['index', 'add_header', 'error_page', 'allow', 'deny']);

/** `http` is the enclosing http { … } block's directives, when the server is inside one. */
export function compileServer(server: Directive, warn: Warn, http: readonly Directive[] | null = null): ServerConfig {
  const named = new Map<string, Location>();
  const inherited = http === null ? [] : http.filter((d) => INHERITED_FROM_HTTP.has(d.name));
  const parent = inherited.length === 0 ? TOP : compileScope(inherited, TOP, null, warn, named);
  const scope = compileScope(server.block ?? [], parent, null, warn, named);
  reportFileRootsOutside([...scope.locations, ...named.values()], scope.root, warn);
  return { root: scope.root, scope, named, where: `${server.file}:${server.line}` };
}

/**
 * The served directory is the server's root: a location's root/alias whose fixed part lies outside it is reported
 * once (its requests are refused by the executor, which also checks each path made with captures or an alias
 * that does not end where its location does, as `location /img { alias /srv/site/; }` with `/img../x`).
 */
function reportFileRootsOutside(locations: readonly Location[], serverRoot: string | null, warn: Warn): void {
  const seen = new Set<FileRoot>();
  const visit = (list: readonly Location[]): void => {
    for (const l of list) {
      const files = l.scope.files;
      if (files !== null && !seen.has(files)) {
        seen.add(files);
        const fixed = files.path.split('$')[0] ?? '';
        const problem = serverRoot === null ? 'the server block has no root to place it in'
          : siteDirOf(fixed, serverRoot) === null ? `${files.path} is outside the served root ${serverRoot}` : null;
        if (problem !== null) warn({ level: 'warn', file: files.file, line: files.line, message: `${files.kind}: ${problem}; its requests are refused (403)` });
      }
      visit(l.scope.locations);
    }
  };
  visit(locations);
}

/**
 * A local path as a site path under `serverRoot` ('/' for the root itself), resolving '.' and '..' as the
 * kernel would for a path without symlinks; null when it leaves the root. A trailing '/' is kept.
 */
export function siteDirOf(local: string, serverRoot: string): string | null {
  const root = posix.normalize(serverRoot).replace(/(.)\/+$/, '$1');
  const path = posix.normalize(local);
  if (path === root) return '/';
  if (root === '/') return path.startsWith('/') ? path : null;
  return path.startsWith(`${root}/`) ? path.slice(root.length) : null;
}

/** Every `server` block, at the top level of a file (a lone site file) or inside `http { … }`. */
export function serverBlocks(directives: readonly Directive[]): Directive[] {
  const out: Directive[] = [];
  for (const d of directives) {
    if (d.name === 'server' && d.block !== null) out.push(d);
    else if (d.name === 'http' && d.block !== null) out.push(...serverBlocks(d.block));
  }
  return out;
}

/** The directives of the http { … } block that holds `server`, or null when it stands alone. */
export function enclosingHttp(directives: readonly Directive[], server: Directive): readonly Directive[] | null {
  for (const d of directives) {
    if (d.name === 'http' && d.block !== null && d.block.includes(server)) return d.block;
  }
  return null;
}

/** The server-level `root` of a server block, as written (null when it has none). */
export function rootOf(server: Directive): string | null {
  return server.block?.find((d) => d.name === 'root')?.args[0] ?? null;
}
