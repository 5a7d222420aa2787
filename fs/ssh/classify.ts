/**
 * Socket and ssh2 errors → ConnectError kinds with one line saying what to do. No ssh2 message goes out
 * unexplained, and never a stack: the CLI maps the kind to an exit code (cli/translate-error.ts).
 */
import { ConnectError } from './types.js';

export interface Endpoint {
  readonly hostName: string;
  readonly port: number;
  /** "via jump.example.com" when the TCP connection was made by a jump host. */
  readonly via?: string | undefined;
}

type LibError = Error & { level?: string; code?: string; reason?: number };

export function classifyConnectError(err: unknown, at: Endpoint): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = (err instanceof Error ? err : new Error(String(err))) as LibError;
  const where = `${at.hostName}:${at.port}${at.via ? ` (via ${at.via})` : ''}`;
  switch (e.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
    case 'EAI_FAIL':
      return new ConnectError('dns', `cannot resolve host name ${at.hostName}: check the spelling, your ~/.ssh/config HostName, or your DNS`);
    case 'ECONNREFUSED':
      return new ConnectError('refused', `connection refused by ${where}: is sshd running and listening on port ${at.port}? (-p PORT to change)`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
      return new ConnectError('unreachable', `${where} is unreachable: check your network connection or VPN`);
    case 'ETIMEDOUT':
      return new ConnectError('timeout', `timed out connecting to ${where}: the host is down or a firewall drops the connection (-o ConnectTimeout=N to wait longer)`);
    case 'ECONNRESET':
    case 'EPIPE':
      return new ConnectError('closed', `${where} closed the connection during the SSH handshake: check that it is an SSH server and that it allows you in (MaxStartups, fail2ban, AllowUsers)`);
    default:
      break;
  }
  if (e.level === 'client-timeout') {
    return new ConnectError('timeout', `timed out waiting for the SSH handshake with ${where} (-o ConnectTimeout=N to wait longer)`);
  }
  if (e.level === 'client-authentication') {
    return new ConnectError('auth', `authentication failed at ${where}: use -o IdentityFile=KEY, ssh-agent, or --password-stdin`);
  }
  // Channel open failures from a jump host (RFC 4254 §5.1 reason codes): 1 = administratively prohibited, 2 = connect failed.
  if (e.reason === 1) {
    return new ConnectError('protocol', `jump host ${at.via ?? ''} refuses to forward connections to ${at.hostName}:${at.port}: it needs AllowTcpForwarding yes in its sshd_config`);
  }
  if (e.reason === 2) {
    if (/refused/i.test(e.message)) return new ConnectError('refused', `connection refused by ${where}: is sshd running and listening on port ${at.port}?`);
    if (/resolve|name or service|not known|getaddrinfo/i.test(e.message)) return new ConnectError('dns', `jump host ${at.via ?? ''} cannot resolve ${at.hostName}: check the name`);
    return new ConnectError('unreachable', `jump host ${at.via ?? ''} could not connect to ${at.hostName}:${at.port}: check the host and port`);
  }
  if (/no matching|handshake failed/i.test(e.message)) {
    return new ConnectError('protocol', `SSH handshake with ${where} failed: no algorithm in common (${e.message.replace(/^Handshake failed: /, '')}); the server may be very old or restricted`);
  }
  if (/identification|protocol version|bad packet length|invalid packet/i.test(e.message)) {
    return new ConnectError('protocol', `${where} does not speak SSH (${e.message}): check the port`);
  }
  return new ConnectError('protocol', `SSH connection to ${where} failed: ${e.message.split('\n')[0]}`);
}
