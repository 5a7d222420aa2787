/**
 * Compiles one parsed .htaccess into a typed per-directory configuration, and merges the chain of them from the
 * site root down to a directory the way Apache merges per-directory configs with `AllowOverride All`:
 * later (deeper) files override DirectoryIndex, Options, access rules and error documents; Header, AddType,
 * Redirect and <Files> sections accumulate; mod_rewrite rules come from the deepest file that has any rewrite
 * directive (parents only with `RewriteOptions Inherit`), as mod_rewrite's config_perdir_merge does.
 * Every directive we do not implement is reported (once per file and line, by the caller's warn).
 */
import type { Directive, FilesSection, ParsedHtaccess, ParseWarning } from './parser.js';
import type { CondTest, RewriteCond, RewriteConfig, RewriteRule, RewriteRuleFlags } from './rewrite-types.js';

export type ErrorDocument =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'text'; readonly text: string };

/** One access decision source: mod_authz_core `Require` or mod_access_compat `Order/Allow/Deny`. */
export type AccessRule =
  | { readonly kind: 'require'; readonly grant: 'all' | 'none' | 'local' | readonly string[] }
  | { readonly kind: 'compat'; readonly order: 'deny,allow' | 'allow,deny'; readonly allow: readonly string[]; readonly deny: readonly string[] };

export interface HeaderEdit {
  readonly action: 'set' | 'unset' | 'append' | 'add' | 'merge' | 'setifempty';
  readonly name: string;
  readonly value: string;
  readonly always: boolean;
}

export interface AliasRedirect {
  readonly status: number;
  readonly match: { readonly kind: 'prefix'; readonly prefix: string } | { readonly kind: 'regex'; readonly regex: RegExp };
  /** Target URL or URL-path; null for a status outside 3xx (410 Gone, 403, 404…), answered as that error. */
  readonly target: string | null;
}

/** Directives that may appear both at directory level and inside <Files>. */
export interface ScopedConfig {
  readonly access: AccessRule | null;
  readonly headers: readonly HeaderEdit[];
  readonly types: ReadonlyMap<string, string>;
}

export interface CompiledFilesSection extends ScopedConfig {
  readonly match: FilesSection['match'];
}

export interface DirectoryConfig extends ScopedConfig {
  readonly directoryIndex: readonly string[] | null;
  readonly errorDocuments: ReadonlyMap<number, ErrorDocument>;
  readonly indexes: boolean | null;
  readonly redirects: readonly AliasRedirect[];
  readonly files: readonly CompiledFilesSection[];
  /** null when this file has no mod_rewrite directive at all. */
  readonly rewrite: RewriteConfig | null;
  /** php_value/php_flag/php_admin_value/php_admin_flag settings (name → value), deeper files overriding. */
  readonly phpIni: ReadonlyMap<string, string>;
}

export const EMPTY_CONFIG: DirectoryConfig = Object.freeze({
  access: null, headers: [], types: new Map(), directoryIndex: null, errorDocuments: new Map(), indexes: null,
  redirects: [], files: [], rewrite: null, phpIni: new Map(),
});

type Warn = (w: ParseWarning) => void;

const REDIRECT_STATUS: Readonly<Record<string, number>> = { permanent: 301, temp: 302, seeother: 303, gone: 410 };

function lowerName(d: Directive): string {
  return d.name.toLowerCase();
}

