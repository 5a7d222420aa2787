/**
 * `devmount up` / `down` / `status` against the real harness sshd and real FUSE mounts, driven through the CLI
 * exactly as a login service would run it: no terminal, a config at the default XDG location, a private HOME,
 * state and runtime directory. Two named mounts (one with a dev server) come up, show in /proc/mounts and in
 * `status --json`, and `down` leaves nothing mounted. Failures: authentication without a terminal (the hint to
 * use a key or the agent), and a server that stays unreachable (bounded backoff, then exit 4).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startSshd, type Sshd } from './harness/sshd.js';

const execFileAsync = promisify(execFile);
const script = new URL('../bin/devmount.js', import.meta.url).pathname;

let sshd: Sshd;
let dir: string;
let env: NodeJS.ProcessEnv;
let sitePoint: string;
let blogPoint: string;
let servePort: number;

function runCli(args: string[], timeoutMs = 45_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // stdin is not a TTY (execFile pipes it and we close it): `up` must never prompt.
    const child = execFile(process.execPath, [script, ...args], { env, encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

async function mountedPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  return text.split('\n').map((l) => l.split(' ')[1] ?? '').filter((p) => p.startsWith(dir));
}

function mountOptions(identity: string): string {
  return `IdentityFile=${identity},UserKnownHostsFile=${sshd.knownHostsPath},StrictHostKeyChecking=yes`;
}

beforeAll(async () => {
  sshd = await startSshd();
  dir = await mkdtemp(join(tmpdir(), 'devmount-up-down-'));
  await mkdir(join(sshd.root, 'site'));
  await mkdir(join(sshd.root, 'blog'));
  await writeFile(join(sshd.root, 'site', 'index.html'), '<p>site home</p>');
  await writeFile(join(sshd.root, 'blog', 'post.txt'), 'first post');
  const runtime = join(dir, 'run');
  await mkdir(runtime, { mode: 0o700 });
  // Only the test's own key and known_hosts: no agent, no ~/.ssh of the person running the tests.
  const { SSH_AUTH_SOCK: _agent, ...rest } = process.env;
  env = { ...rest, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_STATE_HOME: join(dir, 'state'), XDG_RUNTIME_DIR: runtime };
  sitePoint = join(dir, 'mnt', 'site');
  blogPoint = join(dir, 'mnt', 'blog');
  servePort = await freePort();
  await mkdir(join(dir, 'config', 'devmount'), { recursive: true });
  await writeFile(join(dir, 'config', 'devmount', 'config.json'), JSON.stringify({
    mounts: {
      // A relative key path means relative to the config file, not to wherever `up` runs (the test's cwd).
      site: { remote: `${sshd.user}@127.0.0.1:${sshd.root}/site`, mountpoint: sitePoint, port: sshd.port,
        options: mountOptions(relative(join(dir, 'config', 'devmount'), sshd.privateKeyPath)), serve: { port: servePort } },
      // `~` is the HOME above: the mount point is created under it.
      blog: { remote: `${sshd.user}@127.0.0.1:${sshd.root}/blog`, mountpoint: '~/mnt/blog', port: sshd.port,
        options: `${mountOptions(sshd.privateKeyPath)},ro` },
    },
  }, null, 2));
});

afterAll(async () => {
  try {
    await runCli(['down']);
  } finally {
    // Whatever `down` could not remove (a failing test must not leave mounts behind).
    for (const point of await mountedPoints()) {
      await execFileAsync('fusermount3', ['-uz', point]).catch(() => execFileAsync('umount', ['-l', point]));
    }
    const serveRecord = join(dir, 'state', 'devmount', 'serve', 'site.json');
    const record = await readFile(serveRecord, 'utf8').then((t) => JSON.parse(t) as { pid: number }, () => undefined);
    if (record) {
      try { process.kill(record.pid, 'SIGKILL'); } catch { /* already stopped by down: nothing to clean */ }
    }
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

