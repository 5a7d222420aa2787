import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScriptExecutor } from '../devserver/cgi/executor.js';
import { createFastCgiPool } from '../devserver/cgi/fastcgi/pool.js';
import { readCgiResponseHead } from '../devserver/cgi/response-head.js';
import { createSpawnExecutor } from '../devserver/cgi/spawn-executor.js';
import { cgiEnv, readText } from './helpers/cgi.js';

let dir: string;
const executors: Array<[string, () => Promise<ScriptExecutor>]> = [
  ['php-cgi per request', async () => createSpawnExecutor({ interpreter: 'php-cgi', description: 'spawn', path: process.env.PATH ?? '/usr/bin:/bin' })],
  ['FastCGI pool', () => createFastCgiPool({ bin: 'php-cgi', size: 2, maxRequests: 3, path: process.env.PATH ?? '/usr/bin:/bin', onWorkerLog: () => undefined })],
];

const envFor = (script: string, extra: Record<string, string> = {}): Record<string, string> => cgiEnv(dir, script, extra);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devmount-cgi-exec-'));
  await writeFile(join(dir, 'hello.php'), '<?php header("X-Test: yes"); echo "hello ", $_GET["name"] ?? "nobody", " ", getmypid();');
  await writeFile(join(dir, 'body.php'), '<?php $n = 0; $in = fopen("php://input", "r"); while (!feof($in)) { $n += strlen(fread($in, 65536)); } echo "read $n";');
  await writeFile(join(dir, 'stderr.php'), '<?php file_put_contents("php://stderr", "oops from script\\n"); echo "ok";');
  await writeFile(join(dir, 'hang.php'), '<?php echo str_repeat(" ", 10); flush(); sleep(60); echo "never";');
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe.each(executors)('%s', (_name, make) => {
  let executor: ScriptExecutor;
  beforeAll(async () => { executor = await make(); });
  afterAll(async () => { await executor.close(); });

  it('runs a script with the CGI environment and returns headers and body', async () => {
    const run = executor.execute({ scriptFilename: join(dir, 'hello.php'), env: envFor('hello.php', { QUERY_STRING: 'name=ann' }), body: null, onStderr: () => undefined });
    const head = await readCgiResponseHead(run.stdout);
    expect(head.headers).toContainEqual(['X-Test', 'yes']);
    expect(await readText(head.body)).toMatch(/^hello ann \d+$/);
    await run.finished;
  });

  it('streams a request body of several records to the script', async () => {
    const size = 3 * 1024 * 1024 + 17;
    const body = Readable.from((function* () { for (let sent = 0; sent < size; sent += 65536) yield Buffer.alloc(Math.min(65536, size - sent), 97); })());
    const run = executor.execute({ scriptFilename: join(dir, 'body.php'), env: envFor('body.php', { REQUEST_METHOD: 'POST', CONTENT_LENGTH: String(size), CONTENT_TYPE: 'application/octet-stream' }), body, onStderr: () => undefined });
    const head = await readCgiResponseHead(run.stdout);
    expect(await readText(head.body)).toBe(`read ${size}`);
  });

  it('passes script stderr line by line', async () => {
    const lines: string[] = [];
    const run = executor.execute({ scriptFilename: join(dir, 'stderr.php'), env: envFor('stderr.php'), body: null, onStderr: (l) => lines.push(l) });
    const head = await readCgiResponseHead(run.stdout);
    expect(await readText(head.body)).toBe('ok');
    await run.finished;
    // The pool's workers write php://stderr to a pipe that may deliver after the response: wait a bounded time.
    for (let i = 0; i < 40 && !lines.some((l) => l.includes('oops from script')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(lines.some((l) => l.includes('oops from script'))).toBe(true);
  });

  it('abort kills a hanging script and the executor keeps working', async () => {
    const run = executor.execute({ scriptFilename: join(dir, 'hang.php'), env: envFor('hang.php'), body: null, onStderr: () => undefined });
    const output = readText(run.stdout).catch(() => 'destroyed');
    await new Promise((resolve) => setTimeout(resolve, 300));
    run.abort('test');
    await run.finished;
    expect(await output).not.toContain('never');
    const again = executor.execute({ scriptFilename: join(dir, 'hello.php'), env: envFor('hello.php'), body: null, onStderr: () => undefined });
    const head = await readCgiResponseHead(again.stdout);
    expect(await readText(head.body)).toMatch(/^hello nobody/);
  });
});

describe('FastCGI pool reuse', () => {
  it('reuses a worker process and replaces it after PHP_FCGI_MAX_REQUESTS', async () => {
    const pool = await createFastCgiPool({ bin: 'php-cgi', size: 1, maxRequests: 2, path: process.env.PATH ?? '/usr/bin:/bin', onWorkerLog: () => undefined });
    try {
      const pids: string[] = [];
      for (let i = 0; i < 4; i++) {
        const run = pool.execute({ scriptFilename: join(dir, 'hello.php'), env: envFor('hello.php'), body: null, onStderr: () => undefined });
        const head = await readCgiResponseHead(run.stdout);
        pids.push((await readText(head.body)).split(' ').pop() ?? '');
        await run.finished;
      }
      expect(pids[0]).toBe(pids[1]);
      expect(pids[2]).toBe(pids[3]);
      expect(pids[1]).not.toBe(pids[2]);
    } finally {
      await pool.close();
    }
  });
});
