/**
 * One request id from the client to every backend and every log, through `devmount serve` as a user runs it:
 * a PHP script (php-cgi) and a --proxy upstream both get the id the response header and the access line carry;
 * a 404 line says which path was looked up and its errno, a 502 line the upstream and its error code; every
 * line validates against the documented schema; `devmount logs` finds the foreground server's kept log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLI } from './mount-cli-helpers.js';
import { createDevServer } from '../devserver/server.js';
import { LocalFileSource } from '../devserver/sources/local.js';
import { proxy } from '../devserver/middlewares/proxy.js';
import { parseProxySpec } from '../devserver/proxy/routes.js';
import { freePort, memoryLogger, rawRequest } from './serve-fixture.js';
import { eventually } from './helpers/eventually.js';
import { recordLines, schemaErrors } from './helpers/log-schema.js';

let base: string;
let site: string;
let env: NodeJS.ProcessEnv;
let upstream: Server;
/** X-Request-Id of each request the upstream saw, by path. */
const seenUpstream = new Map<string, string | undefined>();
let serve: { child: ChildProcess; port: number; stderr: () => string };
let closedPort: number;
const children: ChildProcess[] = [];

function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The records of the server's stderr (NDJSON: stderr is a pipe). */
function records(): Record<string, unknown>[] {
  return recordLines(serve.stderr()).map((l) => JSON.parse(l) as Record<string, unknown>);
}