function compileScoped(directives: readonly Directive[], warn: Warn, allowedExtra: (d: Directive) => boolean): ScopedConfig {
  let access: AccessRule | null = null;
  const requires: string[][] = [];
  let order: 'deny,allow' | 'allow,deny' | null = null;
  const allow: string[] = [];
  const deny: string[] = [];
  let compat = false;
  const headers: HeaderEdit[] = [];
  const types = new Map<string, string>();
  for (const d of directives) {
    const name = lowerName(d);
    const bad = (message: string): void => warn({ file: d.file, line: d.line, message: `${d.name}: ${message}` });
    switch (name) {
      case 'require': {
        const [kind, ...rest] = d.args;
        const k = (kind ?? '').toLowerCase();
        if (k === 'all' && (rest[0] ?? '').toLowerCase() === 'granted') requires.push(['all']);
        else if (k === 'all' && (rest[0] ?? '').toLowerCase() === 'denied') requires.push([]);
        else if (k === 'local') requires.push(['local']);
        else if (k === 'ip' && rest.length > 0) requires.push(rest);
        else bad(`"Require ${d.args.join(' ')}" is not supported (authentication is not emulated); access is granted`);
        break;
      }
      case 'order': {
        const value = d.args.join('').toLowerCase().replace(/\s/g, '');
        if (value === 'deny,allow' || value === 'allow,deny') { order = value; compat = true; }
        else bad(`unsupported order ${JSON.stringify(d.args.join(' '))}`);
        break;
      }
      case 'allow':
      case 'deny': {
        if ((d.args[0] ?? '').toLowerCase() !== 'from' || d.args.length < 2) { bad('expected "from HOST…"'); break; }
        const hosts = d.args.slice(1).filter((h) => {
          if (h.toLowerCase() === 'all' || /^[0-9.]+(\/\d+)?$/.test(h) || /^[0-9a-f:]+(\/\d+)?$/i.test(h)) return true;
          bad(`"${h}" is not supported (only all, IP addresses and networks); ignored`);
          return false;
        });
        (name === 'allow' ? allow : deny).push(...hosts);
        compat = true;
        break;
      }
      case 'header': {
        const args = [...d.args];
        let always = false;
        if ((args[0] ?? '').toLowerCase() === 'always') { always = true; args.shift(); }
        else if ((args[0] ?? '').toLowerCase() === 'onsuccess') args.shift();
        const action = (args[0] ?? '').toLowerCase();
        if (!['set', 'unset', 'append', 'add', 'merge', 'setifempty'].includes(action)) { bad(`action "${args[0] ?? ''}" is not supported`); break; }
        const headerName = args[1];
        if (headerName === undefined) { bad('missing header name'); break; }
        if (action !== 'unset' && args[2] === undefined) { bad('missing value'); break; }
        if (args.length > (action === 'unset' ? 2 : 3)) bad(`conditions ("${args.slice(action === 'unset' ? 2 : 3).join(' ')}") are not supported; applied unconditionally`);
        headers.push({ action: action as HeaderEdit['action'], name: headerName, value: args[2] ?? '', always });
        break;
      }
      case 'addtype': {
        const [type, ...exts] = d.args;
        if (type === undefined || exts.length === 0) { bad('expected "AddType media-type extension…"'); break; }
        for (const ext of exts) types.set(ext.replace(/^\./, '').toLowerCase(), type);
        break;
      }
      default:
        if (!allowedExtra(d)) bad('not supported by devmount; ignored');
    }
  }
  if (requires.length > 0) {
    // Several Require lines without a container: any may grant (RequireAny is the implicit default).
    const all = requires.flat();
    if (requires.some((r) => r.length === 1 && r[0] === 'all')) access = { kind: 'require', grant: 'all' };
    else if (all.length === 0) access = { kind: 'require', grant: 'none' };
    else if (all.every((r) => r === 'local')) access = { kind: 'require', grant: 'local' };
    else access = { kind: 'require', grant: all.map((r) => (r === 'local' ? '127.0.0.0/8' : r)) };
    if (compat) {
      const first = directives.find((d) => ['order', 'allow', 'deny'].includes(lowerName(d)));
      if (first) warn({ file: first.file, line: first.line, message: `${first.name}: mixed with Require in the same scope; Require wins` });
    }
  } else if (compat) {
    // mod_access_compat: the default Order is Deny,Allow.
    access = { kind: 'compat', order: order ?? 'deny,allow', allow, deny };
  }
  return { access, headers, types };
}

