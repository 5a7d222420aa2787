/**
 * The byte stream an SSH connection runs over: a TCP socket we open ourselves (so DNS, refusal and the
 * connect timeout are told apart before ssh2 is involved), or a `direct-tcpip` channel through a jump host
 * (ssh -J; RFC 4254 §7.2), which ssh2 accepts as `sock`.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Client } from 'ssh2';
import { classifyConnectError } from './classify.js';
import { InboundFramer } from './inbound-framer.js';
import { ConnectError, type ResolvedSshOptions } from './types.js';

export interface Transport {
  readonly stream: Duplex;
  /** On a TCP socket: reads into one reused buffer and hands ssh2 whole packets (inbound-framer.ts). */
  readonly inbound: InboundFramer | undefined;
}

/**
 * ssh2 reads the socket through its 'data' listener. With `onread` Node emits no 'data' of its own, so the
 * framer's chunks are emitted here; ssh2 pauses the socket until its listener is in place, and a chunk with
 * nobody to take it would be bytes of the stream lost, so that ends the connection instead.
 */
function emitData(socket: Socket, chunk: Buffer): void {
  if (socket.listenerCount('data') === 0) {
    socket.destroy(new Error('SSH data arrived before the SSH client was listening'));
    return;
  }
  socket.emit('data', chunk);
}

/** RFC 6761 §6.4: resolvers SHOULD answer names under `.invalid` negatively at once; some do not, so we do. */
function isInvalidName(host: string): boolean {
  return /(^|\.)invalid\.?$/i.test(host);
}

export function openTcp(options: ResolvedSshOptions, signal: AbortSignal): Promise<Transport> {
  if (isInvalidName(options.hostName)) {
    return Promise.reject(classifyConnectError(Object.assign(new Error('invalid name'), { code: 'ENOTFOUND' }), options));
  }
  return new Promise<Transport>((resolve, reject) => {
    // The framer needs the socket to deliver to, the socket needs the framer's buffer: both exist before any read.
    const inbound: InboundFramer = new InboundFramer((chunk) => emitData(socket, chunk));
    // TCP_NODELAY, as ssh(1) sets for interactive sessions (packet_set_interactive → set_nodelay): with Nagle on,
    // each small SFTP request waits for the previous one's ACK, ~1 extra RTT per request (measured for backup).
    const socket = tcpConnect({
      host: options.hostName,
      port: options.port,
      noDelay: true,
      onread: {
        buffer: () => inbound.readBuffer(),
        callback: (n) => {
          inbound.onRead(n);
          return true;
        },
      },
    });
    const onAbort = () => {
      socket.destroy();
      reject(signal.reason instanceof ConnectError ? signal.reason : new ConnectError('timeout', `timed out connecting to ${options.hostName}:${options.port}`));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      // No read before ssh2 listens (it resumes the socket once its 'data' listener is in place): the server
      // speaks first, and with `onread` nothing would buffer its greeting meanwhile.
      socket.pause();
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      resolve({ stream: socket, inbound });
    });
    socket.once('error', (err) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(classifyConnectError(err, options));
    });
  });
}

export function openThroughJump(jump: Client, jumpName: string, options: ResolvedSshOptions, signal: AbortSignal): Promise<Transport> {
  const endpoint = { hostName: options.hostName, port: options.port, via: jumpName };
  return new Promise<Transport>((resolve, reject) => {
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
      else resolve({ stream: channel, inbound: undefined });
    });
  });
}