function accessLine(reqId: string): Record<string, unknown> | undefined {
  return records().find((r) => r.msg === 'request' && r.reqId === reqId);
}

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'devmount-reqid-'));
  site = path.join(base, 'site');
  await mkdir(site);
  await mkdir(path.join(base, 'state'));
  env = { ...process.env, XDG_STATE_HOME: path.join(base, 'state'), DEVMOUNT_DEBUG: '' };
  await writeFile(path.join(site, 'id.php'),
    '<?php error_log("php saw " . $_SERVER["HTTP_X_REQUEST_ID"]); echo $_SERVER["HTTP_X_REQUEST_ID"], " ", $_SERVER["UNIQUE_ID"];');
  await writeFile(path.join(site, 'file.txt'), 'a file\n');
  await mkdir(path.join(site, 'cgi-bin'));
  await writeFile(path.join(site, 'cgi-bin', 'id.sh'),
    '#!/bin/sh\necho "cgi saw $HTTP_X_REQUEST_ID" >&2\nprintf "Content-Type: text/plain\\n\\n%s %s" "$HTTP_X_REQUEST_ID" "$UNIQUE_ID"\n', { mode: 0o755 });
  await symlink('loop', path.join(site, 'loop'));
  upstream = createHttpServer((req, res) => {
    seenUpstream.set(req.url ?? '', req.headers['x-request-id'] as string | undefined);
    res.end('from upstream');
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const upstreamPort = (upstream.address() as { port: number }).port;
  closedPort = await freePort();
  const port = await freePort();
  // Live reload off: the scripts' bodies are compared byte for byte (the injected script is tested elsewhere).
  const child = spawn(process.execPath, [CLI, 'serve', site, '--port', String(port), '--php', '--no-livereload',
    '--proxy', `/api=http://127.0.0.1:${upstreamPort}`, '--proxy', `/down=http://127.0.0.1:${closedPort}`],
  { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  serve = { child, port, stderr: () => err };
  await eventually(() => out.includes(`:${port}/`) || child.exitCode !== null, 15_000, 'the start-up URLs');
  expect(child.exitCode, err).toBeNull();
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
  if (base) await rm(base, { recursive: true, force: true });
});

describe('the request id reaches every backend', () => {
  test('a PHP script gets HTTP_X_REQUEST_ID and UNIQUE_ID: the response header and the access line have the same id', async () => {
    const res = await rawRequest(serve.port, '/id.php');
    expect(res.status).toBe(200);
    const id = res.headers['x-request-id'] ?? '';
    expect(id).toMatch(/^[0-9a-f]{8}-\w+$/);
    expect(res.text).toBe(`${id} ${id}`);
    await eventually(() => accessLine(id) !== undefined, 10_000, 'the access line');
    expect(accessLine(id)).toMatchObject({ path: '/id.php', status: 200 });
    // What the script wrote to stderr (FastCGI stderr or the worker's own) is logged under the same id.
    await eventually(() => records().some((r) => r.msg === 'script stderr' && r.reqId === id), 10_000, 'the stderr line');
    expect(records().find((r) => r.msg === 'script stderr' && r.reqId === id)?.stderr).toContain(`php saw ${id}`);
  });

  test('a CGI script gets them too, and its stderr is logged under the id', async () => {
    const res = await rawRequest(serve.port, '/cgi-bin/id.sh');
    expect(res.status).toBe(200);
    const id = res.headers['x-request-id'] ?? '';
    expect(res.text).toBe(`${id} ${id}`);
    await eventually(() => records().some((r) => r.msg === 'script stderr' && r.reqId === id), 10_000, 'the stderr line');
    expect(records().find((r) => r.msg === 'script stderr' && r.reqId === id)).toMatchObject({ script: '/cgi-bin/id.sh', stderr: `cgi saw ${id}` });
  });

  test('a client\'s own valid id is the one the script sees; an invalid one is replaced, not passed on', async () => {
    const own = await rawRequest(serve.port, '/id.php', { 'X-Request-Id': 'client-trace.42' });
    expect(own.headers['x-request-id']).toBe('client-trace.42');
    expect(own.text).toBe('client-trace.42 client-trace.42');
    const bad = await rawRequest(serve.port, '/id.php', { 'X-Request-Id': 'two words' });
    const replaced = bad.headers['x-request-id'] ?? '';
    expect(replaced).not.toBe('two words');
    expect(bad.text).toBe(`${replaced} ${replaced}`);
  });

  test('a proxied upstream gets X-Request-Id: the one of the response header and the access line', async () => {
    const res = await rawRequest(serve.port, '/api/items?x=1');
    expect(res.status).toBe(200);
    expect(res.text).toBe('from upstream');
    const id = res.headers['x-request-id'] ?? '';
    expect(seenUpstream.get('/api/items?x=1')).toBe(id);
    await eventually(() => accessLine(id) !== undefined, 10_000, 'the access line');
    expect(accessLine(id)).toMatchObject({ path: '/api/items?x=1', status: 200 });
    const own = await rawRequest(serve.port, '/api/own', { 'X-Request-Id': 'from-browser-7' });
    expect(own.headers['x-request-id']).toBe('from-browser-7');
    expect(seenUpstream.get('/api/own')).toBe('from-browser-7');
  });
});

describe('error lines carry machine fields', () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ['a missing file', '/missing.html', 'ENOENT'],
    ['a symlink loop', '/loop', 'ELOOP'],
    ['a path through a file', '/file.txt/below', 'ENOTDIR'],
  ];
  for (const [what, target, errno] of cases) {
    test(`404 for ${what}: the access line has the path looked up and errno ${errno}`, async () => {
      const res = await rawRequest(serve.port, target);
      expect(res.status).toBe(404);
      const id = res.headers['x-request-id'] ?? '';
      await eventually(() => accessLine(id) !== undefined, 10_000, 'the access line');
      expect(accessLine(id)).toMatchObject({ status: 404, lookup: target, errno });
    });
  }

  test('502 from the proxy: the access line and the warning name the upstream and its error code', async () => {
    const res = await rawRequest(serve.port, '/down/x');
    expect(res.status).toBe(502);
    const id = res.headers['x-request-id'] ?? '';
    const upstreamOrigin = `http://127.0.0.1:${closedPort}`;
    await eventually(() => accessLine(id) !== undefined, 10_000, 'the access line');
    expect(accessLine(id)).toMatchObject({ status: 502, upstream: upstreamOrigin, errno: 'ECONNREFUSED' });
    expect(records().find((r) => r.msg === 'proxy upstream unreachable' && r.reqId === id))
      .toMatchObject({ level: 40, upstream: upstreamOrigin, errno: 'ECONNREFUSED' });
  });
});

