/**
 * The response memo (devserver/response-memo.ts) is a speed feature that must not change a single answer:
 * replays carry their own X-Request-Id and log line, edits are seen by the next request, Accept-Encoding,
 * Range, conditional requests and HEAD get what the stack would give, and slot middlewares that do not declare
 * a MemoPolicy (or decline) keep running on every request. Whether the stack ran is observed through a counting
 * slot middleware: a replay is answered before the slots (devserver/stack.ts).
 */
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDevServer, type DevServer, type DevServerOptions } from '../devserver/server.js';
import { createLogger } from '../devserver/logger.js';
import type { Middleware, MemoPolicy } from '../devserver/middleware.js';
import { LocalFileSource } from '../devserver/sources/local.js';
import { BIG_TEXT, makeFixture, memoryLogger, rawRequest, type Fixture } from './serve-fixture.js';
import { eventually } from './helpers/eventually.js';

let fixture: Fixture;

beforeAll(async () => {
  fixture = await makeFixture();
});

afterAll(async () => {
  await fixture?.cleanup();
});

/** A slot middleware that counts the requests entering the stack and passes them on. */
function counter(memo?: MemoPolicy): { mw: Middleware; count: () => number } {
  let n = 0;
  const mw: Middleware = Object.assign(async function counting(_ctx: Parameters<Middleware>[0], next: Parameters<Middleware>[1]) {
    n++;
    await next();
  }, memo === undefined ? {} : { memo });
  return { mw, count: () => n };
}

const PASSES: MemoPolicy = { passesOn: () => true };

async function withServer(options: Partial<DevServerOptions>, body: (server: DevServer) => Promise<void>): Promise<void> {
  const source = await LocalFileSource.open(fixture.root, { watch: 'auto' });
  const server = await createDevServer({ source, logger: memoryLogger().logger, port: 0, liveReload: false, ...options });
  try {
    await body(server);
  } finally {
    await server.close();
  }
}