describe('up and down of two named mounts', () => {
  it('up mounts both (creating the mount points) and starts the dev server', async () => {
    const { code, stdout, stderr } = await runCli(['up']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.split('\n').sort()).toEqual([
      '',
      `blog: mounted ${sshd.user}@127.0.0.1:${sshd.root}/blog on ${blogPoint}`,
      `site: dev server at http://127.0.0.1:${servePort}/`,
      `site: mounted ${sshd.user}@127.0.0.1:${sshd.root}/site on ${sitePoint}`,
    ]);
    expect((await mountedPoints()).sort()).toEqual([blogPoint, sitePoint]);
    expect(await readFile(join(blogPoint, 'post.txt'), 'utf8')).toBe('first post');
    const page = await fetch(`http://127.0.0.1:${servePort}/index.html`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<p>site home</p>');
  });

  it('a second up skips what is already mounted and running', async () => {
    const { code, stdout, stderr } = await runCli(['up']);
    expect(code, stderr).toBe(0);
    expect(stdout.split('\n').sort()).toEqual([
      '',
      `blog: already mounted on ${blogPoint}`,
      `site: already mounted on ${sitePoint}`,
      `site: dev server at http://127.0.0.1:${servePort}/`,
    ]);
  });

  it('status --json lists both, live and configured, with the dev server URL', async () => {
    const { code, stdout } = await runCli(['status', '--json']);
    expect(code).toBe(0);
    const status = JSON.parse(stdout) as {
      mounts: Array<{ mountpoint: string; state: string }>;
      configured: Array<{ name: string; mountpoint: string; mounted: boolean; state: string; serveUrl: string | null }>;
    };
    expect(status.mounts.map((m) => [m.mountpoint, m.state]).sort()).toEqual([[blogPoint, 'connected'], [sitePoint, 'connected']]);
    expect(status.configured).toEqual([
      { name: 'site', remote: `${sshd.user}@127.0.0.1:${sshd.root}/site`, mountpoint: sitePoint, mounted: true, state: 'connected', serveUrl: `http://127.0.0.1:${servePort}/` },
      { name: 'blog', remote: `${sshd.user}@127.0.0.1:${sshd.root}/blog`, mountpoint: blogPoint, mounted: true, state: 'connected', serveUrl: null },
    ]);
  });

  it('a dead mount (its daemon killed: "Transport endpoint is not connected") is cleared and mounted again', async () => {
    const before = JSON.parse((await runCli(['status', '--json'])).stdout) as { mounts: Array<{ mountpoint: string; pid: number }> };
    const daemon = before.mounts.find((m) => m.mountpoint === blogPoint);
    expect(daemon).toBeDefined();
    process.kill(daemon?.pid ?? 0, 'SIGKILL');
    await expect(readFile(join(blogPoint, 'post.txt'), 'utf8')).rejects.toThrow(/ENOTCONN|ECONNABORTED/);
    const { code, stdout, stderr } = await runCli(['up', 'blog']);
    expect(code, stderr).toBe(0);
    expect(stdout).toBe(`blog: mounted ${sshd.user}@127.0.0.1:${sshd.root}/blog on ${blogPoint}\n`);
    expect((await mountedPoints()).filter((p) => p === blogPoint)).toEqual([blogPoint]);
    expect(await readFile(join(blogPoint, 'post.txt'), 'utf8')).toBe('first post');
  });

  it('logs every step as JSON lines under $XDG_STATE_HOME/devmount/', async () => {
    const text = await readFile(join(dir, 'state', 'devmount', 'devmount.log'), 'utf8');
    const events = text.trim().split('\n').map((line) => JSON.parse(line) as { event: string; mount?: string; command: string });
    expect(events.filter((e) => e.event === 'mounted').map((e) => e.mount).sort()).toEqual(['blog', 'blog', 'site']);
    expect(events.filter((e) => e.event === 'stale').map((e) => e.mount)).toEqual(['blog']);
    expect(events.filter((e) => e.event === 'skip').map((e) => e.mount).sort()).toEqual(['blog', 'site']);
    expect(events.some((e) => e.event === 'serve-started' && e.mount === 'site')).toBe(true);
  });

  it('down stops the dev server and leaves nothing mounted', async () => {
    const { code, stdout, stderr } = await runCli(['down']);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.split('\n').sort()).toEqual([
      '',
      `blog: unmounted ${blogPoint}`,
      'site: dev server stopped',
      `site: unmounted ${sitePoint}`,
    ]);
    expect(await mountedPoints()).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${servePort}/`)).rejects.toThrow();
    const status = JSON.parse((await runCli(['status', '--json'])).stdout) as { configured: Array<{ mounted: boolean; state: string }> };
    expect(status.configured.map((c) => [c.mounted, c.state])).toEqual([[false, 'unmounted'], [false, 'unmounted']]);
  });

  it('down of what is not mounted says so and succeeds', async () => {
    const { code, stdout } = await runCli(['down', 'blog']);
    expect(code).toBe(0);
    expect(stdout).toBe('blog: not mounted\n');
  });
});

describe('up failures without a terminal', () => {
  it('authentication failure: exit 5 and a hint to use a key or the agent, nothing mounted', async () => {
    const otherKey = join(dir, 'other_ed25519');
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', otherKey]);
    const config = join(dir, 'auth.json');
    const point = join(dir, 'mnt', 'auth');
    await writeFile(config, JSON.stringify({ mounts: { auth: {
      remote: `${sshd.user}@127.0.0.1:${sshd.root}/site`, mountpoint: point, port: sshd.port, options: mountOptions(otherKey),
    } } }));
    const { code, stderr } = await runCli(['up', '--config', config, '--wait', '0']);
    expect(code, stderr).toBe(5);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^devmount: up auth: .+ \(no terminal to ask for a password or passphrase: use a key without one, e\.g\. "options": "IdentityFile=~\/\.ssh\/id_ed25519", or load it into ssh-agent\)$/);
    expect(await mountedPoints()).toEqual([]);
  });

  it('unreachable server: retries with backoff for --wait, then exit 4, each retry logged', async () => {
    // Port 1 (tcpmux) is privileged and unused here: refused for certain, unlike a port found free a moment ago,
    // which a test running in parallel may have taken since.
    const closedPort = 1;
    const config = join(dir, 'unreachable.json');
    await writeFile(config, JSON.stringify({ mounts: { gone: {
      remote: `${sshd.user}@127.0.0.1:${sshd.root}/site`, mountpoint: join(dir, 'mnt', 'gone'), port: closedPort,
      options: mountOptions(sshd.privateKeyPath),
    } } }));
    const { code, stdout, stderr } = await runCli(['up', '--config', config, '--wait', '2']);
    expect(code, `${stdout}${stderr}`).toBe(4);
    const retries = stdout.split('\n').filter((l) => l.startsWith('gone: cannot reach the server yet'));
    // The 2 s are counted from the first failure: a retry after 1 s, and a second one only if that attempt
    // left time before the deadline; never a third.
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries.length).toBeLessThanOrEqual(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(/^devmount: up gone: /);
    const log = await readFile(join(dir, 'state', 'devmount', 'devmount.log'), 'utf8');
    const retryEvents = log.trim().split('\n').map((l) => JSON.parse(l) as { event: string; mount?: string }).filter((e) => e.event === 'retry' && e.mount === 'gone');
    expect(retryEvents).toHaveLength(retries.length);
    expect(await mountedPoints()).toEqual([]);
  });
});
