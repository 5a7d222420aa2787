/**
 * The request id across processes and down to SFTP (real sshd harness): a mount daemon serving its mount
 * (`mount --serve`) at debug level logs, under the id of the request, every remote operation done for it;
 * a foreground `devmount serve` proxying to it passes its id on; `devmount logs --req ID` then prints the lines of
 * both processes, in time order. `serve user@host:path` logs its SFTP operations the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';
import { CLI, createCliEnv, isMounted, type CliEnv } from './mount-cli-helpers.js';
import { freePort, rawRequest } from './serve-fixture.js';
import { eventually } from './helpers/eventually.js';
import { recordLines, schemaErrors } from './helpers/log-schema.js';

let sshd: Sshd;
let cli: CliEnv;
let debugEnv: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];
const REMOTE_OPS = ['lstat', 'stat', 'readdir', 'readlink', 'open', 'read', 'listing-wait', 'tar-wait'];

interface Started { child: ChildProcess; stdout: () => string; stderr: () => string }

function start(args: readonly string[], env: NodeJS.ProcessEnv): Started {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  return { child, stdout: () => out, stderr: () => err };
}

/** Runs a CLI command to its end (bounded). */
async function run(args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const started = start(args, env);
  const timer = setTimeout(() => started.child.kill('SIGKILL'), 45_000);
  const code = await new Promise<number | null>((resolve) => started.child.once('close', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout: started.stdout(), stderr: started.stderr() };
}

/**
 * Requests `path` until it is served (bounded): a file written on the server shows once the remote watcher has
 * reported it, which takes a moment. Each attempt is a request of its own (`headers()` may give each its id).
 */
async function untilServed(port: number, path: string, headers: () => Record<string, string>): Promise<Awaited<ReturnType<typeof rawRequest>>> {
  for (let i = 0; ; i += 1) {
    const res = await rawRequest(port, path, headers());
    if (res.status !== 404 || i >= 100) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const sshOption = () => `Port=${sshd.port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath}`;

beforeAll(async () => {
  sshd = await startSshd();
  cli = await createCliEnv();
  debugEnv = { ...cli.env, DEVMOUNT_DEBUG: '1' };
  await mkdir(join(sshd.root, 'site', 'remote'), { recursive: true });
  await writeFile(join(sshd.root, 'site', 'remote', 'page.html'), '<body>served from the mount daemon</body>');
  await writeFile(join(sshd.root, 'site', 'remote', 'other.html'), '<body>other page</body>');
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await cli?.cleanup();
  await sshd?.stop();
});

test('devmount logs --req ID prints what one request caused in a dev server and in the mount daemon it reached', async () => {
  const mp = await cli.newMountpoint('mnt');
  const daemonPort = await freePort();
  const mounted = await run(['mount', '-o', sshOption(), '--serve', String(daemonPort), `127.0.0.1:${sshd.root}/site`, mp], debugEnv);
  expect(mounted.stderr).toBe('');
  expect(mounted.code).toBe(0);
  try {
    // A foreground dev server of a local directory, proxying /remote to the daemon's dev server.
    const local = await cli.newMountpoint('local-site');
    const port = await freePort();
    const front = start(['serve', local, '--port', String(port), '--proxy', `/remote=http://127.0.0.1:${daemonPort}`], cli.env);
    await eventually(() => front.stdout().includes(`:${port}/`) || front.child.exitCode !== null, 15_000, 'the front server URL');
    // A page written after the start: the start-up prefetch brought every file that existed then, so only a later
    // one makes the daemon go to the server for this request.
    await writeFile(join(sshd.root, 'site', 'remote', 'late.html'), '<body>served from the mount daemon, late</body>');
    const res = await untilServed(port, '/remote/late.html', () => ({}));
    expect(res.status).toBe(200);
    expect(res.text).toContain('served from the mount daemon, late');
    const id = res.headers['x-request-id'] ?? '';
    expect(id).not.toBe('');

    let lines: string[] = [];
    await eventually(async () => {
      const r = await run(['logs', '--req', id, '--json'], cli.env);
      lines = recordLines(r.stdout);
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      return records.some((r) => r.msg === 'request' && r.layer === undefined)
        && records.some((r) => r.msg === 'request' && r.layer === 'http')
        && records.some((r) => r.msg === 'remote operation');
    }, 15_000, 'the lines of both processes in devmount logs');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.every((r) => r.reqId === id)).toBe(true);
    // The front server's access line, and the daemon's (its pid, its http layer) for the same request.
    const daemonPid = records.find((r) => r.layer === 'http')?.pid;
    expect(daemonPid).toEqual(expect.any(Number));
    expect(daemonPid).not.toBe(front.child.pid);
    expect(records.filter((r) => r.msg === 'request').map((r) => r.status)).toEqual([200, 200]);
    // The remote operations done for it: which, on what, how long.
    const ops = records.filter((r) => r.msg === 'remote operation');
    for (const op of ops) {
      expect(REMOTE_OPS).toContain(op.op);
      expect(op).toMatchObject({ layer: expect.stringMatching(/^(sftp|prefetch)$/), pid: daemonPid, ms: expect.any(Number) });
    }
    expect(ops.some((op) => op.op === 'read' && op.path === '/remote/late.html')).toBe(true);
    // Time order across the two files.
    const times = records.map((r) => Date.parse(String(r.time)));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(lines.map(schemaErrors).filter(Boolean)).toEqual([]);

    const stopped = new Promise<number | null>((resolve) => front.child.once('exit', (code) => resolve(code)));
    front.child.kill('SIGTERM');
    expect(await stopped).toBe(0);

    // A mount operation the server refuses: its line has the errno FUSE answered and the server's SFTP status.
    await expect(rmdir(join(mp, 'remote'))).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    await eventually(async () => {
      const r = await run(['logs', '--json', '--level', 'debug'], cli.env);
      return recordLines(r.stdout).some((l) => l.includes('"msg":"remote operation failed"') && l.includes('"op":"rmdir"'));
    }, 10_000, 'the failed rmdir in the daemon log');
    const failed = recordLines((await run(['logs', '--json'], cli.env)).stdout).map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((r) => r.msg === 'remote operation failed' && r.op === 'rmdir');
    // SSH_FX_FAILURE (4): OpenSSH's sftp-server folds ENOTEMPTY into it (fs/sftp/status.ts).
    expect(failed).toMatchObject({ level: 20, layer: 'sftp', path: '/remote', errno: 'ENOTEMPTY', sftpStatus: 4 });
  } finally {
    if (await isMounted(mp)) expect((await run(['unmount', mp], cli.env)).code).toBe(0);
  }
});

test('serve user@host:path at debug level: the page\'s SFTP operations are logged under its request id', async () => {
  const serve = start(['serve', `${sshd.user}@127.0.0.1:${sshd.root}/site`, '-o', sshOption(), '--port', '0', '--log-format', 'json'], debugEnv);
  await eventually(() => /http:\/\/127\.0\.0\.1:\d+\//.test(serve.stdout()) || serve.child.exitCode !== null, 20_000, 'the URL');
  const port = Number(/http:\/\/127\.0\.0\.1:(\d+)\//.exec(serve.stdout())?.[1]);
  // Written after the start, so it is not among the files the start-up prefetch brought.
  await writeFile(join(sshd.root, 'site', 'remote', 'other-late.html'), '<body>other page, late</body>');
  let attempt = 0;
  const res = await untilServed(port, '/remote/other-late.html', () => ({ 'X-Request-Id': `remote-page-${++attempt}` }));
  expect(res.status).toBe(200);
  const pageId = `remote-page-${attempt}`;
  const missing = await rawRequest(port, '/remote/none.html', { 'X-Request-Id': 'remote-404-1' });
  expect(missing.status).toBe(404);
  const records = () => recordLines(serve.stderr()).map((l) => JSON.parse(l) as Record<string, unknown>);
  await eventually(() => records().some((r) => r.reqId === 'remote-404-1' && r.msg === 'request'), 10_000, 'the access lines');
  const ops = records().filter((r) => r.msg === 'remote operation' && r.reqId === pageId);
  for (const op of ops) {
    expect(REMOTE_OPS).toContain(op.op);
    expect(op.ms).toEqual(expect.any(Number));
  }
  expect(ops.filter((r) => r.op === 'open' || r.op === 'read').map((r) => `${String(r.op)} ${String(r.path)}`))
    .toEqual(expect.arrayContaining(['open /remote/other-late.html', 'read /remote/other-late.html']));
  // The 404: the lookup failed on the server, and its line says so.
  expect(records().find((r) => r.reqId === 'remote-404-1' && r.msg === 'request')).toMatchObject({ status: 404, lookup: '/remote/none.html', errno: 'ENOENT' });
  expect(recordLines(serve.stderr()).map(schemaErrors).filter(Boolean)).toEqual([]);
  const exited = new Promise<number | null>((resolve) => serve.child.once('exit', (code) => resolve(code)));
  serve.child.kill('SIGTERM');
  expect(await exited).toBe(0);
});