describe('replays', () => {
  test('a repeated GET is replayed with the same body and headers but its own request id and log line', async () => {
    const { logger, records } = memoryLogger();
    const c = counter(PASSES);
    await withServer({ logger, slots: { early: [c.mw] }, headers: [['X-Site', 'one']] }, async (server) => {
      const first = await rawRequest(server.port, '/hello.txt', { 'User-Agent': 'memo-test' });
      const second = await rawRequest(server.port, '/hello.txt', { 'User-Agent': 'memo-test', 'X-Request-Id': 'replayed-1' });
      expect(c.count()).toBe(1);
      expect(second.status).toBe(200);
      expect(second.text).toBe('hello world\n');
      for (const name of ['etag', 'last-modified', 'content-type', 'content-length', 'cache-control', 'vary', 'x-site']) {
        expect(second.headers[name], name).toBe(first.headers[name]);
      }
      expect(second.headers['x-request-id']).toBe('replayed-1');
      expect(first.headers['x-request-id']).not.toBe('replayed-1');
      await eventually(() => records.filter((r) => r.msg === 'request').length >= 2, 5000, 'two log records');
      expect(records.find((r) => r.reqId === 'replayed-1')).toMatchObject({
        method: 'GET', path: '/hello.txt', status: 200, bytes: 12, remote: '127.0.0.1', userAgent: 'memo-test', msg: 'request',
      });
    });
  });

  test('an edit is seen by the next request after the change event, and the new version is memoised again', async () => {
    const file = path.join(fixture.root, 'memo-edit.txt');
    await writeFile(file, 'version one\n');
    const c = counter(PASSES);
    await withServer({ slots: { early: [c.mw] } }, async (server) => {
      expect((await rawRequest(server.port, '/memo-edit.txt')).text).toBe('version one\n');
      expect((await rawRequest(server.port, '/memo-edit.txt')).text).toBe('version one\n');
      expect(c.count()).toBe(1);
      await writeFile(file, 'version two, longer\n');
      await eventually(async () => (await rawRequest(server.port, '/memo-edit.txt')).text === 'version two, longer\n', 10_000, 'the edit');
      const before = c.count();
      expect((await rawRequest(server.port, '/memo-edit.txt')).text).toBe('version two, longer\n');
      expect(c.count()).toBe(before);
    });
  });

  test('each Accept-Encoding gets its own entry: gzip stays gzip, identity stays identity', async () => {
    const c = counter(PASSES);
    await withServer({ slots: { early: [c.mw] } }, async (server) => {
      const gz1 = await rawRequest(server.port, '/style.css', { 'Accept-Encoding': 'gzip' });
      const plain1 = await rawRequest(server.port, '/style.css');
      expect(c.count()).toBe(2);
      const gz2 = await rawRequest(server.port, '/style.css', { 'Accept-Encoding': 'gzip' });
      const plain2 = await rawRequest(server.port, '/style.css');
      expect(c.count()).toBe(2);
      expect(gz2.headers['content-encoding']).toBe('gzip');
      expect(gz2.headers.etag).toBe(gz1.headers.etag);
      expect(gunzipSync(gz2.body).toString()).toBe(BIG_TEXT);
      expect(plain2.headers['content-encoding']).toBeUndefined();
      expect(plain2.headers.etag).toBe(plain1.headers.etag);
      expect(plain2.text).toBe(BIG_TEXT);
    });
  });

  test('Range requests always go through the stack (206, 416)', async () => {
    const c = counter(PASSES);
    await withServer({ slots: { early: [c.mw] } }, async (server) => {
      await rawRequest(server.port, '/hello.txt');
      const partial = await rawRequest(server.port, '/hello.txt', { Range: 'bytes=0-4' });
      expect(partial.status).toBe(206);
      expect(partial.text).toBe('hello');
      expect((await rawRequest(server.port, '/hello.txt', { Range: 'bytes=100-' })).status).toBe(416);
      expect(c.count()).toBe(3);
    });
  });

  test('conditional requests are answered from the memo as the stack would: 304 on a match, 200 otherwise', async () => {
    const c = counter(PASSES);
    await withServer({ slots: { early: [c.mw] } }, async (server) => {
      const first = await rawRequest(server.port, '/hello.txt');
      const etag = first.headers.etag;
      const match = await rawRequest(server.port, '/hello.txt', { 'If-None-Match': etag });
      expect(match.status).toBe(304);
      expect(match.body.length).toBe(0);
      expect(match.headers.etag).toBe(etag);
      expect(match.headers['x-request-id']).toBeTruthy();
      const since = await rawRequest(server.port, '/hello.txt', { 'If-Modified-Since': first.headers['last-modified'] });
      expect(since.status).toBe(304);
      const other = await rawRequest(server.port, '/hello.txt', { 'If-None-Match': '"something-else"' });
      expect(other.status).toBe(200);
      expect(other.text).toBe('hello world\n');
      expect(c.count()).toBe(1);
    });
  });

  test('HEAD and GET share an entry; HEAD has no body and the same Content-Length', async () => {
    const c = counter(PASSES);
    await withServer({ slots: { early: [c.mw] } }, async (server) => {
      const head = await rawRequest(server.port, '/data.json', {}, 'HEAD');
      const get = await rawRequest(server.port, '/data.json');
      const head2 = await rawRequest(server.port, '/data.json', {}, 'HEAD');
      expect(c.count()).toBe(1);
      expect(head.body.length).toBe(0);
      expect(head2.body.length).toBe(0);
      expect(get.text).toBe('{"a":1}\n');
      expect(head2.headers['content-length']).toBe(String(get.body.length));
    });
  });

  test('a replay still checks the Host header (DNS rebinding)', async () => {
    const c = counter(PASSES);
    await withServer({ slots: { early: [c.mw] } }, async (server) => {
      await rawRequest(server.port, '/hello.txt');
      const evil = await rawRequest(server.port, '/hello.txt', { Host: 'evil.example' });
      expect(evil.status).toBe(403);
    });
  });
});

