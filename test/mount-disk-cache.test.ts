/**
 * The disk cache through the CLI: `devmount mount -o cache_dir=…` keeps what was read, so a remount starts warm
 * (the file is read from disk, counted by `devmount status --json`); `serve user@host:path --cache-dir` keeps
 * the site's files there, `--no-disk-cache` keeps nothing.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';
import { CLI, createCliEnv, isMounted, type CliEnv } from './mount-cli-helpers.js';
import { eventually } from './helpers/eventually.js';
import { get } from './remote-serve-helpers.js';

let sshd: Sshd;
let cli: CliEnv;
let site: string;

beforeAll(async () => {
  sshd = await startSshd();
  cli = await createCliEnv();
  site = join(sshd.root, 'site');
  await mkdir(join(site, 'docs'), { recursive: true });
  await writeFile(join(site, 'index.html'), '<body>remote page</body>');
  await writeFile(join(site, 'docs', 'a.txt'), 'alpha');
});

afterAll(async () => {
  await cli?.cleanup();
  await sshd?.stop();
});

/** The cache index of the one remote cached under `cacheDir`: the paths it names. */
async function cachedPaths(cacheDir: string): Promise<string[]> {
  const [remoteDir] = await readdir(cacheDir);
  const index = JSON.parse(await readFile(join(cacheDir, remoteDir!, 'index.json'), 'utf8')) as { entries: Array<[string]> };
  return index.entries.map(([path]) => path).sort();
}

async function cacheCounters(mp: string): Promise<Record<string, number>> {
  const r = await cli.run(['status', '--json']);
  const mine = (JSON.parse(r.stdout) as { mounts: Array<{ mountpoint: string; cache: Record<string, number> }> }).mounts.find((m) => m.mountpoint === mp);
  return mine?.cache ?? {};
}

test('mount -o cache_dir: a remount reads from disk what the first mount read over SFTP', async () => {
  const cacheDir = join(cli.scratch, 'mount-cache');
  const mp = await cli.newMountpoint('mnt');
  const mount = () => cli.run(['mount', ...cli.sshArgs(sshd), '-o', `cache_dir=${cacheDir}`, `127.0.0.1:${site}`, mp]);
  expect((await mount()).code).toBe(0);
  expect(await readFile(join(mp, 'docs', 'a.txt'), 'utf8')).toBe('alpha');
  expect((await cacheCounters(mp)).dataMisses).toBeGreaterThanOrEqual(1); // read over SFTP
  expect((await cli.run(['unmount', mp])).code).toBe(0);
  // The mount's process writes the index as it exits, just after the unmount returned.
  await eventually(async () => (await cachedPaths(cacheDir).catch((): string[] => [])).includes('/docs/a.txt'));
  expect(await cachedPaths(cacheDir)).toEqual(['/docs/a.txt']);

  expect((await mount()).code).toBe(0);
  try {
    expect(await readFile(join(mp, 'docs', 'a.txt'), 'utf8')).toBe('alpha');
    const counters = await cacheCounters(mp);
    expect(counters.diskHits).toBeGreaterThanOrEqual(1);
    expect(counters.dataMisses).toBe(0);
  } finally {
    if (await isMounted(mp)) await cli.run(['unmount', mp]);
  }
});

/** Runs `devmount serve ARGS --port 0`, GETs `/` and `/docs/a.txt`, stops it with SIGTERM (exit 0 expected). */
async function serveOnce(args: readonly string[]): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'serve', `${sshd.user}@127.0.0.1:${site}`, ...args, '--port', '0', '--log-format', 'json'],
    { env: cli.env, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    let stdout = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed in 20 s: ${stdout}`)), 20_000);
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    });
    const port = Number(new URL(url).port);
    expect((await get(port, '/')).body).toContain('remote page');
    expect((await get(port, '/docs/a.txt')).body).toBe('alpha');
  } finally {
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }
}

test('serve --cache-dir keeps the site files there; --no-disk-cache keeps none', async () => {
  const ssh = ['-o', `Port=${sshd.port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath}`];
  const kept = join(cli.scratch, 'serve-cache');
  await serveOnce([...ssh, '--cache-dir', kept]);
  // What was fetched (by the requests, or the start-up stream before them) is kept.
  expect(await cachedPaths(kept)).toEqual(['/docs/a.txt', '/index.html']);
  const none = join(cli.scratch, 'serve-no-cache');
  await serveOnce([...ssh, '--cache-dir', none, '--no-disk-cache']);
  await expect(readdir(none)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('--cache-dir on a local directory is refused', async () => {
  const r = await cli.run(['serve', site, '--cache-dir', join(cli.scratch, 'x')]);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/apply to a remote site/);
});
