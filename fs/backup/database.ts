/**
 * The site's database in a snapshot: dumped on the server (`mysqldump --single-transaction` / `pg_dump`) over
 * an exec channel, gzip-compressed here into DATABASE_DUMP_NAME at the snapshot's root, and loaded back by
 * restore (`mysql` / `psql`). Credentials come from the site's configuration (fs/tunnel/site-config.ts) and
 * reach the server only on the channel's stdin: a shell prologue reads them into a 0600 option file
 * (`--defaults-extra-file`, removed on exit) or PGPASSWORD, so they never appear on a command line (the
 * process list) or in a log. The dump is deterministic (`--skip-dump-date`, gzip without name or time), so an
 * unchanged database gives an identical file and the snapshot hard-links the previous one.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { ClientChannel } from 'ssh2';
import type { RemoteShell } from '../bulk/types.js';
import { shellQuote } from '../shell-quote.js';
import type { RemoteFs } from '../remote/types.js';
import { detectSiteDatabase, type DbEngine, type SiteDatabase } from '../tunnel/site-config.js';

/** At the snapshot root; restore never uploads it (it is not part of the site's files). */
export const DATABASE_DUMP_NAME = '.devmount-database.sql.gz';

export type DbEngineSetting = 'auto' | DbEngine;

/** The site has no database settings devmount can read, or they name another engine than asked for. */
export class DatabaseConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseConfigError';
  }
}

/** The dump or load command failed on the server (its stderr, last lines). */
export class DatabaseCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseCommandError';
  }
}

export async function readSiteDatabase(fs: Pick<RemoteFs, 'readFile'>, setting: DbEngineSetting): Promise<SiteDatabase> {
  const database = await detectSiteDatabase(async (path) => fs.readFile(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  }));
  if (database === null) {
    throw new DatabaseConfigError('no database settings found in the site (wp-config.php with literal DB_* defines, or a Laravel .env): back up the files only, without --db');
  }
  if (setting !== 'auto' && setting !== database.engine) {
    throw new DatabaseConfigError(`--db ${setting}: the site's ${database.from} names a ${database.engine} database`);
  }
  return database;
}

/** A value in a MySQL option file: double-quoted, with the escapes my_load_defaults understands. */
function optionValue(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** The MySQL client's option file: user, password and where the server is (the site's own spelling). */
function mysqlOptionFile(db: SiteDatabase): string {
  const lines = ['[client]', `user=${optionValue(db.user)}`, `password=${optionValue(db.password)}`];
  if (db.address.kind === 'unix') lines.push(`socket=${optionValue(db.address.path)}`);
  if (db.address.kind === 'tcp') lines.push(`host=${optionValue(db.address.host)}`, `port=${db.address.port}`, 'protocol=TCP');
  return `${lines.join('\n')}\n`;
}

/**
 * The shell prologue: the first stdin line is the option file, base64-encoded (one line whatever it holds),
 * written with umask 077 to a mktemp file that the EXIT trap removes. `read` takes bytes from the pipe one
 * at a time, so what follows on stdin (a dump to load) is left for the command.
 */
const MYSQL_PROLOGUE = 'umask 077; f=$(mktemp) || exit 1; trap \'rm -f "$f"\' EXIT; IFS= read -r c; printf %s "$c" | base64 -d > "$f" || exit 1;';
const PG_PROLOGUE = 'IFS= read -r c; PGPASSWORD=$(printf %s "$c" | base64 -d); export PGPASSWORD;';

interface ServerCommand {
  readonly command: string;
  /** The first stdin line, before any data. */
  readonly secretLine: string;
}

function pgConnection(db: SiteDatabase): string {
  const host = db.address.kind === 'tcp' ? ` -h ${shellQuote(db.address.host)} -p ${db.address.port}`
    : db.address.kind === 'unix' ? ` -h ${shellQuote(db.address.path.replace(/\/\.s\.PGSQL\.\d+$/, ''))}` : '';
  return `${host} -U ${shellQuote(db.user)} -d ${shellQuote(db.name)}`;
}

