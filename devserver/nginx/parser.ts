/**
 * nginx configuration syntax (https://nginx.org/en/docs/beginners_guide.html#conf_structure and the lexer of
 * src/core/ngx_conf_file.c): directives are words ended by ';' or followed by a '{ … }' block; words may be
 * quoted with "…" or '…' (backslash escapes the next character), '#' starts a comment outside quotes, and
 * "${name}" keeps its braces inside a word. `include` takes a file or a glob, relative to the configuration
 * prefix (the directory of nginx.conf), and is expanded here, so callers see one tree with each directive's own
 * file and line.
 */
import { posix } from 'node:path';

export interface Directive {
  readonly name: string;
  readonly args: readonly string[];
  /** The '{ … }' block, or null for a simple directive. */
  readonly block: readonly Directive[] | null;
  readonly file: string;
  readonly line: number;
}

export class NginxSyntaxError extends Error {
  constructor(readonly file: string, readonly line: number, message: string) {
    super(line > 0 ? `${file}:${line}: ${message}` : `${file}: ${message}`);
  }
}

type Token =
  | { readonly kind: 'word'; readonly text: string; readonly line: number }
  | { readonly kind: ';' | '{' | '}'; readonly line: number };

function tokenize(text: string, file: string): Token[] {
  const tokens: Token[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] ?? '';
    if (c === '\n') { line++; i++; continue; }
    if (c === ' ' || c === '\t' || c === '\r') { i++; continue; }
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
      continue;
    }
    if (c === ';' || c === '{' || c === '}') {
      tokens.push({ kind: c, line });
      i++;
      continue;
    }
    const startLine = line;
    if (c === '"' || c === "'") {
      let word = '';
      i++;
      for (;;) {
        if (i >= n) throw new NginxSyntaxError(file, startLine, 'unterminated quoted string');
        const d = text[i] ?? '';
        if (d === '\\' && i + 1 < n) {
          // ngx_conf_read_token keeps the backslash except before the quote itself, '\\', t, r, n.
          const e = text[i + 1] ?? '';
          word += e === c || e === '\\' ? e : e === 't' ? '\t' : e === 'r' ? '\r' : e === 'n' ? '\n' : `\\${e}`;
          i += 2;
          continue;
        }
        if (d === c) { i++; break; }
        if (d === '\n') line++;
        word += d;
        i++;
      }
      tokens.push({ kind: 'word', text: word, line: startLine });
      continue;
    }
    let word = '';
    while (i < n) {
      const d = text[i] ?? '';
      if (d === ' ' || d === '\t' || d === '\r' || d === '\n' || d === ';' || d === '{' || d === '}') {
        // "${var}": the brace belongs to the variable, not the block syntax.
        if (d === '{' && word.endsWith('$')) {
          const close = text.indexOf('}', i);
          if (close === -1) throw new NginxSyntaxError(file, line, 'unterminated ${…} variable');
          word += text.slice(i, close + 1);
          i = close + 1;
          continue;
        }
        break;
      }
      if (d === '\\' && i + 1 < n) {
        word += d + (text[i + 1] ?? '');
        i += 2;
        continue;
      }
      word += d;
      i++;
    }
    tokens.push({ kind: 'word', text: word, line: startLine });
  }
  return tokens;
}

/** Parses one file's text (no include expansion). */
export function parseNginx(text: string, file: string): Directive[] {
  const tokens = tokenize(text, file);
  let at = 0;
  const parseBlock = (closing: boolean, openLine: number): Directive[] => {
    const out: Directive[] = [];
    for (;;) {
      const t = tokens[at];
      if (t === undefined) {
        if (closing) throw new NginxSyntaxError(file, openLine, 'unexpected end of file, expecting "}"');
        return out;
      }
      if (t.kind === '}') {
        if (!closing) throw new NginxSyntaxError(file, t.line, 'unexpected "}"');
        at++;
        return out;
      }
      if (t.kind !== 'word') throw new NginxSyntaxError(file, t.line, `unexpected "${t.kind}"`);
      const name = t.text;
      const args: string[] = [];
      at++;
      for (;;) {
        const a = tokens[at];
        if (a === undefined) throw new NginxSyntaxError(file, t.line, `unexpected end of file after "${name}", expecting ";" or "{"`);
        at++;
        if (a.kind === 'word') { args.push(a.text); continue; }
        if (a.kind === ';') { out.push({ name, args, block: null, file, line: t.line }); break; }
        if (a.kind === '{') { out.push({ name, args, block: parseBlock(true, a.line), file, line: t.line }); break; }
        throw new NginxSyntaxError(file, a.line, `unexpected "}" after "${name}"`);
      }
    }
  };
  return parseBlock(false, 1);
}

