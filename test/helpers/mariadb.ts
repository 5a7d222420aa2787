/**
 * A throwaway MariaDB server (Debian mariadb-server) for the application tests: a fresh data directory made by
 * mariadb-install-db, one mariadbd started as root (`--user=root`) with `--no-defaults` so /etc/mysql is never
 * read, one database and one user with a password (real grants, no --skip-grant-tables). Optionally runs inside a
 * network namespace (`ip netns exec NAME`), where its Unix socket is still reachable: sockets bound to a path live
 * in the file system, not in the network namespace (unix(7)).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';
const CLIENT = '/usr/bin/mariadb';

export async function mariadbAvailable(): Promise<boolean> {
  return access(MARIADBD).then(() => access(INSTALL_DB)).then(() => access(CLIENT)).then(() => true, () => false);
}

export interface MariaDbOptions {
  /** TCP listener: `{ host: '127.0.0.1', port: 0 }` picks a free port. `'socket-only'` passes --skip-networking. */
  readonly listen?: { readonly host: string; readonly port?: number } | 'socket-only';
  /** Run mariadbd under `ip netns exec NAME` (the namespace must exist). */
  readonly netns?: string;
  readonly database?: string;
  readonly user?: string;
  readonly password?: string;
}

export interface MariaDb {
  /** The server's Unix socket; the root account (no password) and the user both reach it. */
  readonly socket: string;
  /** The TCP port, or undefined with 'socket-only'. */
  readonly port: number | undefined;
  readonly host: string | undefined;
  readonly database: string;
  readonly user: string;
  readonly password: string;
  /** Runs SQL as root through the socket and returns the tab-separated rows (no header). */
  query(sql: string): Promise<string[][]>;
  close(): Promise<void>;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

interface Exit { readonly code: number | null; readonly stdout: string; readonly stderr: string }

function run(command: string, args: readonly string[], input?: string): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8'); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    // A client that exits before reading its input (it could not connect) makes the write fail with EPIPE: its exit
    // code and stderr say why, so the failed write is noted there rather than thrown as an uncaught error.
    child.stdin.on('error', (err) => { stderr += `(input not written: ${err.message})\n`; });
    child.stdin.end(input ?? '');
  });
}

/** SQL string literal, quoted for MariaDB (backslash and quote escaped). */
export function sqlString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export async function startMariaDb(options: MariaDbOptions = {}): Promise<MariaDb> {
  const base = await mkdtemp(path.join(tmpdir(), 'devmount-mariadb-'));
  const datadir = path.join(base, 'data');
  const socket = path.join(base, 'mysqld.sock');
  const errorLog = path.join(base, 'error.log');
  const database = options.database ?? 'devmount';
  const user = options.user ?? 'devmount';
  const password = options.password ?? 'devmount-test-password';
  const listen = options.listen ?? 'socket-only';

  const installed = await run(INSTALL_DB, ['--no-defaults', `--datadir=${datadir}`, '--auth-root-authentication-method=normal',
    '--skip-test-db', '--user=root']);
  if (installed.code !== 0) {
    await rm(base, { recursive: true, force: true });
    throw new Error(`mariadb-install-db failed: ${installed.stdout}${installed.stderr}`);
  }

  const host = listen === 'socket-only' ? undefined : listen.host;
  const port = listen === 'socket-only' ? undefined : listen.port !== undefined && listen.port !== 0 ? listen.port
    : await freePort(listen.host);
  const network = listen === 'socket-only' ? ['--skip-networking'] : [`--bind-address=${host}`, `--port=${port}`];
  const serverArgs = ['--no-defaults', `--datadir=${datadir}`, `--socket=${socket}`, `--pid-file=${base}/mysqld.pid`,
    `--tmpdir=${base}`, `--log-error=${errorLog}`, '--user=root', '--skip-name-resolve', '--skip-log-bin',
    // A test database: small, and no fsync per commit.
    '--innodb-buffer-pool-size=32M', '--innodb-flush-log-at-trx-commit=0', '--innodb-doublewrite=0', ...network];
  const [command, args] = options.netns === undefined ? [MARIADBD, serverArgs]
    : ['/usr/sbin/ip', ['netns', 'exec', options.netns, MARIADBD, ...serverArgs]];
  const child: ChildProcess = spawn(command, args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const rootSql = async (sql: string): Promise<Exit> =>
    run(CLIENT, ['--no-defaults', `--socket=${socket}`, '-uroot', '--batch', '--skip-column-names'], sql);

  const close = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      // mariadbd shuts down cleanly on SIGTERM within a second or two; a wedged one is killed.
      const stopped = await Promise.race([exited.then(() => true), delay(15_000).then(() => false)]);
      if (!stopped) child.kill('SIGKILL');
    }
    await exited;
    await rm(base, { recursive: true, force: true });
  };

  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null || attempt >= 200) {
      const log = await readFile(errorLog, 'utf8').catch(() => '');
      await close();
      throw new Error(`mariadbd did not start: ${log}`);
    }
    const probe = await rootSql('SELECT 1;');
    if (probe.code === 0) break;
    await delay(100);
  }

  const quotedUser = sqlString(user);
  const setup = await rootSql([
    `CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4;`,
    // '%' for TCP clients (names are not resolved), 'localhost' for the socket.
    `CREATE USER ${quotedUser}@'%' IDENTIFIED BY ${sqlString(password)};`,
    `CREATE USER ${quotedUser}@'localhost' IDENTIFIED BY ${sqlString(password)};`,
    `GRANT ALL ON \`${database}\`.* TO ${quotedUser}@'%';`,
    `GRANT ALL ON \`${database}\`.* TO ${quotedUser}@'localhost';`,
  ].join('\n'));
  if (setup.code !== 0) {
    await close();
    throw new Error(`creating the test database failed: ${setup.stderr}`);
  }

  return {
    socket, port, host, database, user, password,
    async query(sql: string): Promise<string[][]> {
      const result = await rootSql(sql);
      if (result.code !== 0) throw new Error(`SQL failed: ${result.stderr}`);
      return result.stdout.split('\n').filter((line) => line !== '').map((line) => line.split('\t'));
    },
    close,
  };
}
