/**
 * The byte stream an SSH connection runs over: a TCP socket we open ourselves (so DNS, refusal and the
 * connect timeout are told apart before ssh2 is involved), or a `direct-tcpip` channel through a jump host
 * (ssh -J; RFC 4254 §7.2), which ssh2 accepts as `sock`.
 */
import { connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client } from 'ssh2';
import { classifyConnectError } from './classify.js';
import { ConnectError, type ResolvedSshOptions } from './types.js';

/** RFC 6761 §6.4: resolvers SHOULD answer names under `.invalid` negatively at once; some do not, so we do. */
function isInvalidName(host: string): boolean {
  return /(^|\.)invalid\.?$/i.test(host);
}

export function openTcp(options: ResolvedSshOptions, signal: AbortSignal): Promise<Duplex> {
  if (isInvalidName(options.hostName)) {
    return Promise.reject(classifyConnectError(Object.assign(new Error('invalid name'), { code: 'ENOTFOUND' }), options));
  }
  return new Promise<Duplex>((resolve, reject) => {
    // TCP_NODELAY, as ssh(1) sets for interactive sessions (packet_set_interactive → set_nodelay): with Nagle on,
    // each small SFTP request waits for the previous one's ACK, ~1 extra RTT per request (measured for backup).
    const socket = tcpConnect({ host: options.hostName, port: options.port, noDelay: true });
    const onAbort = () => {
      socket.destroy();
      reject(signal.reason instanceof ConnectError ? signal.reason : new ConnectError('timeout', `timed out connecting to ${options.hostName}:${options.port}`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(classifyConnectError(err, options));
    });
  });
}

export function openThroughJump(jump: Client, jumpName: string, options: ResolvedSshOptions, signal: AbortSignal): Promise<Duplex> {
  const endpoint = { hostName: options.hostName, port: options.port, via: jumpName };
  return new Promise<Duplex>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof ConnectError ? signal.reason : new ConnectError('timeout', `timed out connecting to ${options.hostName}:${options.port} via ${jumpName}`));
    signal.addEventListener('abort', onAbort, { once: true });
    // The originator address is informational for the jump host's sshd (RFC 4254 §7.2); ssh -J sends 127.0.0.1:0 too.
    jump.forwardOut('127.0.0.1', 0, options.hostName, options.port, (err, channel) => {
      signal.removeEventListener('abort', onAbort);
      if (signal.aborted) {
        channel?.close();
        return;
      }
      if (err) reject(classifyConnectError(err, endpoint));
      else resolve(channel);
    });
  });
}
