/**
 * Everything a served site needs from the server besides its files: its database (detected from the site's
 * configuration or given with --db) and the `-L` forwards, all carried over the site's own SSH connection.
 * Phases: read the configuration → plan each forward → check the server allows it (one clear line if not) →
 * listen locally → the php-cgi settings that make the unchanged configuration connect through it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RemoteShell } from '../bulk/types.js';
import { planDbTunnel, type DbTunnelPlan } from './db-plan.js';
import { probeForward, startForward, type Forward, type SocketCheck } from './forward.js';
import { shellQuote } from '../shell-quote.js';
import { findServerMysqlSocket } from './server-socket.js';
import { detectSiteDatabase, type DbAddress, type DbEngine, type ReadSiteFile, type SiteDatabase } from './site-config.js';
import type { LocalForwardSpec } from './spec.js';
import { ForwardError, describeLocal, describeTarget, type ClientSource, type ForwardTarget, type LocalEnd } from './types.js';

/** `auto`: from the site's configuration; `off`: no database tunnel; a target: --db. */
export type DbSetting = 'auto' | 'off' | { readonly engine: DbEngine; readonly target: ForwardTarget };

export interface SiteTunnelOptions {
  readonly db: DbSetting;
  readonly forwards: readonly LocalForwardSpec[];
}

export interface SiteTunnelDeps {
  readonly client: ClientSource;
  /** The server's shell, to find its MySQL socket; absent on SFTP-only servers. */
  readonly shell: RemoteShell | undefined;
  readonly readSiteFile: ReadSiteFile;
  /** One line for the person at the terminal (start lines, refusals). */
  readonly say: (line: string) => void;
  /** Connections that failed after start (the database went away): logged, not printed per connection. */
  readonly onForwardError: (err: ForwardError) => void;
}

export interface SiteTunnels {
  /** The site's database settings (credentials included: never log this object). */
  readonly database: SiteDatabase | null;
  /** Where the database's local end listens, when its tunnel is up. */
  readonly databaseLocal: LocalEnd | null;
  /** php-cgi `-d` arguments. */
  readonly phpArgs: readonly string[];
  readonly forwards: readonly Forward[];
  /** A private (0700) directory of this run for local files (sockets, PHP snippets); removed by close(). */
  readonly dir: string;
  close(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** The address the local end mimics: the site's own spelling when known (PHP uses it), else --db's. */
function localAddress(setting: DbSetting, database: SiteDatabase | null): DbAddress | null {
  if (database !== null) return database.address;
  if (setting === 'auto' || setting === 'off') return null;
  const t = setting.target;
  return t.kind === 'unix' ? { kind: 'unix', path: t.path } : { kind: 'tcp', host: t.host, port: t.port, portGiven: true };
}

async function planDatabase(setting: DbSetting, database: SiteDatabase | null, deps: SiteTunnelDeps, socketDir: string): Promise<DbTunnelPlan | null> {
  const address = localAddress(setting, database);
  if (setting === 'off' || address === null) return null;
  const engine = setting === 'auto' ? (database as SiteDatabase).engine : setting.engine;
  const plan = await planDbTunnel(engine, address, {
    socketDir,
    serverDefaultSocket: () => findServerMysqlSocket(deps.shell),
    portFree,
  });
  return setting === 'auto' ? plan : { ...plan, target: setting.target };
}

function socketCheck(shell: RemoteShell | undefined): SocketCheck {
  return async (path) => {
    if (shell === undefined) return undefined;
    const result = await shell.exec(`if test -S ${shellQuote(path)}; then echo socket; else echo none; fi`).catch(() => null);
    const answer = result?.stdout.toString('utf8').trim();
    return answer === 'socket' ? true : answer === 'none' ? false : undefined;
  };
}

/** Opens one forward after checking the server allows it; null (and one line) when it does not. */
async function openChecked(deps: SiteTunnelDeps, local: LocalEnd, target: ForwardTarget, what: string): Promise<Forward | null> {
  try {
    await probeForward(deps.client, target, socketCheck(deps.shell));
  } catch (err) {
    if (!(err instanceof ForwardError)) throw err;
    deps.say(`devmount serve: ${what}: ${err.message}`);
    return null;
  }
  return startForward(deps.client, local, target, { onError: deps.onForwardError });
}

/** The site's settings; a configuration file that cannot be read costs the tunnel (one line), not the start. */
async function readDatabaseSettings(deps: SiteTunnelDeps): Promise<SiteDatabase | null> {
  try {
    return await detectSiteDatabase(deps.readSiteFile);
  } catch (err) {
    deps.say(`devmount serve: no database tunnel: the site's configuration could not be read (${(err as Error).message})`);
    return null;
  }
}

export async function openSiteTunnels(options: SiteTunnelOptions, deps: SiteTunnelDeps): Promise<SiteTunnels> {
  const database = options.db === 'off' ? null : await readDatabaseSettings(deps);
  const socketDir = await mkdtemp(join(tmpdir(), 'devmount-tunnel-')); // mkdtemp makes it 0700
  const forwards: Forward[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(forwards.map((f) => f.close()));
    await rm(socketDir, { recursive: true, force: true });
  };
  try {
    const phpArgs: string[] = [];
    let databaseLocal: LocalEnd | null = null;
    const plan = await planDatabase(options.db, database, deps, socketDir);
    if (plan !== null) {
      const forward = await openChecked(deps, plan.local, plan.target, 'no database tunnel');
      if (forward !== null) {
        forwards.push(forward);
        databaseLocal = forward.local;
        for (const setting of plan.phpIni(forward.local)) phpArgs.push('-d', setting);
        const named = database !== null ? `"${database.name}" (from ${database.from})` : '';
        deps.say(`devmount serve: the site talks to the server's LIVE database ${named}: ${describeTarget(plan.target)} on the server, reached here at ${describeLocal(forward.local)}`.replace('  ', ' '));
        if (plan.caveat !== undefined) deps.say(`devmount serve: note: ${plan.caveat}`);
      }
    }
    for (const spec of options.forwards) {
      const forward = await openChecked(deps, spec.local, spec.target, `-L ${describeLocal(spec.local)}`);
      if (forward === null) continue;
      forwards.push(forward);
      deps.say(`devmount serve: forwarding ${describeLocal(forward.local)} → ${describeTarget(spec.target)} on the server`);
    }
    return { database, databaseLocal, phpArgs, forwards, dir: socketDir, close };
  } catch (err) {
    await close();
    throw err;
  }
}
