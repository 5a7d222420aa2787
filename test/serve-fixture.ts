/**
 * Shared by the serve-* and browser-* suites: a fixture site with awkward names, a dev server over it, and a
 * raw HTTP client (fetch would normalise '..', '%2e' and '#' away before they reach the server).
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { createDevServer, type DevServer, type DevServerOptions } from '../devserver/server.js';
import { LocalFileSource, type LocalSourceOptions } from '../devserver/sources/local.js';

export const BIG_TEXT = 'body { color: red; }\n'.repeat(400); // 8 KiB of CSS: above the compression threshold

export interface Fixture {
  readonly base: string;
  /** The served directory. */
  readonly root: string;
  cleanup(): Promise<void>;
}

export async function makeFixture(): Promise<Fixture> {
  const base = await mkdtemp(path.join(tmpdir(), 'devmount-serve-'));
  const root = path.join(base, 'site');
  const files: Record<string, string> = {
    'index.html': '<!doctype html><html><head><title>home</title></head><body><h1>home</h1></body></html>\n',
    'fragment.html': '<p>no body tag</p>\n',
    'with space.txt': 'space\n',
    'fünke.txt': 'unicode\n',
    'hash#name.txt': 'hash\n',
    '100%.txt': 'percent\n',
    '%2e%2e': 'literal dots name\n',
    'hello.txt': 'hello world\n',
    'style.css': BIG_TEXT,
    'app.js': `console.log(${JSON.stringify('x'.repeat(2000))});\n`,
    'app.js.gz': 'PRECOMPRESSED-GZ-MARKER',
    'data.json': '{"a":1}\n',
    'sub/index.html': '<html><body>sub index</body></html>',
    'dir with space/index.htm': '<html><body>htm index</body></html>',
    'list/<img src=x onerror=alert(1)>.txt': 'xss\n',
    'list/b.txt': 'bbbb\n',
    'list/a.txt': 'a\n',
    'list/zdir/x.txt': 'x\n',
    'list/.hidden': 'hidden\n',
    '.env': 'SECRET=1\n',
    '.htpasswd': 'user:hash\n',
    '.git/config': '[core]\n',
    'blog/.htaccess': 'Deny from all\n',
    'blog/post.html': '<html><body>post</body></html>',
    '.well-known/security.txt': 'Contact: mailto:x@example.com\n',
  };
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
  }
  await writeFile(path.join(base, 'outside-secret.txt'), 'OUTSIDE\n');
  await symlink(path.join(base, 'outside-secret.txt'), path.join(root, 'escape-link.txt'));
  await symlink(path.join(root, 'hello.txt'), path.join(root, 'inside-link.txt'));
  await symlink(path.join(root, '.env'), path.join(root, 'env-link.txt'));
  return { base, root, cleanup: () => rm(base, { recursive: true, force: true }) };
}

/** A pino logger collecting records in memory, for asserting log lines. */
export function memoryLogger(): { logger: Logger; records: Record<string, unknown>[] } {
  const records: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, sink), records };
}

export async function startServer(root: string, options: Partial<DevServerOptions> = {},
  sourceOptions: LocalSourceOptions = { watch: 'auto' }): Promise<DevServer> {
  const source = await LocalFileSource.open(root, sourceOptions);
  return createDevServer({ source, logger: memoryLogger().logger, port: 0, ...options });
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  readonly text: string;
}

/** Sends exactly `target` on the request line; Connection: close, response read to the end. */
export function rawRequest(port: number, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<RawResponse> {
  return rawExchange(port, `${method} ${target} HTTP/1.1\r\n${Object.entries({ Host: `127.0.0.1:${port}`, ...headers })
    .map(([k, v]) => `${k}: ${v}\r\n`).join('')}Connection: close\r\n\r\n`);
}

export function rawExchange(port: number, bytes: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('raw request timed out')));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => {
      const all = Buffer.concat(chunks);
      const split = all.indexOf('\r\n\r\n');
      if (split === -1) {
        reject(new Error(`no HTTP response: ${JSON.stringify(all.toString())}`));
        return;
      }
      const [statusLine, ...lines] = all.subarray(0, split).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let body: Buffer = all.subarray(split + 4);
      if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body, text: body.toString() });
    });
    socket.write(bytes);
  });
}

function dechunk(data: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (let guard = 0; guard < 100_000 && at < data.length; guard++) {
    const eol = data.indexOf('\r\n', at);
    const size = parseInt(data.subarray(at, eol).toString(), 16);
    if (!size) break;
    out.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(out);
}

/** A port free on 127.0.0.1 right now (a server started next may take it). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as { port: number };
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
