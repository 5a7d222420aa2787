/**
 * Static serving over real HTTP against a fixture tree with awkward names: index files, MIME, HEAD,
 * validators, ranges, compression, listing, --spa, --cors, --header, request ids, cache invalidation.
 */
import { symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDevServer, type DevServer } from '../devserver/server.js';
import { PortInUseError } from '../devserver/errors.js';
import { LocalFileSource } from '../devserver/sources/local.js';
import { BIG_TEXT, makeFixture, memoryLogger, rawRequest, startServer, type Fixture } from './serve-fixture.js';
import { eventually } from './helpers/eventually.js';

let fixture: Fixture;
let server: DevServer;
const get = (target: string, headers: Record<string, string> = {}, method = 'GET') => rawRequest(server.port, target, headers, method);

beforeAll(async () => {
  fixture = await makeFixture();
  server = await startServer(fixture.root, { liveReload: false });
});

afterAll(async () => {
  await server?.close();
  await fixture?.cleanup();
});

describe('files with awkward names', () => {
  const cases: readonly (readonly [string, string])[] = [
    ['/with%20space.txt', 'space\n'],
    ['/f%C3%BCnke.txt', 'unicode\n'],
    ['/hash%23name.txt', 'hash\n'],
    ['/100%25.txt', 'percent\n'],
    ['/dir%20with%20space/', '<html><body>htm index</body></html>'],
  ];
  for (const [target, body] of cases) {
    test(`${target} → 200`, async () => {
      const res = await get(target);
      expect(res.status).toBe(200);
      expect(res.text).toBe(body);
    });
  }
});