describe('a proxy upstream that does not answer', () => {
  test('504 after the head timeout: the access line and the warning carry the upstream and ETIMEDOUT', async () => {
    // An upstream that accepts and never answers; closed (with its sockets) at the end of the test.
    const silent = createHttpServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const { logger, records: logged } = memoryLogger();
    const source = await LocalFileSource.open(site, { watch: 'off' });
    const server = await createDevServer({
      source, logger, port: 0, liveReload: false,
      slots: { early: [proxy([parseProxySpec(`/slow=${origin}`)], { headTimeoutMs: 200 })] },
    });
    try {
      const res = await rawRequest(server.port, '/slow/page', { 'X-Request-Id': 'slow-1' });
      expect(res.status).toBe(504);
      await eventually(() => logged.some((r) => r.msg === 'request' && r.reqId === 'slow-1'), 10_000, 'the access line');
      expect(logged.find((r) => r.msg === 'request' && r.reqId === 'slow-1')).toMatchObject({ status: 504, upstream: origin, errno: 'ETIMEDOUT' });
      expect(logged.find((r) => r.msg === 'proxy upstream timed out')).toMatchObject({ reqId: 'slow-1', upstream: origin, errno: 'ETIMEDOUT', timeoutMs: 200 });
      expect(logged.map((r) => schemaErrors(JSON.stringify(r))).filter(Boolean)).toEqual([]);
    } finally {
      await server.close();
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe('logs', () => {
  test('every line the server wrote is a record of the documented schema', () => {
    const lines = recordLines(serve.stderr());
    expect(lines.length).toBeGreaterThan(8);
    expect(lines.map(schemaErrors).filter(Boolean)).toEqual([]);
  });

  test('the foreground server keeps its log under XDG_STATE_HOME; devmount logs --req finds one request in it', async () => {
    const stateDir = path.join(base, 'state', 'devmount');
    expect((await readdir(stateDir)).filter((n) => /^serve-[0-9a-f]{12}\.log$/.test(n))).toHaveLength(1);
    const res = await rawRequest(serve.port, '/id.php', { 'X-Request-Id': 'find-me-1' });
    expect(res.status).toBe(200);
    let found: string[] = [];
    await eventually(async () => {
      const r = await runCli(['logs', '--req', 'find-me-1']);
      found = recordLines(r.stdout);
      return found.some((l) => l.includes('"msg":"request"'));
    }, 10_000, 'the request in devmount logs');
    const parsed = found.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed.every((r) => r.reqId === 'find-me-1')).toBe(true);
    expect(parsed.map((r) => r.msg)).toEqual(expect.arrayContaining(['request', 'script stderr']));
    expect(found.map(schemaErrors).filter(Boolean)).toEqual([]);
    const warnings = await runCli(['logs', '--req', 'find-me-1', '--level', 'error', '--json']);
    expect(warnings.code).toBe(0);
    expect(warnings.stdout).toBe('');
  });

  test('on a terminal devmount logs prints one readable line per record, as serve does, with the process that wrote it', async () => {
    // script(1) gives the command a pseudo-terminal, as a person at a terminal would have.
    const shown = await new Promise<string>((resolve) => {
      const child = spawn('script', ['-qec', `${process.execPath} ${CLI} logs --req find-me-1`, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.once('close', () => { clearTimeout(timer); resolve(out); });
    });
    const plain = shown.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');
    expect(plain).toMatch(/^\d\d:\d\d:\d\d 200 GET \/id\.php \d+ B [\d.]+ ms find-me-1 \[serve-[0-9a-f]{12}\]$/m);
    expect(plain).toMatch(/^\d\d:\d\d:\d\d warn script stderr \{"reqId":"find-me-1".*\} \[serve-[0-9a-f]{12}\]$/m);
    expect(plain).not.toContain('"msg"');
  });

  test('--follow prints the records that arrive later, until it is stopped', async () => {
    const follower = spawn(process.execPath, [CLI, 'logs', '--follow', '--req', 'followed-1'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(follower);
    let out = '';
    follower.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    // Give it time for its first pass over the files (nothing matches yet), then make the request.
    await new Promise((r) => setTimeout(r, 500));
    expect(out).toBe('');
    await rawRequest(serve.port, '/file.txt', { 'X-Request-Id': 'followed-1' });
    await eventually(() => out.includes('"reqId":"followed-1"'), 10_000, 'the followed line');
    const exited = new Promise<number | null>((resolve) => follower.once('exit', (code) => resolve(code)));
    follower.kill('SIGINT');
    expect(await exited).toBe(130);
  });

  const bad: ReadonlyArray<readonly [string, string[], RegExp]> = [
    ['an age without a unit', ['--since', '10'], /^devmount: --since 10: give an age like/],
    ['an unknown level', ['--level', 'loud'], /^devmount: --level loud: give one of trace, debug/],
    ['a request id with a space', ['--req', 'a b'], /^devmount: --req "a b": give a request id/],
    ['an unknown option', ['--tail'], /^devmount: unknown option '--tail'/],
  ];
  for (const [what, args, message] of bad) {
    test(`devmount logs with ${what}: one line, exit 2`, async () => {
      const r = await runCli(['logs', ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    });
  }
});
