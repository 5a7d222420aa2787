/**
 * Opens one forwarding channel on an SSH connection: `direct-tcpip` (RFC 4254 §7.2) for a TCP target,
 * `direct-streamlocal@openssh.com` (OpenSSH PROTOCOL §2.4) for a Unix socket. A refusal becomes a ForwardError
 * whose message names the sshd_config keyword that forbids it.
 */
import type { ClientChannel } from 'ssh2';
import { ForwardError, describeTarget, type ForwardTarget } from './types.js';

/** SSH_MSG_CHANNEL_OPEN_FAILURE reason codes (RFC 4254 §5.1). */
const OPEN_FAILURE = Object.freeze({ administrativelyProhibited: 1, connectFailed: 2, unknownChannelType: 3 });

type OpenFailure = Error & { reason?: number | string };

function nothingListens(where: string): ForwardError {
  return new ForwardError('connect-failed', `nothing accepts connections at ${where} on the server: check the address (for the database: its host or socket in the site's configuration, or --db)`);
}

/** The one place a channel-open failure is translated. */
export function translateOpenFailure(err: OpenFailure, target: ForwardTarget): ForwardError {
  const where = describeTarget(target);
  if (err.reason === OPEN_FAILURE.administrativelyProhibited) {
    const keyword = target.kind === 'tcp' ? 'AllowTcpForwarding' : 'AllowStreamLocalForwarding';
    return new ForwardError('prohibited', `the server does not allow forwarding to ${where} (sshd_config ${keyword} no, or PermitOpen): ask the host to allow it for your user, or run the site against a local database`);
  }
  if (err.reason === OPEN_FAILURE.connectFailed) {
    return nothingListens(where);
  }
  if (err.reason === OPEN_FAILURE.unknownChannelType) {
    return new ForwardError('unsupported', `the server does not support forwarding to ${where} (${target.kind === 'unix' ? 'Unix-socket forwarding needs OpenSSH 6.7 or later' : 'no direct-tcpip channels'})`);
  }
  return new ForwardError('other', `forwarding to ${where} failed: ${err.message}`);
}

/**
 * OpenSSH answers every refused direct-streamlocal open with reason 2 "open failed", whether
 * AllowStreamLocalForwarding forbids it or nothing listens at the path (serverloop.c
 * server_request_direct_streamlocal). What the server says about the path tells the two apart:
 * a socket that exists was refused by configuration.
 */
export function refineStreamLocalFailure(target: ForwardTarget & { kind: 'unix' }, socketExists: boolean | undefined): ForwardError {
  if (socketExists === true) {
    return new ForwardError('prohibited', `the server does not allow forwarding to ${target.path} (sshd_config AllowStreamLocalForwarding no, DisableForwarding, or the socket's permissions): ask the host to allow it for your user, or run the site against a local database`);
  }
  if (socketExists === false) {
    return nothingListens(target.path);
  }
  return new ForwardError('other', `the server refused forwarding to ${target.path}: nothing listens there, or sshd_config AllowStreamLocalForwarding is no`);
}

export function openChannel(client: import('ssh2').Client, target: ForwardTarget): Promise<ClientChannel> {
  return new Promise<ClientChannel>((resolve, reject) => {
    const done = (err: Error | undefined, channel: ClientChannel) => {
      if (err) reject(translateOpenFailure(err, target));
      else resolve(channel);
    };
    try {
      if (target.kind === 'tcp') {
        // The originator address is informational (RFC 4254 §7.2); sshd logs it.
        client.forwardOut('127.0.0.1', 0, target.host, target.port, done);
      } else {
        client.openssh_forwardOutStreamLocal(target.path, done);
      }
    } catch (err) {
      // ssh2 throws synchronously when the connection is no longer writable.
      reject(new ForwardError('other', `forwarding to ${describeTarget(target)} failed: ${(err as Error).message}`));
    }
  });
}
