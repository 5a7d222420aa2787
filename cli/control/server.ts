/** The control socket a running mount listens on (protocol.ts). Returns a closer that also removes the socket. */
import { createServer, type Server, type Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { MAX_LINE_BYTES, type ControlReply, type ControlRequest } from './protocol.js';

export type ControlHandler = (request: ControlRequest) => Promise<ControlReply>;

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

function parseRequest(line: string): ControlRequest | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined; // not JSON: answered as a bad request by the caller
  }
  const op = (value as { op?: unknown } | null)?.op;
  if (op === 'status' || op === 'unmount') return { op };
  if (op === 'refresh') {
    const path = (value as { path?: unknown }).path;
    if (path === undefined) return { op };
    if (typeof path === 'string' && path.startsWith('/')) return { op, path };
  }
  return undefined;
}

function serve(socket: Socket, handler: ControlHandler): void {
  let buffered = '';
  const reply = (r: ControlReply) => socket.end(`${JSON.stringify(r)}\n`);
  socket.setEncoding('utf8');
  socket.on('error', () => socket.destroy()); // a client that went away: nothing to answer
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > MAX_LINE_BYTES) return reply({ ok: false, error: 'request too long' });
    const nl = buffered.indexOf('\n');
    if (nl < 0) return undefined;
    socket.removeAllListeners('data');
    const request = parseRequest(buffered.slice(0, nl));
    if (!request) return reply({ ok: false, error: 'bad request: expected {"op":"status"|"refresh"|"unmount"}' });
    handler(request).then(reply, (err: unknown) => reply({ ok: false, error: err instanceof Error ? err.message : String(err) }));
    return undefined;
  });
}

/** Listens on `path` (a stale socket file there is replaced: the caller checked no live mount owns it). */
export async function startControlServer(path: string, handler: ControlHandler): Promise<ControlServer> {
  await rm(path, { force: true });
  const server: Server = createServer((socket) => serve(socket, handler));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  // The control socket must not keep a finished daemon alive.
  server.unref();
  let closing: Promise<void> | undefined;
  return {
    path,
    close() {
      closing ??= new Promise<void>((resolve) => server.close(() => resolve())).then(() => rm(path, { force: true }));
      return closing;
    },
  };
}
