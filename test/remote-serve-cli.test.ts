/**
 * `devmount serve user@host:/path` as a user runs it: the banner names the remote watch method, the
 * page comes from the remote, SIGTERM stops it cleanly; bad input gets one line and a documented exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LIVERELOAD_SNIPPET } from '../devserver/livereload/inject.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { CLI, createCliEnv, type CliEnv } from './mount-cli-helpers.js';
import { get } from './remote-serve-helpers.js';
import { eventually } from './helpers/eventually.js';

let sshd: Sshd;
let cli: CliEnv;
let site: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  cli = await createCliEnv();
  site = join(sshd.root, 'site');
  await mkdir(site);
  await writeFile(join(site, 'index.html'), '<body>remote page</body>');
});

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await cli?.cleanup();
  await sshd?.stop();
});

const sshOptions = () => ['-o', `Port=${sshd.port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath}`];

/** Starts `devmount serve ARGS --port 0` and waits (bounded) for the URL it prints. */
async function startServe(args: readonly string[]): Promise<{ child: ChildProcess; url: string; stdout: () => string }> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args, '--port', '0', '--log-format', 'json'],
    { env: cli.env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed in 20 s; stdout=${stdout} stderr=${stderr}`)), 20_000);
    child.stdout.on('data', () => {
      const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[0]);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}: ${stderr}`)));
  });
  return { child, url, stdout: () => stdout };
}

test('serve user@host:/path prints the URL and the watch method, serves the remote page, stops on SIGTERM', async () => {
  const { child, url, stdout } = await startServe([`${sshd.user}@127.0.0.1:${site}`, ...sshOptions()]);
  expect(stdout()).not.toContain('private mount'); // no scripts in this site: no FUSE mount
  expect(stdout()).toContain(`devmount serve: ${sshd.user}@127.0.0.1:${site} (remote watch: inotify, live reload on)`);
  const page = await get(Number(new URL(url).port), '/');
  expect(page.status).toBe(200);
  expect(page.body).toContain('remote page');
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});

/** `serve user@host:SITE` of a new remote site holding `info.php`, and the private mount it printed. */
async function servePhpSite(name: string, script: string): Promise<{ child: ChildProcess; url: string; mountPath: string | undefined }> {
  const phpSite = join(sshd.root, name);
  await mkdir(phpSite);
  await writeFile(join(phpSite, 'info.php'), script);
  const { child, url, stdout } = await startServe([`${sshd.user}@127.0.0.1:${phpSite}`, ...sshOptions()]);
  return { child, url, mountPath: /private mount of the site at (\S+)/.exec(stdout())?.[1] };
}

test('PHP from the remote runs from a private FUSE mount, removed when the server stops', async () => {
  const { child, url, mountPath } = await servePhpSite('php-site', '<?php echo "php ran ", __FILE__;');
  expect(mountPath).toBeDefined();
  expect(await readFile('/proc/self/mounts', 'utf8')).toContain(` ${mountPath!} fuse`);
  const page = await get(Number(new URL(url).port), '/info.php');
  expect(page.status).toBe(200);
  // A PHP page from the remote carries the live-reload script like any HTML page.
  expect(page.body).toBe(`php ran ${mountPath!}/info.php${LIVERELOAD_SNIPPET.toString()}`);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(await readFile('/proc/self/mounts', 'utf8')).not.toContain(` ${mountPath!} `);
  await expect(stat(mountPath!)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('a server killed with SIGKILL leaves no private mount behind (auto_unmount)', async () => {
  const { child, url, mountPath } = await servePhpSite('php-killed', '<?php echo "php ran";');
  expect(mountPath).toBeDefined();
  expect((await get(Number(new URL(url).port), '/info.php')).body).toContain('php ran');
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
  // fusermount3 notices the closed /dev/fuse descriptor at once; bounded wait (10 s) for it to unmount.
  const unmounted = async () => !(await readFile('/proc/self/mounts', 'utf8')).includes(` ${mountPath!} `);
  await eventually(unmounted, 10_000);
});

test.each([
  [['--remote-watch', 'sometimes'], 2, /--remote-watch/],
  [['--remote-poll', 'fast'], 2, /--remote-poll must be a whole number/],
  [['-o', 'no_such_option=1'], 2, /no_such_option/],
])('bad flags %j: exit %i and a message without a stack trace', async (flags, code, message) => {
  const r = await cli.run(['serve', `${sshd.user}@127.0.0.1:${site}`, ...sshOptions(), ...flags]);
  expect(r.code).toBe(code);
  expect(r.stderr.split('\n')[0]).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
});

test('a remote path that does not exist: the remote-path exit code', async () => {
  const r = await cli.run(['serve', `${sshd.user}@127.0.0.1:${site}/missing`, ...sshOptions()]);
  expect(r.code).toBe(7);
  expect(r.stderr).toMatch(/^devmount: remote path .* does not exist/);
});

test('-o on a local directory is refused', async () => {
  const r = await cli.run(['serve', site, '-o', 'Port=22']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/apply to a remote site/);
});
