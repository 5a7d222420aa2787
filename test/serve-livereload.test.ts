/**
 * Live reload at the protocol level: script injection, the SSE stream, CSS-only changes, burst coalescing.
 * (The browser behaviour is in browser-livereload.test.ts.)
 */
import { writeFile } from 'node:fs/promises';
import { get as httpGet, type IncomingMessage } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DevServer } from '../devserver/server.js';
import { LIVERELOAD_SCRIPT_PATH } from '../devserver/livereload/client.js';
import { makeFixture, rawRequest, startServer, type Fixture } from './serve-fixture.js';
import { eventually } from './helpers/eventually.js';

let fixture: Fixture;
let server: DevServer;

beforeAll(async () => {
  fixture = await makeFixture();
  server = await startServer(fixture.root);
});

afterAll(async () => {
  await server?.close();
  await fixture?.cleanup();
});

interface EventStream { readonly events: { event: string; data: string }[]; close(): void }

function openEvents(port: number): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const events: { event: string; data: string }[] = [];
    const req = httpGet({ port, host: '127.0.0.1', path: '/__devmount/livereload', headers: { Accept: 'text/event-stream' } }, (res: IncomingMessage) => {
      let buffer = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
          if (event) events.push({ event, data });
        }
      });
      res.on('error', () => { /* closed by close() below: nothing to report */ });
      resolve({ events, close: () => req.destroy() });
    });
    req.on('error', reject);
  });
}

describe('script injection', () => {
  test('before </body> in a page', async () => {
    const res = await rawRequest(server.port, '/');
    expect(res.text).toContain(`<h1>home</h1><script src="${LIVERELOAD_SCRIPT_PATH}"></script></body></html>`);
    expect(Number(res.headers['content-length'])).toBe(res.body.length);
  });

  test('appended to a fragment without </body>', async () => {
    const res = await rawRequest(server.port, '/fragment.html');
    expect(res.text).toBe(`<p>no body tag</p>\n<script src="${LIVERELOAD_SCRIPT_PATH}"></script>`);
  });

  test('not into other types, and not with --no-livereload', async () => {
    expect((await rawRequest(server.port, '/hello.txt')).text).toBe('hello world\n');
    const off = await startServer(fixture.root, { liveReload: false });
    try {
      expect((await rawRequest(off.port, '/')).text).not.toContain('livereload');
      expect((await rawRequest(off.port, LIVERELOAD_SCRIPT_PATH)).status).toBe(404);
    } finally {
      await off.close();
    }
  });

  test('the client script is served as JavaScript', async () => {
    const res = await rawRequest(server.port, LIVERELOAD_SCRIPT_PATH);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.text).toContain('new EventSource');
  });
});

describe('the event stream', () => {
  test('hello with the server id, then css for a stylesheet edit and reload for anything else', async () => {
    const stream = await openEvents(server.port);
    try {
      await eventually(() => stream.events.length >= 1, 5000, 'hello');
      expect(stream.events[0]).toEqual({ event: 'hello', data: server.liveReload?.serverId });
      await writeFile(path.join(fixture.root, 'style.css'), 'body { color: blue; }\n');
      await eventually(() => stream.events.length >= 2, 10_000, 'a css event');
      expect(stream.events[1]).toEqual({ event: 'css', data: JSON.stringify(['/style.css']) });
      await writeFile(path.join(fixture.root, 'index.html'), '<html><body>edited</body></html>');
      await eventually(() => stream.events.length >= 3, 10_000, 'a reload event');
      expect(stream.events[2].event).toBe('reload');
    } finally {
      stream.close();
    }
  });

  test('a burst of 200 changed files gives exactly one reload', async () => {
    const stream = await openEvents(server.port);
    try {
      await eventually(() => stream.events.length >= 1, 5000, 'hello');
      const before = server.liveReload?.sent.reload ?? 0;
      await Promise.all(Array.from({ length: 200 }, (_, i) => writeFile(path.join(fixture.root, `burst-${i}.html`), `<p>${i}</p>`)));
      await eventually(() => stream.events.some((e) => e.event === 'reload'), 10_000, 'the reload');
      // Wait past the coalescing window (maxWaitMs 2 s from the first change): no second reload may follow.
      await new Promise((r) => setTimeout(r, 2500));
      expect(stream.events.filter((e) => e.event === 'reload')).toHaveLength(1);
      expect((server.liveReload?.sent.reload ?? 0) - before).toBe(1);
    } finally {
      stream.close();
    }
  });
});