function parseRedirect(d: Directive, regex: boolean, bad: (m: string) => void): AliasRedirect | null {
  const args = [...d.args];
  let status = lowerName(d) === 'redirectpermanent' ? 301 : lowerName(d) === 'redirecttemp' ? 302 : 302;
  const first = (args[0] ?? '').toLowerCase();
  if (first in REDIRECT_STATUS) { status = REDIRECT_STATUS[first] ?? 302; args.shift(); }
  else if (/^\d{3}$/.test(first)) { status = Number(first); args.shift(); }
  const [from, to, extra] = args;
  // mod_alias (https://httpd.apache.org/docs/2.4/mod/mod_alias.html#redirect): "If the status is outside the
  // redirect range (300-399), the URL argument must be omitted", as in DokuWiki's `RedirectMatch 404 /\.git`.
  const isRedirect = status >= 300 && status < 400;
  if (from === undefined || extra !== undefined) { bad('expected "[status] URL-path URL"'); return null; }
  if (isRedirect && to === undefined) { bad('missing target URL'); return null; }
  if (!isRedirect && to !== undefined) { bad(`a ${status} status takes no URL (only 3xx statuses redirect)`); return null; }
  if (status < 100 || status > 599) { bad(`invalid status ${status}`); return null; }
  let match: AliasRedirect['match'];
  if (regex) {
    try {
      match = { kind: 'regex', regex: new RegExp(from) };
    } catch {
      bad(`invalid regular expression ${JSON.stringify(from)}`);
      return null;
    }
  } else {
    match = { kind: 'prefix', prefix: from };
  }
  return { status, match, target: isRedirect ? (to ?? null) : null };
}

/** RewriteRule flags, [L,R=301,QSA]. */
function parseRuleFlags(text: string | undefined, bad: (m: string) => void): RewriteRuleFlags {
  const flags = { last: false, end: false, redirect: null as number | null, qsa: false, qsd: false, nocase: false,
    forbidden: false, gone: false, passthrough: false, noescape: false, chain: false, skip: 0,
    env: [] as Array<readonly [string, string]> };
  if (text === undefined) return flags;
  if (!/^\[.*\]$/.test(text)) { bad(`flags must be written [FLAG,…], got ${text}`); return flags; }
  for (const raw of text.slice(1, -1).split(',')) {
    const flag = raw.trim();
    const eq = flag.indexOf('=');
    const key = (eq === -1 ? flag : flag.slice(0, eq)).toLowerCase();
    const value = eq === -1 ? '' : flag.slice(eq + 1);
    switch (key) {
      case 'l': case 'last': flags.last = true; break;
      case 'end': flags.end = true; break;
      case 'r': case 'redirect': {
        const code = value === '' ? 302 : value.toLowerCase() === 'permanent' ? 301 : value.toLowerCase() === 'temp' ? 302 : Number(value);
        if (!Number.isInteger(code) || code < 300 || code > 399) bad(`R=${value}: only 3xx codes are supported`);
        else flags.redirect = code;
        break;
      }
      case 'qsa': case 'qsappend': flags.qsa = true; break;
      case 'qsd': case 'qsdiscard': flags.qsd = true; break;
      case 'nc': case 'nocase': flags.nocase = true; break;
      case 'f': case 'forbidden': flags.forbidden = true; break;
      case 'g': case 'gone': flags.gone = true; break;
      case 'pt': case 'passthrough': flags.passthrough = true; break;
      case 'ne': case 'noescape': flags.noescape = true; break;
      case 'c': case 'chain': flags.chain = true; break;
      case 's': case 'skip': flags.skip = Number(value) || 0; break;
      case 'e': case 'env': {
        const colon = value.indexOf(':');
        if (value.startsWith('!')) bad(`E=${value}: unsetting variables is not supported`);
        else flags.env.push(colon === -1 ? [value, ''] : [value.slice(0, colon), value.slice(colon + 1)]);
        break;
      }
      case '': break;
      default: bad(`flag ${flag} is not supported; ignored`);
    }
  }
  return flags;
}