/** Where configuration files are read from: the local disk, or a server over SSH (discover.ts). */
export interface ConfigReader {
  /** The file's text; null when it does not exist. */
  readFile(path: string): Promise<string | null>;
  /** Names of the entries of a directory (empty when it does not exist). */
  readdir(path: string): Promise<string[]>;
}

export interface ConfigWarning {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/** Bounds a configuration that includes itself. */
const MAX_INCLUDE_DEPTH = 16;
const GLOB_CHARS = /[*?[]/;

/** A '*', '?' or '[…]' pattern of one path segment, as glob(3) matches it (no leading-dot matches). */
function segmentMatcher(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = pattern.indexOf(']', i + 1);
      if (close === -1) { re += '\\['; continue; }
      const body = pattern.slice(i + 1, close).replace(/^!/, '^').replace(/\\/g, '\\\\');
      re += `[${body}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^(?!\\.)${re}$`);
}

/** Files an `include` names: one file, or a glob in its last segment, sorted as glob(3) sorts them. */
async function includeTargets(pattern: string, reader: ConfigReader): Promise<string[] | 'unsupported'> {
  const dir = posix.dirname(pattern);
  const base = posix.basename(pattern);
  if (GLOB_CHARS.test(dir)) return 'unsupported';
  if (!GLOB_CHARS.test(base)) return [pattern];
  const match = segmentMatcher(base);
  return (await reader.readdir(dir)).filter((name) => match.test(name)).sort().map((name) => posix.join(dir, name));
}

/**
 * Reads `file` and every file it includes, relative to `prefix` (nginx's conf prefix, /etc/nginx). A missing
 * plain include is an error in nginx; here it is reported and skipped, so one unreadable snippet does not
 * hide the rest of the server block.
 */
export async function loadNginxConfig(file: string, prefix: string, reader: ConfigReader, warn: (w: ConfigWarning) => void): Promise<Directive[]> {
  const expand = async (directives: readonly Directive[], depth: number): Promise<Directive[]> => {
    const out: Directive[] = [];
    for (const d of directives) {
      if (d.name !== 'include') {
        out.push(d.block === null ? d : { ...d, block: await expand(d.block, depth) });
        continue;
      }
      const target = d.args[0];
      if (d.args.length !== 1 || target === undefined) {
        warn({ file: d.file, line: d.line, message: 'include: expects one file or pattern' });
        continue;
      }
      if (depth >= MAX_INCLUDE_DEPTH) throw new NginxSyntaxError(d.file, d.line, `include nested more than ${MAX_INCLUDE_DEPTH} deep`);
      const pattern = target.startsWith('/') ? target : posix.join(prefix, target);
      const files = await includeTargets(pattern, reader);
      if (files === 'unsupported') {
        warn({ file: d.file, line: d.line, message: `include ${target}: wildcards in directory names are not supported; skipped` });
        continue;
      }
      for (const included of files) {
        const text = await reader.readFile(included);
        if (text === null) {
          warn({ file: d.file, line: d.line, message: `include ${target}: ${included} cannot be read; skipped` });
          continue;
        }
        out.push(...await expand(parseNginx(text, included), depth + 1));
      }
    }
    return out;
  };
  const text = await reader.readFile(file);
  if (text === null) throw new NginxSyntaxError(file, 0, 'cannot read the file');
  return expand(parseNginx(text, file), 0);
}
