/**
 * Maps the site's database address to a forward and to the PHP settings that make the unchanged configuration
 * reach it: `localhost` (MySQL's default socket) → the server's socket, forwarded to a local socket that
 * mysqli.default_socket / pdo_mysql.default_socket name; `127.0.0.1` → a local port that mysqli.default_port
 * names; an explicit port or socket path → the same port/path here when it is free.
 */
import { access, constants, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DbAddress, DbEngine } from './site-config.js';
import type { ForwardTarget, LocalEnd } from './types.js';

export interface DbTunnelPlan {
  readonly target: ForwardTarget;
  readonly local: LocalEnd;
  /** `-d name=value` settings for php-cgi; a bound port of 0 is filled in by phpIniFor() once known. */
  readonly phpIni: (bound: LocalEnd) => readonly string[];
  /** When PHP will not find the local end by itself (an address it opens directly that is taken here). */
  readonly caveat?: string;
}

export interface PlanContext {
  /** A private (0700) directory for local sockets. */
  readonly socketDir: string;
  /** The server's default MySQL socket (asked only for `localhost`). */
  readonly serverDefaultSocket: () => Promise<string>;
  /** Whether 127.0.0.1:port can be bound here (an explicit port is kept when it can). */
  readonly portFree: (port: number) => Promise<boolean>;
}

const LOOPBACK_NAMES = new Set(['127.0.0.1', '::1', 'localhost']);

function mysqlSocketIni(bound: LocalEnd): string[] {
  return bound.kind === 'unix' ? [`mysqli.default_socket=${bound.path}`, `pdo_mysql.default_socket=${bound.path}`] : [];
}

function portIni(engine: DbEngine, bound: LocalEnd): string[] {
  return engine === 'mysql' && bound.kind === 'tcp' ? [`mysqli.default_port=${bound.port}`] : [];
}

/** A socket path can be recreated here when nothing is at it and its directory is ours to write. */
async function pathFree(path: string): Promise<boolean> {
  const taken = await stat(path).then(() => true, () => false);
  if (taken) return false;
  return access(dirname(path), constants.W_OK).then(() => true, () => false);
}

export async function planDbTunnel(engine: DbEngine, address: DbAddress, ctx: PlanContext): Promise<DbTunnelPlan> {
  const localSocket = join(ctx.socketDir, engine === 'mysql' ? 'mysqld.sock' : '.s.PGSQL.5432');
  if (address.kind === 'default-socket') {
    return { target: { kind: 'unix', path: await ctx.serverDefaultSocket() }, local: { kind: 'unix', path: localSocket }, phpIni: mysqlSocketIni };
  }
  if (address.kind === 'unix') {
    if (await pathFree(address.path)) {
      return { target: address, local: { kind: 'unix', path: address.path }, phpIni: mysqlSocketIni };
    }
    return {
      target: address,
      local: { kind: 'unix', path: localSocket },
      phpIni: mysqlSocketIni,
      caveat: `the site names the socket ${address.path}, which exists or cannot be created here: PHP's default socket points at the tunnel (${localSocket}); a configuration that passes the path itself reaches ${address.path} on this machine instead`,
    };
  }
  const target: ForwardTarget = { kind: 'tcp', host: address.host, port: address.port };
  const loopback = LOOPBACK_NAMES.has(address.host.toLowerCase());
  if (!address.portGiven && loopback) {
    return { target, local: { kind: 'tcp', port: 0 }, phpIni: (bound) => portIni(engine, bound) };
  }
  const samePort = await ctx.portFree(address.port);
  const caveats: string[] = [];
  if (!loopback) caveats.push(`the site names the database host ${address.host}, which PHP here connects to directly; point it at 127.0.0.1 for local runs (the tunnel listens there)`);
  if (!samePort) caveats.push(`port ${address.port} is in use on this machine, so the tunnel listens on another port (see above) that the site's configuration does not name`);
  return {
    target,
    local: { kind: 'tcp', port: samePort ? address.port : 0 },
    phpIni: (bound) => portIni(engine, bound),
    ...(caveats.length > 0 ? { caveat: caveats.join('; ') } : {}),
  };
}