const COND_VARIABLES: ReadonlySet<string> = new Set([
  'REQUEST_FILENAME', 'SCRIPT_FILENAME', 'REQUEST_URI', 'QUERY_STRING', 'HTTP_HOST', 'HTTPS', 'REQUEST_METHOD',
  'HTTP_USER_AGENT', 'HTTP_REFERER', 'HTTP_COOKIE', 'HTTP_ACCEPT', 'HTTP_FORWARDED', 'HTTP_PROXY_CONNECTION',
  'REMOTE_ADDR', 'REMOTE_PORT', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL', 'DOCUMENT_ROOT', 'THE_REQUEST',
  'REQUEST_SCHEME', 'SERVER_ADDR', 'SERVER_SOFTWARE',
]);

export function checkVariables(text: string, bad: (m: string) => void): void {
  for (const match of text.matchAll(/%\{([^}]+)\}/g)) {
    const name = match[1] ?? '';
    if (/^(HTTP|ENV):/i.test(name)) continue;
    if (!COND_VARIABLES.has(name.toUpperCase())) bad(`%{${name}} is not supported; it expands to ""`);
  }
  if (/\$\{[^}]*\}/.test(text)) bad('RewriteMap lookups ${map:key} are not supported; they expand to ""');
}

function parseCond(d: Directive, bad: (m: string) => void): RewriteCond | null {
  const [testString, rawPattern, flagText] = d.args;
  if (testString === undefined || rawPattern === undefined) { bad('expected "TestString CondPattern [flags]"'); return null; }
  checkVariables(testString, bad);
  let nocase = false;
  let ornext = false;
  if (flagText !== undefined) {
    for (const f of flagText.replace(/^\[|\]$/g, '').split(',')) {
      const flag = f.trim().toLowerCase();
      if (flag === 'nc' || flag === 'nocase') nocase = true;
      else if (flag === 'or' || flag === 'ornext') ornext = true;
      else if (flag !== '') bad(`condition flag ${f} is not supported; ignored`);
    }
  }
  let pattern = rawPattern;
  let negate = false;
  if (pattern.startsWith('!')) { negate = true; pattern = pattern.slice(1); }
  let test: CondTest;
  const fileTests: Record<string, 'file' | 'dir' | 'size' | 'symlink' | 'exec'> = { '-f': 'file', '-d': 'dir', '-s': 'size', '-l': 'symlink', '-L': 'symlink', '-h': 'symlink', '-x': 'exec' };
  const intTests: Record<string, 'intEq' | 'intNe' | 'intLt' | 'intLe' | 'intGt' | 'intGe'> = { '-eq': 'intEq', '-ne': 'intNe', '-lt': 'intLt', '-le': 'intLe', '-gt': 'intGt', '-ge': 'intGe' };
  const fileKind = fileTests[pattern];
  if (fileKind !== undefined) {
    test = { kind: fileKind };
  } else if (pattern === '-F' || pattern === '-U') {
    bad(`${pattern} (sub-request test) is not supported; treated as -f`);
    test = { kind: 'file' };
  } else if (intTests[pattern.split(/\s/)[0] ?? ''] !== undefined) {
    bad('integer comparisons need the value as a separate argument; not supported');
    return null;
  } else if (pattern.startsWith('<=')) test = { kind: 'lessOrEqual', value: pattern.slice(2) };
  else if (pattern.startsWith('>=')) test = { kind: 'greaterOrEqual', value: pattern.slice(2) };
  else if (pattern.startsWith('=')) test = { kind: 'equal', value: pattern.slice(1) };
  else if (pattern.startsWith('<')) test = { kind: 'less', value: pattern.slice(1) };
  else if (pattern.startsWith('>')) test = { kind: 'greater', value: pattern.slice(1) };
  else {
    try {
      test = { kind: 'regex', regex: new RegExp(pattern, nocase ? 'i' : '') };
    } catch {
      bad(`invalid regular expression ${JSON.stringify(pattern)}`);
      return null;
    }
  }
  return { testString, test, negate, nocase, ornext, file: d.file, line: d.line };
}

