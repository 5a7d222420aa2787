import { createHash } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { connect, createServer as createNetServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProxySpec, ProxySpecError } from '../devserver/proxy/routes.js';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';

/** RFC 6455 §4.2.2: Sec-WebSocket-Accept = base64(SHA-1(key + GUID)). */
function acceptKey(key: string): string {
  return createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
}

/** One small text frame (RFC 6455 §5.2), masked when sent by a client. */
function frame(text: string, mask: boolean): Buffer {
  const payload = Buffer.from(text);
  const key = Buffer.from([1, 2, 3, 4]);
  const head = Buffer.from([0x81, (mask ? 0x80 : 0) | payload.length]);
  const body = mask ? Buffer.from(payload.map((b, i) => b ^ (key[i % 4] ?? 0))) : payload;
  return Buffer.concat(mask ? [head, key, body] : [head, body]);
}

function unframe(data: Buffer): string {
  const length = (data[1] ?? 0) & 0x7f;
  if (((data[1] ?? 0) & 0x80) === 0) return data.subarray(2, 2 + length).toString();
  const key = data.subarray(2, 6);
  return Buffer.from(data.subarray(6, 6 + length).map((b, i) => b ^ (key[i % 4] ?? 0))).toString();
}

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

describe('--proxy', () => {
  let upstream: Server;
  let site: PhpSite;
  let releaseStream: () => void = () => undefined;
  const upstreamSockets = new Set<Socket>();
  beforeAll(async () => {
    upstream = createServer((req: IncomingMessage, res) => {
      if (req.url?.startsWith('/api/stream')) {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('first;');
        releaseStream = () => res.end('second');
        return;
      }
      if (req.url?.startsWith('/api/upload')) {
        let bytes = 0;
        req.on('data', (chunk: Buffer) => { bytes += chunk.length; });
        req.on('end', () => res.end(JSON.stringify({ bytes })));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close', 'X-Upstream': 'yes' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
    });
    upstream.on('connection', (s: Socket) => { upstreamSockets.add(s); s.on('close', () => upstreamSockets.delete(s)); });
    upstream.on('upgrade', (req: IncomingMessage, socket: Socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(String(req.headers['sec-websocket-key']))}\r\nX-Seen-Forwarded-For: ${String(req.headers['x-forwarded-for'])}\r\n\r\n`);
      socket.on('data', (data: Buffer) => socket.write(frame(`echo:${unframe(data)}`, false)));
    });
    const port = await listen(upstream);
    // A port that nothing listens on: bind, read the number, close.
    const probe = createNetServer();
    const downPort = await listen(probe);
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    site = await startPhpSite({ 'local.txt': 'local\n' }, {
      proxy: [`/api=http://127.0.0.1:${port}`, `/v1=http://127.0.0.1:${port}/api`, `/down=http://127.0.0.1:${downPort}`],
    });
  });
  afterAll(async () => {
    await site.close();
    for (const s of upstreamSockets) s.destroy();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  it('forwards method, path, query and adds X-Forwarded-For/-Proto/-Host', async () => {
    const res = await fetch(`${site.origin}/api/items?a=1%202`, { headers: { 'X-Forwarded-For': '10.0.0.9' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-upstream')).toBe('yes');
    const seen = await res.json() as { method: string; url: string; headers: Record<string, string> };
    expect(seen.url).toBe('/api/items?a=1%202');
    expect(seen.headers['x-forwarded-for']).toBe('10.0.0.9, 127.0.0.1');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-forwarded-host']).toBe(`127.0.0.1:${site.port}`);
    expect(await (await fetch(`${site.origin}/local.txt`)).text()).toBe('local\n');
  });

  it('replaces the prefix with the upstream URL path', async () => {
    const seen = await (await fetch(`${site.origin}/v1/things?x`)).json() as { url: string };
    expect(seen.url).toBe('/api/things?x');
  });

  it('streams a request body up and a response down', async () => {
    const size = 5 * 1024 * 1024;
    const up = await fetch(`${site.origin}/api/upload`, { method: 'POST', body: Buffer.alloc(size, 1) });
    expect(await up.json()).toEqual({ bytes: size });
    const down = await fetch(`${site.origin}/api/stream`);
    const reader = down.body?.getReader();
    const first = await reader?.read();
    // The first chunk arrived while the upstream response is still open: it was not buffered.
    expect(Buffer.from(first?.value ?? []).toString()).toBe('first;');
    releaseStream();
    let rest = '';
    for (;;) {
      const next = await reader?.read();
      if (!next || next.done) break;
      rest += Buffer.from(next.value).toString();
    }
    expect(rest).toBe('second');
  });

  it('proxies a WebSocket upgrade both ways', async () => {
    const socket = connect(site.port, '127.0.0.1');
    const key = Buffer.from('0123456789abcdef').toString('base64');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1:${site.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const text = (): string => Buffer.concat(received).toString('latin1');
    for (let i = 0; i < 100 && !text().includes('\r\n\r\n'); i++) await new Promise((r) => setTimeout(r, 20));
    expect(text()).toMatch(/^HTTP\/1\.1 101 /);
    expect(text()).toContain(`Sec-WebSocket-Accept: ${acceptKey(key)}`);
    expect(text()).toContain('X-Seen-Forwarded-For: 127.0.0.1');
    const headerLength = text().indexOf('\r\n\r\n') + 4;
    received.splice(0, received.length, Buffer.concat(received).subarray(headerLength));
    socket.write(frame('ping', true));
    for (let i = 0; i < 100 && Buffer.concat(received).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(unframe(Buffer.concat(received))).toBe('echo:ping');
    socket.destroy();
  });

  it('refuses a WebSocket upgrade with a foreign Host (DNS rebinding)', async () => {
    const socket = connect(site.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const closed = new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (d: Buffer) => { text += d.toString(); });
      socket.on('close', () => resolve(text));
    });
    socket.write(`GET /api/ws HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    expect(await closed).not.toContain('101');
  });

  it('answers 502 with a page naming the upstream when it is down', async () => {
    const res = await fetch(`${site.origin}/down/anything`);
    expect(res.status).toBe(502);
    const body = await res.text();
    expect(body).toContain('is not reachable');
    expect(body).toContain('ECONNREFUSED');
  });

  it('answers 502 to a WebSocket upgrade when the upstream is down', async () => {
    const answer = await new Promise<number>((resolve, reject) => {
      const req = request(`${site.origin}/down/ws`, { headers: { Connection: 'Upgrade', Upgrade: 'websocket' } });
      req.on('response', (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('upgrade', () => reject(new Error('unexpected upgrade')));
      req.on('error', reject);
      req.end();
    });
    expect(answer).toBe(502);
  });

  it('rejects malformed --proxy values with a clear message', () => {
    expect(() => parseProxySpec('api=http://x')).toThrow(ProxySpecError);
    expect(() => parseProxySpec('/api')).toThrow(/PREFIX=URL/);
    expect(() => parseProxySpec('/api=ftp://x')).toThrow(/http/);
    expect(parseProxySpec('/api/=http://127.0.0.1:3000').prefix).toBe('/api');
  });
});
