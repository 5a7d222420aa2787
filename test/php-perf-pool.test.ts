/**
 * Correctness of what makes the FastCGI pool fast: one kept FastCGI connection per worker
 * (FCGI_KEEP_CONN), workers replaced when they die between requests, requests beyond the pool size queued, and
 * small responses sent whole with a Content-Length while slow ones still stream. No timing assertions: speed is
 * measured by `npm run bench:php`.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readlink, rm, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptExecutor } from '../devserver/cgi/executor.js';
import { createFastCgiPool } from '../devserver/cgi/fastcgi/pool.js';
import { readCgiResponseHead } from '../devserver/cgi/response-head.js';
import { cgiEnv, readText } from './helpers/cgi.js';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';
import { processGone } from './helpers/process.js';

let dir: string;

const envFor = (script: string, extra: Record<string, string> = {}): Record<string, string> => cgiEnv(dir, script, extra);

async function run(pool: ScriptExecutor, script: string, body: string | null = null): Promise<string> {
  const env = body === null ? envFor(script) : envFor(script, {
    REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(Buffer.byteLength(body)), CONTENT_TYPE: 'application/octet-stream',
  });
  const execution = pool.execute({ scriptFilename: join(dir, script), env, body: body === null ? null : Readable.from([Buffer.from(body)]), onStderr: () => undefined });
  const head = await readCgiResponseHead(execution.stdout);
  const text = await readText(head.body);
  await execution.finished;
  return text;
}

/**
 * The inodes of the Unix sockets a process holds beyond its stdio (its listening socket and any accepted
 * connection); fd 2 is a socket too, because libuv gives a child its stderr 'pipe' as a socketpair.
 */