function compileRewrite(directives: readonly Directive[], directory: string, warn: Warn): RewriteConfig | null {
  let engine = false;
  let base: string | null = null;
  let inherit = false;
  let seen = false;
  const rules: RewriteRule[] = [];
  let conds: RewriteCond[] = [];
  for (const d of directives) {
    const name = lowerName(d);
    const bad = (message: string): void => warn({ file: d.file, line: d.line, message: `${d.name}: ${message}` });
    if (!name.startsWith('rewrite')) continue;
    seen = true;
    switch (name) {
      case 'rewriteengine': engine = (d.args[0] ?? '').toLowerCase() === 'on'; break;
      case 'rewritebase': {
        const value = d.args[0];
        if (value === undefined || !value.startsWith('/')) bad('expected an absolute URL-path');
        else base = value.endsWith('/') ? value : `${value}/`;
        break;
      }
      case 'rewriteoptions':
        for (const option of d.args) {
          if (option.toLowerCase() === 'inherit') inherit = true;
          else bad(`option ${option} is not supported`);
        }
        break;
      case 'rewritecond': {
        const cond = parseCond(d, bad);
        if (cond !== null) conds.push(cond);
        break;
      }
      case 'rewriterule': {
        const [rawPattern, substitution, flagText] = d.args;
        if (rawPattern === undefined || substitution === undefined) { bad('expected "Pattern Substitution [flags]"'); conds = []; break; }
        checkVariables(substitution, bad);
        const flags = parseRuleFlags(flagText, bad);
        const negate = rawPattern.startsWith('!');
        try {
          const regex = new RegExp(negate ? rawPattern.slice(1) : rawPattern, flags.nocase ? 'i' : '');
          rules.push({ regex, negate, substitution, flags, conds, file: d.file, line: d.line });
        } catch {
          bad(`invalid regular expression ${JSON.stringify(rawPattern)}`);
        }
        conds = [];
        break;
      }
      default: bad('not supported by devmount; ignored');
    }
  }
  if (conds.length > 0) {
    const first = conds[0];
    if (first) warn({ file: first.file, line: first.line, message: 'RewriteCond without a following RewriteRule; ignored' });
  }
  return seen ? { directory, engine, base, inherit, rules } : null;
}

const DIRECTORY_LEVEL: ReadonlySet<string> = new Set([
  'directoryindex', 'errordocument', 'options', 'redirect', 'redirectmatch', 'redirectpermanent', 'redirecttemp',
  'php_value', 'php_flag', 'php_admin_value', 'php_admin_flag',
]);

/**
 * mod_php's php_value/php_flag (and php_admin_*, which Apache accepts only in its server configuration but
 * devmount takes from .htaccess too): `php_value NAME VALUE` (`none` clears it), `php_flag NAME on|off`.
 */
function parsePhpSetting(d: Directive, bad: (m: string) => void): readonly [string, string] | null {
  const [name, value, extra] = d.args;
  if (name === undefined || value === undefined || extra !== undefined || !/^[A-Za-z0-9_.]+$/.test(name) || /[\r\n\0]/.test(value)) {
    bad('expected "NAME VALUE"');
    return null;
  }
  if (!lowerName(d).endsWith('_flag')) return [name, value.toLowerCase() === 'none' ? '' : value];
  const flag = value.toLowerCase();
  if (!['on', 'off', '1', '0', 'true', 'false', 'yes', 'no'].includes(flag)) { bad(`expected on or off, not "${value}"`); return null; }
  return [name, ['on', '1', 'true', 'yes'].includes(flag) ? '1' : '0'];
}

