/** Sends one control request to a mount's socket and returns its reply. */
import { connect } from 'node:net';
import { MAX_LINE_BYTES, type ControlReply, type ControlRequest } from './protocol.js';

/** The socket exists but nobody listens (the daemon died): the caller may remove it. */
export class StaleSocketError extends Error {
  constructor(path: string) {
    super(`no devmount process listens on ${path}`);
    this.name = 'StaleSocketError';
  }
}

export async function sendControlRequest(socketPath: string, request: ControlRequest, timeoutMs = 10_000): Promise<ControlReply> {
  return new Promise<ControlReply>((resolve, reject) => {
    const socket = connect(socketPath);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from the mount's control socket ${socketPath} within ${timeoutMs / 1000} s`));
    }, timeoutMs);
    const finish = (fn: () => void) => {
      clearTimeout(timer);
      socket.destroy();
      fn();
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE_BYTES) return finish(() => reject(new Error('control reply too long')));
      const nl = buffered.indexOf('\n');
      if (nl < 0) return undefined;
      const line = buffered.slice(0, nl);
      return finish(() => {
        try {
          resolve(JSON.parse(line) as ControlReply);
        } catch {
          reject(new Error(`unreadable control reply from ${socketPath}`));
        }
      });
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const stale = err.code === 'ECONNREFUSED' || err.code === 'ENOENT';
      finish(() => reject(stale ? new StaleSocketError(socketPath) : err));
    });
    socket.on('end', () => finish(() => reject(new Error(`the mount closed its control socket ${socketPath} without answering`))));
  });
}