export function dumpCommand(db: SiteDatabase): ServerCommand {
  if (db.engine === 'postgres') {
    return { command: `${PG_PROLOGUE} exec pg_dump --no-password --clean --if-exists${pgConnection(db)}`, secretLine: Buffer.from(db.password).toString('base64') };
  }
  // --single-transaction: a consistent InnoDB snapshot without locking the live site; --skip-dump-date: the
  // same database gives the same bytes; --no-tablespaces: needs no PROCESS privilege (MySQL 8.0.21+).
  return {
    command: `${MYSQL_PROLOGUE} mysqldump --defaults-extra-file="$f" --single-transaction --skip-dump-date --no-tablespaces ${shellQuote(db.name)}`,
    secretLine: Buffer.from(mysqlOptionFile(db)).toString('base64'),
  };
}

export function loadCommand(db: SiteDatabase): ServerCommand {
  if (db.engine === 'postgres') {
    return { command: `${PG_PROLOGUE} exec psql --no-password -q -v ON_ERROR_STOP=1${pgConnection(db)}`, secretLine: Buffer.from(db.password).toString('base64') };
  }
  return {
    command: `${MYSQL_PROLOGUE} mysql --defaults-extra-file="$f" ${shellQuote(db.name)}`,
    secretLine: Buffer.from(mysqlOptionFile(db)).toString('base64'),
  };
}

/** Waits for the channel's exit status; rejects with the command's last stderr lines on a non-zero one. */
function exitOf(channel: ClientChannel, what: string): Promise<void> {
  let stderr = '';
  channel.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString('utf8')).slice(-2000); });
  let code: number | null = null;
  channel.on('exit', (c: number | null) => { code = c; });
  return new Promise((resolve, reject) => {
    channel.once('close', () => {
      if (code === 0) resolve();
      else reject(new DatabaseCommandError(`${what} failed on the server (exit ${code ?? 'signal'}): ${stderr.trim().split('\n').slice(-3).join(' ') || 'no message'}`));
    });
  });
}

/**
 * Runs a server command with the secret line first on its stdin, `io` moving the data, and waits for both the
 * data and a zero exit status; an abort closes the channel.
 */
async function runWithSecret(shell: RemoteShell, { command, secretLine }: ServerCommand, what: string, signal: AbortSignal | undefined,
  io: (channel: ClientChannel) => Promise<void>): Promise<void> {
  const channel = await shell.execStream(command);
  const abort = () => channel.close();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    const exited = exitOf(channel, what);
    channel.write(`${secretLine}\n`);
    await Promise.all([io(channel), exited]);
  } finally {
    signal?.removeEventListener('abort', abort);
  }
}

/** Dumps the database into `file` (gzip). */
export function dumpDatabase(shell: RemoteShell, db: SiteDatabase, file: string, signal?: AbortSignal): Promise<void> {
  return runWithSecret(shell, dumpCommand(db), db.engine === 'mysql' ? 'mysqldump' : 'pg_dump', signal, (channel) => {
    channel.end();
    // gzip's header has no name and time 0 (zlib's default), so equal dumps compress to equal files.
    return pipeline(channel, createGzip({ level: 6 }), createWriteStream(file, { mode: 0o600 }));
  });
}

/** Loads a gzip dump made by dumpDatabase into the site's database. */
export function loadDatabase(shell: RemoteShell, db: SiteDatabase, file: string, signal?: AbortSignal): Promise<void> {
  return runWithSecret(shell, loadCommand(db), db.engine === 'mysql' ? 'mysql' : 'psql', signal, (channel) => {
    channel.resume(); // the client prints nothing on success; never let its stdout fill the window
    return pipeline(createReadStream(file), createGunzip(), channel);
  });
}
