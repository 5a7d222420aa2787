/**
 * The spellings of a forward on the command line: ssh(1)'s `-L` forms (`[127.0.0.1:]port:host:hostport`,
 * `port:/remote.sock`, `/local.sock:host:hostport`, `/local.sock:/remote.sock`) and `--db HOST:PORT|SOCKET`.
 * Pure parsers; a bad spelling throws a TunnelSpecError with the accepted forms.
 */
import type { ForwardTarget, LocalEnd } from './types.js';

export class TunnelSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TunnelSpecError';
  }
}

export interface LocalForwardSpec {
  readonly local: LocalEnd;
  readonly target: ForwardTarget;
}

const LOOPBACK_BINDS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/** Splits on colons outside [brackets], so `[::1]:5432` is two fields. */
function fields(spec: string): string[] {
  const out: string[] = [];
  let current = '';
  let depth = 0;
  for (const ch of spec) {
    if (ch === '[') depth += 1;
    if (ch === ']') depth -= 1;
    if (ch === ':' && depth === 0) {
      out.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  out.push(current);
  return out;
}

function isPath(field: string): boolean {
  return field.startsWith('/');
}

function port(field: string, what: string, allowZero: boolean): number {
  const n = Number(field);
  if (!/^\d+$/.test(field) || n > 65535 || (n === 0 && !allowZero)) throw new TunnelSpecError(`${what} "${field}" is not a port number (1-65535)`);
  return n;
}

function host(field: string): string {
  const h = field.startsWith('[') && field.endsWith(']') ? field.slice(1, -1) : field;
  if (h === '' || /[\s/]/.test(h)) throw new TunnelSpecError(`"${field}" is not a host name or address`);
  return h;
}

const L_FORMS = 'use PORT:HOST:HOSTPORT, PORT:/remote.sock, /local.sock:HOST:HOSTPORT or /local.sock:/remote.sock (as ssh -L)';

export function parseLocalForward(spec: string): LocalForwardSpec {
  try {
    let parts = fields(spec);
    // An explicit bind address: only loopback, because the forwarded service is the server's private one.
    if (parts.length === 4 || (parts.length === 3 && isPath(parts[2] as string) && !isPath(parts[0] as string) && !/^\d+$/.test(parts[0] as string))) {
      const bind = parts[0] as string;
      if (!LOOPBACK_BINDS.has(bind)) throw new TunnelSpecError(`-L binds to loopback only, not "${bind}"`);
      parts = parts.slice(1);
    }
    const [first, second, third] = parts as [string, string | undefined, string | undefined];
    const local: LocalEnd = isPath(first) ? { kind: 'unix', path: first } : { kind: 'tcp', port: port(first, 'local port', false) };
    if (parts.length === 2 && second !== undefined && isPath(second)) return Object.freeze({ local, target: { kind: 'unix' as const, path: second } });
    if (parts.length === 3 && second !== undefined && third !== undefined) {
      return Object.freeze({ local, target: { kind: 'tcp' as const, host: host(second), port: port(third, 'server port', false) } });
    }
    throw new TunnelSpecError('wrong number of fields');
  } catch (err) {
    throw new TunnelSpecError(`-L ${spec}: ${(err as Error).message}; ${L_FORMS}`);
  }
}

/** `--db`: `HOST:PORT`, `HOST` (the engine's default port) or `/path/to.sock` on the server. */
export function parseDbTarget(spec: string, defaultPort: number): ForwardTarget {
  try {
    if (isPath(spec)) return Object.freeze({ kind: 'unix', path: spec });
    const parts = fields(spec);
    if (parts.length === 1) return Object.freeze({ kind: 'tcp', host: host(parts[0] as string), port: defaultPort });
    if (parts.length === 2) return Object.freeze({ kind: 'tcp', host: host(parts[0] as string), port: port(parts[1] as string, 'port', false) });
    throw new TunnelSpecError('too many colons');
  } catch (err) {
    throw new TunnelSpecError(`--db ${spec}: ${(err as Error).message}; use HOST:PORT or /path/to/the/server.sock`);
  }
}