describe('index files, redirects and MIME types', () => {
  test('/ serves index.html', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    expect(res.text).toContain('<h1>home</h1>');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  test('a directory without its slash redirects to it, keeping the query', async () => {
    const res = await get('/sub?x=1');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/sub/?x=1');
    expect((await get('/dir%20with%20space')).headers.location).toBe('/dir%20with%20space/');
    expect((await get('/sub/')).text).toBe('<html><body>sub index</body></html>');
  });

  const types: readonly (readonly [string, string])[] = [
    ['/style.css', 'text/css; charset=utf-8'],
    ['/app.js', 'text/javascript; charset=utf-8'],
    ['/data.json', 'application/json; charset=utf-8'],
    ['/hello.txt', 'text/plain; charset=utf-8'],
  ];
  for (const [target, type] of types) {
    test(`${target} has Content-Type ${type}`, async () => {
      expect((await get(target)).headers['content-type']).toBe(type);
    });
  }

  test('HEAD answers the same headers without a body', async () => {
    const full = await get('/hello.txt');
    const head = await get('/hello.txt', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(head.headers['content-length']).toBe('12');
    expect(head.headers.etag).toBe(full.headers.etag);
  });

  test('a missing file → 404 with a text body', async () => {
    const res = await get('/nope.txt');
    expect(res.status).toBe(404);
    expect(res.text).toBe('404 Not Found\n');
  });
});

describe('validators', () => {
  test('ETag, Last-Modified and Cache-Control: no-cache are sent', async () => {
    const res = await get('/hello.txt');
    expect(res.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(Date.parse(res.headers['last-modified'])).not.toBeNaN();
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  test('If-None-Match with the current ETag → 304 without a body', async () => {
    const { headers } = await get('/hello.txt');
    const res = await get('/hello.txt', { 'If-None-Match': `"other", ${headers.etag}` });
    expect(res.status).toBe(304);
    expect(res.body.length).toBe(0);
    expect(res.headers.etag).toBe(headers.etag);
  });

  test('If-None-Match with another ETag → 200', async () => {
    expect((await get('/hello.txt', { 'If-None-Match': '"abc-def"' })).status).toBe(200);
  });

  test('If-Modified-Since at or after Last-Modified → 304; before it → 200', async () => {
    const { headers } = await get('/hello.txt');
    const lm = Date.parse(headers['last-modified']);
    expect((await get('/hello.txt', { 'If-Modified-Since': new Date(lm).toUTCString() })).status).toBe(304);
    expect((await get('/hello.txt', { 'If-Modified-Since': new Date(lm - 10_000).toUTCString() })).status).toBe(200);
  });
});

describe('ranges', () => {
  test('bytes=0-4 → 206 with Content-Range', async () => {
    const res = await get('/hello.txt', { Range: 'bytes=0-4' });
    expect(res.status).toBe(206);
    expect(res.text).toBe('hello');
    expect(res.headers['content-range']).toBe('bytes 0-4/12');
    expect(res.headers['content-length']).toBe('5');
  });

  test('suffix range bytes=-6 → the last 6 bytes', async () => {
    const res = await get('/hello.txt', { Range: 'bytes=-6' });
    expect(res.status).toBe(206);
    expect(res.text).toBe('world\n');
  });

  test('open range bytes=6- → to the end', async () => {
    expect((await get('/hello.txt', { Range: 'bytes=6-' })).text).toBe('world\n');
  });

  test('a range past the end → 416 with bytes */size', async () => {
    const res = await get('/hello.txt', { Range: 'bytes=100-200' });
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe('bytes */12');
  });

  test('If-Range with the current ETag → 206; with a stale one → 200 full body', async () => {
    const { headers } = await get('/hello.txt');
    expect((await get('/hello.txt', { Range: 'bytes=0-4', 'If-Range': headers.etag })).status).toBe(206);
    const stale = await get('/hello.txt', { Range: 'bytes=0-4', 'If-Range': '"0-0"' });
    expect(stale.status).toBe(200);
    expect(stale.text).toBe('hello world\n');
  });

  test('several ranges are answered with the whole body', async () => {
    const res = await get('/hello.txt', { Range: 'bytes=0-1,3-4' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('hello world\n');
  });
});

describe('compression', () => {
  test('brotli on the fly for text above the threshold, with its own ETag and Vary', async () => {
    const res = await get('/style.css', { 'Accept-Encoding': 'gzip, deflate, br' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBe('br');
    expect(res.headers.vary).toBe('Accept-Encoding');
    expect(brotliDecompressSync(res.body).toString()).toBe(BIG_TEXT);
    expect(Number(res.headers['content-length'])).toBeLessThan(BIG_TEXT.length / 4);
    const identity = await get('/style.css');
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(res.headers.etag).not.toBe(identity.headers.etag);
    expect((await get('/style.css', { 'Accept-Encoding': 'br', 'If-None-Match': res.headers.etag })).status).toBe(304);
  });

  test('gzip when brotli is not accepted, or refused with q=0', async () => {
    for (const ae of ['gzip', 'br;q=0, gzip']) {
      const res = await get('/style.css', { 'Accept-Encoding': ae });
      expect(res.headers['content-encoding']).toBe('gzip');
      expect(gunzipSync(res.body).toString()).toBe(BIG_TEXT);
    }
  });

  test('small bodies and ranges are not compressed', async () => {
    expect((await get('/hello.txt', { 'Accept-Encoding': 'br' })).headers['content-encoding']).toBeUndefined();
    const ranged = await get('/style.css', { 'Accept-Encoding': 'br', Range: 'bytes=0-3' });
    expect(ranged.status).toBe(206);
    expect(ranged.text).toBe('body');
  });

  test('a precompressed .gz sibling is sent as it is', async () => {
    const res = await get('/app.js', { 'Accept-Encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.text).toBe('PRECOMPRESSED-GZ-MARKER');
  });
});

describe('files above the in-memory limit are streamed', () => {
  const BIG = 'streamed line of text\n'.repeat(80_000); // 1.7 MiB
  beforeAll(async () => { await writeFile(path.join(fixture.root, 'big.txt'), BIG); });

  test('whole, ranged, and gzip-compressed on the fly', async () => {
    const whole = await get('/big.txt');
    expect(whole.headers['content-length']).toBe(String(BIG.length));
    expect(whole.text).toBe(BIG);
    const ranged = await get('/big.txt', { Range: 'bytes=22-29' });
    expect(ranged.status).toBe(206);
    expect(ranged.text).toBe('streamed');
    expect(ranged.headers['content-range']).toBe(`bytes 22-29/${BIG.length}`);
    const zipped = await get('/big.txt', { 'Accept-Encoding': 'gzip' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(zipped.body).toString()).toBe(BIG);
    expect((await get('/big.txt', { 'If-None-Match': whole.headers.etag })).status).toBe(304);
  });
});

describe('directory listing', () => {
  test('names are escaped, linked, sorted directories first, with sizes; dotfiles hidden', async () => {
    const res = await get('/list/');
    expect(res.status).toBe(200);
    expect(res.text).not.toContain('<img');
    expect(res.text).toContain('&lt;img src=x onerror=alert(1)&gt;.txt');
    expect(res.text).toContain('href="%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E.txt"');
    expect(res.text).not.toContain('.hidden');
    const order = ['zdir/', '&lt;img', 'a.txt', 'b.txt'].map((n) => res.text.indexOf(n));
    expect(order.every((at) => at > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(res.text).toContain('5 B');
  });

  test('JSON when the client asks for it', async () => {
    const res = await get('/list/', { Accept: 'application/json' });
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    const entries = JSON.parse(res.text) as { name: string; type: string; size: number; mtime: string }[];
    expect(entries.map((e) => e.name)).toEqual(['zdir', '<img src=x onerror=alert(1)>.txt', 'a.txt', 'b.txt']);
    expect(entries[3]).toMatchObject({ type: 'file', size: 5 });
    expect(Date.parse(entries[3].mtime)).not.toBeNaN();
  });

  test('--no-listing → 404', async () => {
    const quiet = await startServer(fixture.root, { listing: false });
    try {
      expect((await rawRequest(quiet.port, '/list/')).status).toBe(404);
    } finally {
      await quiet.close();
    }
  });
});

describe('options: --spa, --cors, --header', () => {
  let spa: DevServer;
  beforeAll(async () => {
    spa = await startServer(fixture.root, { spa: true, cors: true, headers: [['X-Frame-Options', 'DENY']], liveReload: false });
  });
  afterAll(async () => { await spa?.close(); });

  test('--spa: an unknown route gets /index.html, a missing asset stays 404', async () => {
    const route = await rawRequest(spa.port, '/users/42', { Accept: 'text/html' });
    expect(route.status).toBe(200);
    expect(route.text).toContain('<h1>home</h1>');
    expect((await rawRequest(spa.port, '/missing.js', { Accept: '*/*' })).status).toBe(404);
  });

  test('--cors and --header are on every response, errors included', async () => {
    for (const target of ['/hello.txt', '/nope.txt']) {
      const res = await rawRequest(spa.port, target);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
    expect((await get('/hello.txt')).headers['access-control-allow-origin']).toBeUndefined();
  });

  test('--cors answers a preflight with 204', async () => {
    const res = await rawRequest(spa.port, '/data.json', { Origin: 'http://example.com', 'Access-Control-Request-Method': 'PUT' }, 'OPTIONS');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-methods']).toContain('PUT');
  });
});

describe('request ids and logs', () => {
  test('a valid client X-Request-Id is echoed, an invalid one replaced, and both are in the log line', async () => {
    const { logger, records } = memoryLogger();
    const source = await LocalFileSource.open(fixture.root, { watch: 'off' });
    const logged = await createDevServer({ source, logger, port: 0 });
    try {
      const mine = await rawRequest(logged.port, '/hello.txt', { 'X-Request-Id': 'trace-42', 'User-Agent': 'vitest-agent' });
      expect(mine.headers['x-request-id']).toBe('trace-42');
      const bad = await rawRequest(logged.port, '/nope', { 'X-Request-Id': 'bad id\twith tab' });
      expect(bad.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
      await eventually(() => records.filter((r) => r.msg === 'request').length >= 2, 5000, 'two log records');
      const first = records.find((r) => r.reqId === 'trace-42');
      expect(first).toMatchObject({ method: 'GET', path: '/hello.txt', status: 200, bytes: 12, remote: '127.0.0.1', userAgent: 'vitest-agent', msg: 'request' });
      expect(typeof first?.durationMs).toBe('number');
      expect(Date.parse(String(first?.time))).not.toBeNaN();
      expect(records.find((r) => r.reqId === bad.headers['x-request-id'])).toMatchObject({ status: 404, path: '/nope' });
    } finally {
      await logged.close();
    }
  });
});

describe('the cache follows edits', () => {
  test('an edited, a new and a deleted file are seen without a restart', async () => {
    const file = path.join(fixture.root, 'changing.txt');
    await writeFile(file, 'one\n');
    expect((await get('/changing.txt')).text).toBe('one\n');
    await writeFile(file, 'two, longer\n');
    await eventually(async () => (await get('/changing.txt')).text === 'two, longer\n', 10_000, 'the edit to be served');
    await writeFile(path.join(fixture.root, 'brand-new.txt'), 'new\n');
    await eventually(async () => (await get('/brand-new.txt')).status === 200, 10_000, 'the new file');
  });

  test('a file reached through a symlink follows edits of its target, inside and (with --follow-symlinks) outside the root', async () => {
    const follow = await startServer(fixture.root, { liveReload: false, followSymlinks: true });
    try {
      await writeFile(path.join(fixture.root, 'link-target.txt'), 'target v1\n');
      await symlink(path.join(fixture.root, 'link-target.txt'), path.join(fixture.root, 'via-link.txt'));
      await eventually(async () => (await rawRequest(follow.port, '/via-link.txt')).text === 'target v1\n', 10_000, 'the link');
      expect((await rawRequest(follow.port, '/escape-link.txt')).text).toBe('OUTSIDE\n');
      await writeFile(path.join(fixture.root, 'link-target.txt'), 'target v2!\n');
      await eventually(async () => (await rawRequest(follow.port, '/via-link.txt')).text === 'target v2!\n', 10_000, 'the edit through the link');
      // Outside the root nobody watches: such files are never cached, so the edit is seen at once.
      await writeFile(path.join(fixture.base, 'outside-secret.txt'), 'OUTSIDE v2\n');
      expect((await rawRequest(follow.port, '/escape-link.txt')).text).toBe('OUTSIDE v2\n');
    } finally {
      await follow.close();
      await writeFile(path.join(fixture.base, 'outside-secret.txt'), 'OUTSIDE\n');
    }
  });

  test('polling mode (--poll) sees edits too', async () => {
    const polled = await startServer(fixture.root, { liveReload: false }, { watch: { pollMs: 100 } });
    try {
      const file = path.join(fixture.root, 'polled.txt');
      await writeFile(file, 'a\n');
      await eventually(async () => (await rawRequest(polled.port, '/polled.txt')).text === 'a\n', 10_000, 'first version');
      await writeFile(file, 'bb\n');
      await eventually(async () => (await rawRequest(polled.port, '/polled.txt')).text === 'bb\n', 10_000, 'polled edit');
    } finally {
      await polled.close();
    }
  });
});

describe('port choice', () => {
  test('a busy default port moves to the next free one; a busy explicit port is an error', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const busy = (blocker.address() as { port: number }).port;
    try {
      const moved = await startServer(fixture.root, { port: busy, strictPort: false, liveReload: false });
      expect(moved.port).toBeGreaterThan(busy);
      expect(moved.url).toBe(`http://127.0.0.1:${moved.port}/`);
      await moved.close();
      await expect(startServer(fixture.root, { port: busy, strictPort: true })).rejects.toBeInstanceOf(PortInUseError);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