describe('what is never replayed', () => {
  test('a slot middleware without a policy, or whose policy declines, runs on every request', async () => {
    const undeclared = counter();
    await withServer({ slots: { beforeResolve: [undeclared.mw] } }, async (server) => {
      for (let i = 0; i < 3; i++) expect((await rawRequest(server.port, '/hello.txt')).status).toBe(200);
      expect(undeclared.count()).toBe(3);
    });
    const seen: string[] = [];
    const declining = counter({ passesOn: (p) => { seen.push(p); return p !== '/index.html'; } });
    await withServer({ slots: { beforeStatic: [declining.mw] } }, async (server) => {
      for (let i = 0; i < 3; i++) expect((await rawRequest(server.port, '/')).status).toBe(200);
      expect(declining.count()).toBe(3);
      // beforeStatic middlewares are asked about the path they saw: the index file, not '/'.
      expect(seen).toContain('/index.html');
      await rawRequest(server.port, '/hello.txt');
      await rawRequest(server.port, '/hello.txt');
      expect(declining.count()).toBe(4);
    });
  });

  test('an async policy is awaited before the answer is stored', async () => {
    const c = counter({ passesOn: async () => { await new Promise((r) => setTimeout(r, 5)); return true; } });
    await withServer({ slots: { early: [c.mw] } }, async (server) => {
      await rawRequest(server.port, '/hello.txt');
      await eventually(async () => {
        const before = c.count();
        await rawRequest(server.port, '/hello.txt');
        return c.count() === before;
      }, 5000, 'a replay');
    });
  });

  test('files reached through a symlink leading outside the root (--follow-symlinks) are not memoised', async () => {
    const c = counter(PASSES);
    await withServer({ slots: { early: [c.mw] }, followSymlinks: true }, async (server) => {
      expect((await rawRequest(server.port, '/escape-link.txt')).text).toBe('OUTSIDE\n');
      await writeFile(path.join(fixture.base, 'outside-secret.txt'), 'OUTSIDE v2\n');
      try {
        expect((await rawRequest(server.port, '/escape-link.txt')).text).toBe('OUTSIDE v2\n');
        expect(c.count()).toBe(2);
      } finally {
        await writeFile(path.join(fixture.base, 'outside-secret.txt'), 'OUTSIDE\n');
      }
    });
  });

  test('errors, redirects and listings are not memoised', async () => {
    const c = counter(PASSES);
    await withServer({ slots: { early: [c.mw] } }, async (server) => {
      for (const target of ['/nope.txt', '/sub', '/list/', '/.env']) {
        await rawRequest(server.port, target);
        await rawRequest(server.port, target);
      }
      expect(c.count()).toBe(8);
    });
  });

  test('with the cache off (a source that cannot report changes) there is no memo', async () => {
    const c = counter(PASSES);
    await withServer({ slots: { early: [c.mw] }, cache: false }, async (server) => {
      await rawRequest(server.port, '/hello.txt');
      await rawRequest(server.port, '/hello.txt');
      expect(c.count()).toBe(2);
    });
  });
});

describe('the JSON access log written without pino\'s serialiser', () => {
  test('has the fields and shape of a pino record, for stack answers and replays alike', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'devmount-memo-log-'));
    const logFile = path.join(dir, 'log.ndjson');
    const handle = await open(logFile, 'w');
    try {
      const logger = createLogger({ format: 'json', fd: handle.fd });
      const c = counter(PASSES);
      await withServer({ logger, slots: { early: [c.mw] } }, async (server) => {
        await rawRequest(server.port, '/hello.txt', { 'User-Agent': 'ua "quoted"', 'X-Request-Id': 'log-1' });
        await rawRequest(server.port, '/hello.txt', { 'X-Request-Id': 'log-2' });
        await rawRequest(server.port, '/f%C3%BCnke.txt', { 'X-Request-Id': 'log-3' });
        await rawRequest(server.port, '/missing', { 'X-Request-Id': 'log-4' });
        // A replay whose line needs escapes: a quote, a backslash, a tab (RFC 9110 §5.5 allows HTAB in a field value), non-ASCII.
        await rawRequest(server.port, '/hello.txt', { 'User-Agent': 'ua "q" \\ tab\there é', 'X-Request-Id': 'log-5' });
      });
      const raw = (await readFile(logFile, 'utf8')).split('\n').filter(Boolean);
      // Byte for byte what JSON.stringify (pino's serialiser) writes for the same record.
      for (const l of raw) expect(l).toBe(JSON.stringify(JSON.parse(l)));
      const lines = raw.map((l) => JSON.parse(l) as Record<string, unknown>);
      const byId = (id: string) => lines.find((l) => l.reqId === id);
      expect(byId('log-1')).toMatchObject({ level: 30, method: 'GET', path: '/hello.txt', status: 200, bytes: 12, remote: '127.0.0.1', userAgent: 'ua "quoted"', msg: 'request' });
      expect(byId('log-2')).toMatchObject({ level: 30, status: 200, bytes: 12, msg: 'request' });
      expect(byId('log-2')).not.toHaveProperty('userAgent');
      expect(byId('log-3')).toMatchObject({ path: '/f%C3%BCnke.txt', status: 200 });
      expect(byId('log-4')).toMatchObject({ path: '/missing', status: 404 });
      expect(byId('log-5')).toMatchObject({ status: 200, userAgent: 'ua "q" \\ tab\there Ã©' });
      for (const id of ['log-1', 'log-2', 'log-3', 'log-4', 'log-5']) {
        const line = byId(id);
        expect(Date.parse(String(line?.time))).not.toBeNaN();
        expect(typeof line?.durationMs).toBe('number');
        expect(Object.keys(line ?? {})[0]).toBe('level');
      }
      expect(c.count()).toBe(3);
    } finally {
      await handle.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
