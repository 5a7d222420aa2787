/**
 * The remote argument as sshfs and scp spell it: `[user@]host:[path]`, with IPv6 literals in brackets
 * (`user@[::1]:/var/www`). An empty path means the login directory, as in sshfs (`host:`).
 */

export interface RemoteSpec {
  readonly user?: string;
  readonly host: string;
  /** '' = the remote user's home directory. */
  readonly path: string;
}

export class RemoteSpecError extends Error {
  constructor(spec: string, why: string) {
    super(`invalid remote "${spec}": ${why}; expected [user@]host:[path], e.g. deploy@example.com:/var/www (IPv6: user@[::1]:/path)`);
    this.name = 'RemoteSpecError';
  }
}

// user@[v6]:path — the user part cannot contain '[' so the bracket starts the host.
const BRACKETED = /^(?:([^[]*)@)?\[([^\]]*)\]:(.*)$/s;

export function parseRemoteSpec(spec: string): RemoteSpec {
  const bracketed = BRACKETED.exec(spec);
  let user: string | undefined;
  let host: string;
  let path: string;
  if (bracketed) {
    user = bracketed[1];
    host = bracketed[2] ?? '';
    path = bracketed[3] ?? '';
    if (!/^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(host) || !host.includes(':')) {
      throw new RemoteSpecError(spec, `"[${host}]" is not an IPv6 address`);
    }
  } else {
    const colon = spec.indexOf(':');
    if (colon < 0) throw new RemoteSpecError(spec, 'no ":" after the host');
    const left = spec.slice(0, colon);
    path = spec.slice(colon + 1);
    // The last '@' separates user from host, as in ssh(1): a user name may itself contain '@'.
    const at = left.lastIndexOf('@');
    user = at >= 0 ? left.slice(0, at) : undefined;
    host = at >= 0 ? left.slice(at + 1) : left;
    if (host === '') throw new RemoteSpecError(spec, 'the host is empty (IPv6 addresses go in brackets)');
    if (host.includes('/')) throw new RemoteSpecError(spec, `"${host}" looks like a local path, not a host`);
    if (/[\s[\]]/.test(host)) throw new RemoteSpecError(spec, `"${host}" is not a valid host name`);
  }
  if (host.startsWith('-')) throw new RemoteSpecError(spec, 'a host cannot start with "-"');
  if (user !== undefined) {
    if (user === '') throw new RemoteSpecError(spec, 'the user before "@" is empty');
    if (/[\s:/]/.test(user) || user.startsWith('-')) throw new RemoteSpecError(spec, `"${user}" is not a valid user name`);
  }
  if (path.includes('\0')) throw new RemoteSpecError(spec, 'the path contains a NUL byte');
  return Object.freeze(user === undefined ? { host, path } : { user, host, path });
}
