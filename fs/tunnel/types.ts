/**
 * The contract of the tunnel layer: local ends PHP (or anything else) connects to, server-side targets they are
 * forwarded to over the site's own SSH connection, and the one error a refused forward becomes.
 */
import type { Client } from 'ssh2';

/** Where a forwarded connection goes on the server: a TCP address (direct-tcpip) or a Unix socket (direct-streamlocal). */
export type ForwardTarget =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/** Where the local end listens: a loopback port (0 = any free one) or a Unix socket path. */
export type LocalEnd =
  | { readonly kind: 'tcp'; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/** The authenticated SSH client a forward opens its channels on, asked again for every connection (it may have reconnected). */
export type ClientSource = () => Promise<Client>;

/**
 * Why a channel could not be opened (RFC 4254 §5.1 reason codes): `prohibited` is the server's sshd_config
 * (AllowTcpForwarding / AllowStreamLocalForwarding / PermitOpen), `connect-failed` means nothing listens there.
 */
export type ForwardErrorKind = 'prohibited' | 'connect-failed' | 'unsupported' | 'other';

export class ForwardError extends Error {
  readonly kind: ForwardErrorKind;
  constructor(kind: ForwardErrorKind, message: string) {
    super(message);
    this.name = 'ForwardError';
    this.kind = kind;
  }
}

export function describeTarget(target: ForwardTarget): string {
  return target.kind === 'tcp' ? `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}` : target.path;
}

export function describeLocal(local: LocalEnd): string {
  return local.kind === 'tcp' ? `127.0.0.1:${local.port}` : local.path;
}