async function socketInodes(pid: number): Promise<string[]> {
  const fds = (await readdir(`/proc/${pid}/fd`)).filter((fd) => Number(fd) > 2);
  const links = await Promise.all(fds.map((fd) => readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')));
  return links.filter((l) => l.startsWith('socket:')).sort();
}

const gone = (pid: number): Promise<boolean> => processGone(pid, 20);

const newPool = (size: number, maxRequests = 1000): Promise<ScriptExecutor> => createFastCgiPool({
  bin: 'php-cgi', size, maxRequests, path: process.env.PATH ?? '/usr/bin:/bin', onWorkerLog: () => undefined,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devmount-php-perf-'));
  await writeFile(join(dir, 'pid.php'), '<?php echo getmypid();');
  await writeFile(join(dir, 'slow-pid.php'), '<?php usleep(150000); echo getmypid();');
  // Debian's php.ini buffers 4 KB of output (output_buffering), so the script ends that buffer before flush().
  await writeFile(join(dir, 'flush-pid.php'), '<?php while (ob_get_level() > 0) { ob_end_flush(); } echo "first;"; flush(); usleep(200000); echo getmypid();');
  await writeFile(join(dir, 'echo.php'), '<?php echo getmypid(), " ", md5(file_get_contents("php://input"));');
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('FastCGI pool keeps its connections', () => {
  it('sends consecutive requests to a worker over one FastCGI connection (FCGI_KEEP_CONN)', async () => {
    const pool = await newPool(1);
    try {
      const pid = Number(await run(pool, 'pid.php'));
      const afterFirst = await socketInodes(pid);
      // The listening socket and the one kept connection; without FCGI_KEEP_CONN php-cgi closes it after each request.
      expect(afterFirst).toHaveLength(2);
      for (let i = 0; i < 5; i++) expect(Number(await run(pool, 'pid.php'))).toBe(pid);
      expect(await socketInodes(pid)).toEqual(afterFirst);
    } finally {
      await pool.close();
    }
  });

  it('keeps serving on the connection after requests with bodies, read or ignored', async () => {
    const pool = await newPool(1);
    try {
      const big = 'x'.repeat(200_000);
      const [pid, md5] = (await run(pool, 'echo.php', big)).split(' ');
      expect(md5).toBe(createHash('md5').update(big).digest('hex'));
      // pid.php never reads its body: php-cgi drains it at the end of the request, the connection stays usable.
      expect(await run(pool, 'pid.php', 'ignored body')).toBe(pid);
      expect((await run(pool, 'echo.php', 'abc')).split(' ')).toEqual([pid, '900150983cd24fb0d6963f7d28e17f72']);
      expect(await run(pool, 'pid.php')).toBe(pid);
    } finally {
      await pool.close();
    }
  });

  it('replaces a worker killed while idle, without losing the next request', async () => {
    const pool = await newPool(1);
    try {
      const first = Number(await run(pool, 'pid.php'));
      process.kill(first, 'SIGKILL');
      expect(await gone(first)).toBe(true);
      const second = Number(await run(pool, 'pid.php'));
      expect(second).toBeGreaterThan(0);
      expect(second).not.toBe(first);
      expect(Number(await run(pool, 'pid.php'))).toBe(second);
    } finally {
      await pool.close();
    }
  });

  it('does not kill a worker for a request that already ended (a client leaving during a long write)', async () => {
    const pool = await newPool(1);
    try {
      const execution = pool.execute({ scriptFilename: join(dir, 'pid.php'), env: envFor('pid.php'), body: null, onStderr: () => undefined });
      const head = await readCgiResponseHead(execution.stdout);
      const pid = await readText(head.body);
      await execution.finished;
      execution.abort('client disconnected');
      expect(await run(pool, 'pid.php')).toBe(pid);
    } finally {
      await pool.close();
    }
  });

  it('says a small page is complete when its header block is read, and a flushing script not yet', async () => {
    const pool = await newPool(1);
    try {
      const small = pool.execute({ scriptFilename: join(dir, 'pid.php'), env: envFor('pid.php'), body: null, onStderr: () => undefined });
      const smallHead = await readCgiResponseHead(small.stdout, () => small.outputComplete?.() === true);
      await small.finished;
      expect(smallHead.completeBody?.toString()).toMatch(/^\d+$/);
      // The stream is left flowing to its end: nothing more comes from it.
      expect(await readText(smallHead.body)).toBe('');

      const flushing = pool.execute({ scriptFilename: join(dir, 'flush-pid.php'), env: envFor('flush-pid.php'), body: null, onStderr: () => undefined });
      const flushingHead = await readCgiResponseHead(flushing.stdout, () => flushing.outputComplete?.() === true);
      expect(flushingHead.completeBody).toBeNull();
      expect(await readText(flushingHead.body)).toMatch(/^first;\d+$/);
      await flushing.finished;
      expect(flushing.outputComplete?.()).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('queues requests beyond the pool size and answers all of them from at most size workers', async () => {
    const pool = await newPool(2);
    try {
      const pids = await Promise.all(Array.from({ length: 8 }, () => run(pool, 'slow-pid.php')));
      expect(pids.every((p) => /^\d+$/.test(p))).toBe(true);
      expect(new Set(pids).size).toBeLessThanOrEqual(2);
      expect(new Set(pids).size).toBeGreaterThanOrEqual(1);
    } finally {
      await pool.close();
    }
  });
});

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function get(origin: string, target: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${target}`, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('responses through devmount serve', () => {
  let site: PhpSite;
  beforeAll(async () => {
    site = await startPhpSite({
      'small.php': '<?php header("X-Small: 1"); echo str_repeat("a", 5000);',
      // Debian's php.ini buffers 4 KB of output (output_buffering), so the script ends that buffer before flush().
      'stream.php': '<?php while (ob_get_level() > 0) { ob_end_flush(); } echo "first;"; flush(); usleep(300000); echo "second";',
      'big.php': '<?php echo str_repeat("b", 3 * 1024 * 1024);',
    }, { phpWorkers: 2 });
  });
  afterAll(async () => { await site.close(); });

  it('sends a small page whole, with a Content-Length', async () => {
    const reply = await get(site.origin, '/small.php');
    expect(reply.status).toBe(200);
    expect(reply.headers['x-small']).toBe('1');
    expect(reply.headers['content-length']).toBe('5000');
    expect(reply.headers['transfer-encoding']).toBeUndefined();
    expect(reply.body).toBe('a'.repeat(5000));
  });

  it('streams a script that flushes and keeps running', async () => {
    const reply = await get(site.origin, '/stream.php');
    expect(reply.status).toBe(200);
    expect(reply.headers['transfer-encoding']).toBe('chunked');
    expect(reply.body).toBe('first;second');
  });

  it('streams a large page completely', async () => {
    const reply = await get(site.origin, '/big.php');
    expect(reply.status).toBe(200);
    expect(reply.body.length).toBe(3 * 1024 * 1024);
    expect(reply.body).toBe('b'.repeat(3 * 1024 * 1024));
  });

  it('runs the new code of a script saved a moment ago (persistent workers do not serve stale OPcache)', async () => {
    // OPcache does not cache a file changed in the last 2 s (opcache.file_update_protection), so both versions get
    // an mtime in the past, as an editor's save a few seconds earlier would have.
    const file = join(site.root, 'edited.php');
    const secondsAgo = (s: number): Date => new Date(Date.now() - s * 1000);
    await writeFile(file, '<?php echo "version one";');
    await utimes(file, secondsAgo(20), secondsAgo(20));
    expect((await get(site.origin, '/edited.php')).body).toBe('version one');
    await writeFile(file, '<?php echo "version two";');
    await utimes(file, secondsAgo(10), secondsAgo(10));
    expect((await get(site.origin, '/edited.php')).body).toBe('version two');
  });

  it('answers many concurrent requests with more requests than workers', async () => {
    const replies = await Promise.all(Array.from({ length: 12 }, () => get(site.origin, '/small.php')));
    expect(replies.map((r) => r.status)).toEqual(Array.from({ length: 12 }, () => 200));
    expect(replies.every((r) => r.body === 'a'.repeat(5000))).toBe(true);
  });
});
