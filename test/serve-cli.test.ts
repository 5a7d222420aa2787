/**
 * `devmount serve` as a user runs it: URLs printed at start, NDJSON request logs on a non-TTY stderr,
 * X-Request-Id in responses and log lines, one-line errors with documented exit codes, clean stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort, makeFixture, rawRequest, type Fixture } from './serve-fixture.js';
import { eventually } from './helpers/eventually.js';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'devmount.js');
let fixture: Fixture;
const children: ChildProcess[] = [];

beforeAll(async () => { fixture = await makeFixture(); });
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await fixture?.cleanup();
});

interface Running { child: ChildProcess; stdout: () => string; stderr: () => string; exited: Promise<number | null> }

function run(args: string[], env: NodeJS.ProcessEnv = process.env): Running {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

describe('devmount serve', () => {
  test('prints its URLs, logs one NDJSON object per request with the request id, stops on SIGTERM', async () => {
    const port = await freePort();
    const serve = run(['serve', fixture.root, '--port', String(port)]);
    await eventually(() => serve.stdout().includes(`http://127.0.0.1:${port}/`) || serve.child.exitCode !== null, 15_000, 'the start-up URLs');
    expect(serve.stderr()).toBe('');
    expect(serve.stdout()).toContain(`http://localhost:${port}/`);
    expect(serve.stdout()).toContain(fixture.root);
    const ok = await rawRequest(port, '/hello.txt', { 'User-Agent': 'cli-test', 'X-Request-Id': 'cli-trace-1' });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-request-id']).toBe('cli-trace-1');
    const missing = await rawRequest(port, '/nope.html');
    expect(missing.status).toBe(404);
    await eventually(() => serve.stderr().split('\n').filter(Boolean).length >= 2, 10_000, 'two log lines');
    const lines = serve.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const first = lines.find((l) => l.reqId === 'cli-trace-1');
    expect(first).toMatchObject({ method: 'GET', path: '/hello.txt', status: 200, bytes: 12, remote: '127.0.0.1', userAgent: 'cli-test' });
    expect(typeof first?.durationMs).toBe('number');
    expect(Date.parse(String(first?.time))).not.toBeNaN();
    expect(lines.find((l) => l.reqId === missing.headers['x-request-id'])).toMatchObject({ status: 404, path: '/nope.html' });
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  test('--open hands the URL to the desktop opener (xdg-open)', async () => {
    // A stand-in xdg-open first on PATH records what it was asked to open.
    const bin = await mkdtemp(path.join(tmpdir(), 'devmount-opener-'));
    try {
      const record = path.join(bin, 'opened.txt');
      await writeFile(path.join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$*" > '${record}'\n`);
      await chmod(path.join(bin, 'xdg-open'), 0o755);
      const port = await freePort();
      const serve = run(['serve', fixture.root, '--port', String(port), '--open'], { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` });
      await eventually(async () => (await readFile(record, 'utf8').catch(() => '')) !== '' || serve.child.exitCode !== null, 15_000, 'the opener call');
      expect(await readFile(record, 'utf8')).toBe(`http://127.0.0.1:${port}/`);
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });

  test('--log-format pretty writes one short line per request', async () => {
    const port = await freePort();
    const serve = run(['serve', fixture.root, '--port', String(port), '--log-format', 'pretty']);
    await eventually(() => serve.stdout().includes(`:${port}/`) || serve.child.exitCode !== null, 15_000, 'the start-up URLs');
    expect(serve.child.exitCode).toBeNull();
    await rawRequest(port, '/hello.txt', { 'X-Request-Id': 'pretty-1' });
    await eventually(() => serve.stderr().includes('pretty-1'), 10_000, 'the log line');
    // Colours are for the terminal; the words are what we check.
    const plain = serve.stderr().replace(/\x1b\[[0-9;]*m/g, '');
    expect(plain).toMatch(/^\d\d:\d\d:\d\d 200 GET \/hello\.txt 12 B [\d.]+ ms pretty-1$/m);
    serve.child.kill('SIGTERM');
    expect(await serve.exited).toBe(0);
  });

  test('--site-url is announced at start and production links in served files point at the local server', async () => {
    const port = await freePort();
    const dir = await mkdtemp(path.join(tmpdir(), 'devmount-site-url-'));
    try {
      await writeFile(path.join(dir, 'links.txt'), 'see https://www.example.com/about\n');
      const serve = run(['serve', dir, '--port', String(port), '--site-url', 'https://www.example.com', '--no-livereload']);
      await eventually(() => serve.stdout().includes('https://www.example.com') || serve.child.exitCode !== null, 15_000, 'the start-up lines');
      expect(serve.stdout()).toContain('the application sees https://www.example.com; links to it point here');
      expect((await rawRequest(port, '/links.txt')).text).toBe(`see http://127.0.0.1:${port}/about\n`);
      serve.child.kill('SIGTERM');
      expect(await serve.exited).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const bad: readonly (readonly [string, string[], RegExp])[] = [
    ['a missing directory', ['serve', '/nonexistent/devmount-site'], /^devmount: \/nonexistent\/devmount-site is not a directory/],
    ['a bad port', ['serve', '.', '--port', 'http'], /^devmount: --port must be a whole number/],
    ['a header without a colon', ['serve', '.', '--header', 'NoColon'], /^devmount: --header "NoColon" is not NAME:VALUE/],
    ['a bad poll interval', ['serve', '.', '--poll', '-5'], /^devmount: /],
    ['an unknown log format', ['serve', '.', '--log-format', 'xml'], /xml/],
    ['a site URL that is not a URL', ['serve', '.', '--site-url', 'www.example.com'], /^devmount: --site-url: "www.example.com" is not a URL/],
    ['a site URL with a path', ['serve', '.', '--site-url', 'https://www.example.com/blog'], /^devmount: --site-url: .* has a path/],
  ];
  for (const [what, args, message] of bad) {
    test(`${what} → exit 2 and one line`, async () => {
      const r = run(args);
      const code = await r.exited;
      expect({ code, stderr: r.stderr() }).toMatchObject({ code: 2, stderr: expect.stringMatching(message) });
      expect(r.stderr()).not.toMatch(/\n\s+at /);
    });
  }

  test('an explicit port that is busy → exit 2 with what to do', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const r = run(['serve', fixture.root, '--port', String((blocker.address() as { port: number }).port)]);
      expect(await r.exited).toBe(2);
      expect(r.stderr()).toMatch(/^devmount: port \d+ is already in use: .*--port/);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});