/** Compiles one parsed file. `directory` is its site directory with a trailing slash. */
export function compileHtaccess(parsed: ParsedHtaccess, directory: string, warn: Warn): DirectoryConfig {
  const isRewrite = (d: Directive): boolean => lowerName(d).startsWith('rewrite');
  const scoped = compileScoped(parsed.directives, warn, (d) => DIRECTORY_LEVEL.has(lowerName(d)) || isRewrite(d));
  let directoryIndex: string[] | null = null;
  const errorDocuments = new Map<number, ErrorDocument>();
  let indexes: boolean | null = null;
  const redirects: AliasRedirect[] = [];
  const phpIni = new Map<string, string>();
  for (const d of parsed.directives) {
    const name = lowerName(d);
    const bad = (message: string): void => warn({ file: d.file, line: d.line, message: `${d.name}: ${message}` });
    switch (name) {
      case 'directoryindex':
        if (d.args.length === 1 && d.args[0]?.toLowerCase() === 'disabled') directoryIndex = [];
        else directoryIndex = [...d.args];
        break;
      case 'errordocument': {
        const [code, target] = d.args;
        const status = Number(code);
        if (!Number.isInteger(status) || status < 400 || status > 599 || target === undefined) { bad('expected "ErrorDocument 4xx|5xx document"'); break; }
        // A quoted string whose value starts with neither '/' nor a scheme is a message (Apache 2.4 docs).
        if (target.startsWith('/')) errorDocuments.set(status, { kind: 'path', path: target });
        else if (/^https?:\/\//i.test(target)) errorDocuments.set(status, { kind: 'url', url: target });
        else errorDocuments.set(status, { kind: 'text', text: target });
        break;
      }
      case 'options':
        for (const option of d.args) {
          const match = /^([+-]?)(.+)$/.exec(option);
          const word = (match?.[2] ?? '').toLowerCase();
          const sign = match?.[1] ?? '';
          if (word === 'indexes') indexes = sign !== '-';
          else if (word === 'all') indexes = sign !== '-';
          else if (word === 'none') indexes = false;
          else if (word === 'multiviews' && sign === '-') continue;
          else if (['followsymlinks', 'symlinksifownermatch'].includes(word)) continue;
          else if (word === 'execcgi' || word === 'includes' || word === 'includesnoexec' || word === 'multiviews') {
            bad(`${option} is not supported; ignored`);
          } else bad(`unknown option ${option}`);
        }
        break;
      case 'redirect': case 'redirectpermanent': case 'redirecttemp': {
        const redirect = parseRedirect(d, false, bad);
        if (redirect !== null) redirects.push(redirect);
        break;
      }
      case 'redirectmatch': {
        const redirect = parseRedirect(d, true, bad);
        if (redirect !== null) redirects.push(redirect);
        break;
      }
      case 'php_value': case 'php_flag': case 'php_admin_value': case 'php_admin_flag': {
        const setting = parsePhpSetting(d, bad);
        if (setting !== null) phpIni.set(setting[0], setting[1]);
        break;
      }
      default:
    }
  }
  const files = parsed.sections.map((section) => ({
    match: section.match,
    ...compileScoped(section.directives, warn, () => false),
  }));
  return {
    ...scoped, directoryIndex, errorDocuments, indexes, redirects, files,
    rewrite: compileRewrite(parsed.directives, directory, warn),
    phpIni,
  };
}

/** Merges parent (shallower) and child (deeper) configs. */
export function mergeConfigs(parent: DirectoryConfig, child: DirectoryConfig): DirectoryConfig {
  const types = new Map(parent.types);
  for (const [ext, type] of child.types) types.set(ext, type);
  const errorDocuments = new Map(parent.errorDocuments);
  for (const [status, doc] of child.errorDocuments) errorDocuments.set(status, doc);
  let rewrite = child.rewrite ?? parent.rewrite;
  if (child.rewrite !== null && parent.rewrite !== null && child.rewrite.inherit) {
    // RewriteOptions Inherit: the parent's rules run after the child's, still stripped per the child directory.
    rewrite = { ...child.rewrite, rules: [...child.rewrite.rules, ...parent.rewrite.rules] };
  }
  return {
    access: child.access ?? parent.access,
    headers: [...parent.headers, ...child.headers],
    types,
    directoryIndex: child.directoryIndex ?? parent.directoryIndex,
    errorDocuments,
    indexes: child.indexes ?? parent.indexes,
    // mod_alias merge_alias_dir_config: the child's redirects are tried first.
    redirects: [...child.redirects, ...parent.redirects],
    files: [...parent.files, ...child.files],
    rewrite,
    phpIni: child.phpIni.size === 0 ? parent.phpIni : new Map([...parent.phpIni, ...child.phpIni]),
  };
}
