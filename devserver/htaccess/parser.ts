/**
 * Parses one .htaccess file into directives with their file and line, the way Apache's config reader does
 * (server/config.c, ap_getword_conf): one directive per line, `\` at the end of a line continues it, `#` starts a
 * comment line, arguments split on whitespace with "double" or 'single' quotes grouping. <IfModule> blocks are
 * resolved here against the modules we emulate; <Files>/<FilesMatch> become sections. Unknown containers are
 * reported and skipped, never silently dropped.
 */
export interface Directive {
  /** Directive name as written (matching is case-insensitive, as in Apache). */
  readonly name: string;
  readonly args: readonly string[];
  readonly file: string;
  readonly line: number;
}

export interface FilesSection {
  /** <Files "name"> uses wildcards (fnmatch); <FilesMatch "regex"> (or <Files ~ "regex">) a regex. */
  readonly match: { readonly kind: 'wildcard'; readonly pattern: string } | { readonly kind: 'regex'; readonly regex: RegExp };
  readonly directives: readonly Directive[];
  readonly file: string;
  readonly line: number;
}

export interface ParsedHtaccess {
  readonly file: string;
  readonly directives: readonly Directive[];
  readonly sections: readonly FilesSection[];
}

export interface ParseWarning {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

/**
 * Modules whose directives we implement (or whose absence changes nothing for a dev server, like
 * mod_negotiation whose only common use in .htaccess is turning MultiViews off). <IfModule> for any other module
 * is treated as "module not loaded", as Apache would with that module missing, and reported.
 */
const EMULATED_MODULES: ReadonlySet<string> = new Set([
  'rewrite', 'alias', 'headers', 'mime', 'dir', 'authz_core', 'authz_host', 'access_compat', 'negotiation',
  'autoindex', 'core', 'env', 'setenvif',
  // PHP 8's mod_php (mod_php.c / php_module): its php_value and php_flag are applied to the PHP workers.
  'php',
]);

function moduleKey(name: string): string {
  // <IfModule mod_rewrite.c> and <IfModule rewrite_module> name the same module.
  return name.toLowerCase().replace(/^mod_/, '').replace(/\.c$/, '').replace(/_module$/, '');
}

/** ap_getword_conf: whitespace-separated words, quotes group, backslash escapes the quote inside quotes. */
export function splitArgs(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
    if (i >= text.length) break;
    const quote = text[i];
    if (quote === '"' || quote === "'") {
      let word = '';
      i++;
      while (i < text.length && text[i] !== quote) {
        if (text[i] === '\\' && (text[i + 1] === quote || text[i + 1] === '\\')) i++;
        word += text[i];
        i++;
      }
      i++;
      words.push(word);
    } else {
      let word = '';
      while (i < text.length && !/\s/.test(text[i] ?? '')) word += text[i++];
      words.push(word);
    }
  }
  return words;
}

interface Frame {
  readonly kind: 'root' | 'ifmodule' | 'files' | 'skip';
  readonly tag: string;
  readonly line: number;
  readonly active: boolean;
  readonly directives: Directive[];
  readonly section: Omit<FilesSection, 'directives'> | null;
}

export function parseHtaccess(text: string, file: string, warn: (w: ParseWarning) => void): ParsedHtaccess {
  const root: Frame = { kind: 'root', tag: '', line: 0, active: true, directives: [], section: null };
  const stack: Frame[] = [root];
  const sections: FilesSection[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index++) {
    const lineNo = index + 1;
    let line = lines[index] ?? '';
    while (line.endsWith('\\') && index + 1 < lines.length) {
      index++;
      line = line.slice(0, -1) + (lines[index] ?? '');
    }
    line = line.trim();
    if (line === '' || line.startsWith('#')) continue;
    const top = stack[stack.length - 1] ?? root;
    const close = /^<\/\s*([A-Za-z]+)\s*>$/.exec(line);
    if (close !== null) {
      if (stack.length === 1 || top.tag.toLowerCase() !== (close[1] ?? '').toLowerCase()) {
        warn({ file, line: lineNo, message: `unexpected ${line}` });
        continue;
      }
      stack.pop();
      if (top.kind === 'files' && top.section !== null && top.active) sections.push({ ...top.section, directives: top.directives });
      continue;
    }
    const open = /^<\s*([A-Za-z]+)(.*)>$/.exec(line);
    if (open !== null) {
      const tag = open[1] ?? '';
      const args = splitArgs(open[2] ?? '');
      const lower = tag.toLowerCase();
      if (lower === 'ifmodule') {
        const arg = args[0] ?? '';
        const negated = arg.startsWith('!');
        const loaded = EMULATED_MODULES.has(moduleKey(negated ? arg.slice(1) : arg));
        if (!loaded && !negated && top.active) {
          warn({ file, line: lineNo, message: `<IfModule ${arg}>: module not emulated by devmount; its block is skipped` });
        }
        stack.push({ kind: 'ifmodule', tag, line: lineNo, active: top.active && (negated ? !loaded : loaded), directives: top.directives, section: top.section });
        continue;
      }
      if ((lower === 'files' || lower === 'filesmatch') && top.kind !== 'files') {
        const regex = lower === 'filesmatch' || args[0] === '~';
        const pattern = args[0] === '~' ? (args[1] ?? '') : (args[0] ?? '');
        let match: FilesSection['match'] | null = null;
        if (regex) {
          try {
            match = { kind: 'regex', regex: new RegExp(pattern) };
          } catch (err) {
            warn({ file, line: lineNo, message: `<${tag}>: invalid regular expression ${JSON.stringify(pattern)}; block skipped` });
          }
        } else {
          match = { kind: 'wildcard', pattern };
        }
        stack.push({ kind: 'files', tag, line: lineNo, active: top.active && match !== null, directives: [], section: match === null ? null : { match, file, line: lineNo } });
        continue;
      }
      if (top.active) warn({ file, line: lineNo, message: `<${tag}> is not supported by devmount; its block is skipped` });
      stack.push({ kind: 'skip', tag, line: lineNo, active: false, directives: [], section: null });
      continue;
    }
    if (!top.active) continue;
    const space = line.search(/\s/);
    const name = space === -1 ? line : line.slice(0, space);
    const args = space === -1 ? [] : splitArgs(line.slice(space));
    top.directives.push({ name, args, file, line: lineNo });
  }
  for (const frame of stack.slice(1)) warn({ file, line: frame.line, message: `<${frame.tag}> is never closed` });
  return { file, directives: root.directives, sections };
}
