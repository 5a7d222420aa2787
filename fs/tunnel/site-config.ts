/**
 * Reads a site's database settings from its own configuration, statically (production config is never run):
 * WordPress's `define('DB_HOST', …)` statements in wp-config.php and Laravel's `.env`. Only literal values are
 * understood; anything computed (getenv(), constants) leaves the setting unknown, and the caller asks for --db.
 */

export type DbEngine = 'mysql' | 'postgres';

/** Where the configuration says the database is, before it is mapped to a forward (see db-plan.ts). */
export type DbAddress =
  /** `localhost` for MySQL: the client library's default socket (the port is ignored by libmysql/mysqlnd). */
  | { readonly kind: 'default-socket' }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly portGiven: boolean }
  | { readonly kind: 'unix'; readonly path: string };

export interface SiteDatabase {
  readonly engine: DbEngine;
  readonly address: DbAddress;
  readonly name: string;
  readonly user: string;
  readonly password: string;
  /** WordPress's $table_prefix ('wp_' when not found). */
  readonly tablePrefix?: string;
  /** Which file said so, for the start line ("wp-config.php"). */
  readonly from: string;
}

export const DEFAULT_PORTS: Readonly<Record<DbEngine, number>> = Object.freeze({ mysql: 3306, postgres: 5432 });

/** PHP single- and double-quoted string literal bodies (the escapes a config file uses). */
function unquotePhp(quote: string, body: string): string {
  if (quote === "'") return body.replace(/\\([\\'])/g, '$1');
  return body.replace(/\\([\\"$nrt])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[c] ?? c);
}

/** Strips PHP comments so a commented-out define() is not taken (strings are kept intact). */
function stripPhpComments(source: string): string {
  return source.replace(/('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|\/\*[\s\S]*?\*\/|(?:\/\/|#)[^\n]*/g, (match, str: string | undefined) => str ?? ' ');
}

/** The literal defines of a PHP file: define('NAME', 'value') with either quote style, any spacing/case. */
export function phpDefines(source: string): Map<string, string> {
  const out = new Map<string, string>();
  const code = stripPhpComments(source);
  const re = /\bdefine\s*\(\s*(['"])([A-Za-z_][A-Za-z0-9_]*)\1\s*,\s*(?:(['"])((?:(?!\3)[^\\]|\\.)*)\3|(\d+))\s*(?:,\s*\w+\s*)?\)/gi;
  for (const m of code.matchAll(re)) {
    const name = m[2] as string;
    if (out.has(name)) continue; // PHP keeps the first definition
    out.set(name, m[5] !== undefined ? m[5] : unquotePhp(m[3] as string, m[4] as string));
  }
  return out;
}

/**
 * Whether `source` define()s constant `name` at all, whatever its value (true, a computed expression …): what a
 * caller needs that must not define it a second time (PHP warns "Constant … already defined").
 */
export function definesConstant(source: string, name: string): boolean {
  return new RegExp(`\\bdefine\\s*\\(\\s*(['"])${name}\\1\\s*,`, 'i').test(stripPhpComments(source));
}

function phpVariable(source: string, name: string): string | undefined {
  const m = new RegExp(`\\$${name}\\s*=\\s*(['"])((?:(?!\\1)[^\\\\]|\\\\.)*)\\1\\s*;`).exec(stripPhpComments(source));
  return m ? unquotePhp(m[1] as string, m[2] as string) : undefined;
}

/**
 * WordPress's DB_HOST spellings, as wpdb::parse_db_host reads them: `host`, `host:port`, `host:/socket`,
 * `host:port:/socket`, `[v6]:port`. For MySQL, `localhost` means the socket whatever port is given.
 */
export function parseWordPressHost(value: string): DbAddress {
  let rest = value.trim();
  let socket: string | undefined;
  const slash = rest.indexOf(':/');
  if (slash >= 0) {
    socket = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }
  let host = rest;
  let port: number | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest);
  if (v6) {
    host = v6[1] as string;
    if (v6[2] !== undefined) port = Number(v6[2]);
  } else if (/^[^:]+:\d+$/.test(rest)) {
    host = rest.slice(0, rest.indexOf(':'));
    port = Number(rest.slice(rest.indexOf(':') + 1));
  }
  if (socket !== undefined) return { kind: 'unix', path: socket };
  if (host === '' || host.toLowerCase() === 'localhost') return { kind: 'default-socket' };
  return { kind: 'tcp', host, port: port ?? DEFAULT_PORTS.mysql, portGiven: port !== undefined };
}

export function wordpressDatabase(source: string): SiteDatabase | null {
  const defines = phpDefines(source);
  const host = defines.get('DB_HOST');
  const name = defines.get('DB_NAME');
  if (host === undefined || name === undefined) return null;
  return Object.freeze({
    engine: 'mysql',
    address: parseWordPressHost(host),
    name,
    user: defines.get('DB_USER') ?? '',
    password: defines.get('DB_PASSWORD') ?? '',
    tablePrefix: phpVariable(source, 'table_prefix') ?? 'wp_',
    from: 'wp-config.php',
  });
}

/** A dotenv file as Laravel (vlucas/phpdotenv) reads the simple cases: KEY=value, quoted values, # comments. */
export function parseDotenv(source: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of source.split(/\r?\n/)) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$/.exec(raw);
    if (!m) continue;
    let value = (m[2] as string).trim();
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[1] === '"' ? (quoted[2] as string).replace(/\\(["\\])/g, '$1').replace(/\\n/g, '\n') : quoted[2] as string;
    else value = value.replace(/\s+#.*$/, '');
    out.set(m[1] as string, value);
  }
  return out;
}

const LARAVEL_ENGINES: Readonly<Record<string, DbEngine>> = Object.freeze({ mysql: 'mysql', mariadb: 'mysql', pgsql: 'postgres' });

export function laravelDatabase(source: string): SiteDatabase | null {
  const env = parseDotenv(source);
  const engine = LARAVEL_ENGINES[env.get('DB_CONNECTION') ?? ''];
  if (engine === undefined) return null; // sqlite, or no database
  const socket = env.get('DB_SOCKET') ?? '';
  const host = env.get('DB_HOST') ?? '127.0.0.1';
  const portText = env.get('DB_PORT') ?? '';
  const port = /^\d+$/.test(portText) ? Number(portText) : DEFAULT_PORTS[engine];
  let address: DbAddress;
  if (socket !== '') address = { kind: 'unix', path: socket };
  else if (engine === 'mysql' && host.toLowerCase() === 'localhost') address = { kind: 'default-socket' };
  // Laravel always passes the port (config/database.php defaults DB_PORT), so the local end needs that port.
  else address = { kind: 'tcp', host, port, portGiven: true };
  return Object.freeze({
    engine,
    address,
    name: env.get('DB_DATABASE') ?? '',
    user: env.get('DB_USERNAME') ?? '',
    password: env.get('DB_PASSWORD') ?? '',
    from: '.env',
  });
}

/** Reads a site-relative file, or null when it does not exist. */
export type ReadSiteFile = (path: string) => Promise<Buffer | null>;

/**
 * The site's database, from the first configuration found in the served root: wp-config.php, then .env.
 * (WordPress also accepts wp-config.php one directory up; that directory is outside what devmount serves.)
 */
export async function detectSiteDatabase(read: ReadSiteFile): Promise<SiteDatabase | null> {
  const wpConfig = await read('/wp-config.php');
  if (wpConfig !== null) return wordpressDatabase(wpConfig.toString('utf8'));
  const env = await read('/.env');
  return env === null ? null : laravelDatabase(env.toString('utf8'));
}
