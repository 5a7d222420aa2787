/**
 * devmount as an ordinary user: mount and unmount, `up`/`down`, and `serve` with PHP, run as an unprivileged
 * user (test/helpers/unprivileged-user.ts sets it up as a Debian desktop has it: /dev/fuse 0666, setuid
 * fusermount3). libfuse 3 mounts through fusermount3 for a user who is not root; the mount belongs to that
 * user, so everything that reads it runs as the user too (root itself may not enter a FUSE mount of another
 * user without allow_other).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, freePort, type Sshd } from './harness/sshd.js';
import { get } from './remote-serve-helpers.js';
import { isMounted } from './mount-cli-helpers.js';
import { eventually } from './helpers/eventually.js';
import { unprivilegedUser, type UnprivilegedUser } from './helpers/unprivileged-user.js';

const execFileAsync = promisify(execFile);
const USER = 'devmount-nonroot';
const REPO = fileURLToPath(new URL('..', import.meta.url));
const ADDON = join('native', 'fuse3', 'build', 'Release', 'fuse3_native.node');

describe('devmount as an unprivileged user', () => {
  let sshd: Sshd;
  let user: UnprivilegedUser;
  /** Where the user reaches this package: the checkout, or a bind mount of it when the checkout is private. */
  let pkg: string;
  let bindMount: string | undefined;
  let sshOptions: string;
  const children: ChildProcess[] = [];
  const devmount = (args: readonly string[], timeoutMs?: number) => user.run(process.execPath, [join(pkg, 'bin', 'devmount.js'), ...args], timeoutMs);

  beforeAll(async () => {
    user = await unprivilegedUser(USER);
    pkg = REPO;
    if (!(await user.canRead(join(REPO, 'bin', 'devmount.js')))) {
      // A checkout under a private directory (/root/…): its files are world-readable, the path above is not.
      // A bind mount of it under /tmp gives the user a path it may walk.
      bindMount = await mkdtemp(join(tmpdir(), 'devmount-pkg-'));
      await execFileAsync('mount', ['--bind', REPO, bindMount]);
      pkg = bindMount;
    }
    // The built addon and dist/ must be readable by the user, or devmount would fall back (or not start).
    expect(await user.canRead(join(pkg, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(await user.canRead(join(pkg, ADDON))).toBe(true);
    sshd = await startSshd();
    await mkdir(join(sshd.root, 'site'));
    await writeFile(join(sshd.root, 'site', 'index.html'), '<p>home</p>');
    await writeFile(join(sshd.root, 'site', 'info.php'), '<?php echo "php ran as ", posix_getuid();');
    const key = await user.give(sshd.privateKeyPath, 'ssh/key');
    const knownHosts = await user.give(sshd.knownHostsPath, 'ssh/known_hosts');
    sshOptions = `Port=${sshd.port},IdentityFile=${key},UserKnownHostsFile=${knownHosts},StrictHostKeyChecking=yes`;
  });

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    if (user) {
      await devmount(['down']).catch(() => undefined);
      await user.run('fusermount3', ['-uz', join(user.home, 'mnt')]).catch(() => undefined);
    }
    await sshd?.stop();
    await user?.restore();
    if (bindMount) {
      await execFileAsync('umount', [bindMount]);
      await rm(bindMount, { recursive: true, force: true });
    }
  });

  it('mount and unmount: fusermount3 mounts for the user; reads and writes go through as that user', async () => {
    const mp = join(user.home, 'mnt');
    await user.run('mkdir', [mp]);
    const mounted = await devmount(['mount', '-o', sshOptions, `${sshd.user}@127.0.0.1:${sshd.root}/site`, mp]);
    expect(mounted.stderr).toBe('');
    expect(mounted.code).toBe(0);
    const entry = (await readFile('/proc/self/mounts', 'utf8')).split('\n').find((line) => line.split(' ')[1] === mp);
    expect(entry).toContain('fuse.devmount');
    expect(entry).toContain(`user_id=${user.uid}`);
    expect((await user.run('cat', [join(mp, 'index.html')])).stdout).toBe('<p>home</p>');
    expect((await user.run('sh', ['-c', `printf 'from the user' > ${join(mp, 'note.txt')}`])).code).toBe(0);
    expect(await readFile(join(sshd.root, 'site', 'note.txt'), 'utf8')).toBe('from the user');
    // Served by the libfuse 3 binding (the fallback has no kernel invalidation to count).
    const status = JSON.parse((await devmount(['status', '--json'])).stdout) as { mounts: Array<{ mountpoint: string; cache: Record<string, number> }> };
    expect(status.mounts.find((m) => m.mountpoint === mp)?.cache.kernelInvalidationsQueued).toBeGreaterThan(0);
    const unmounted = await devmount(['unmount', mp]);
    expect(unmounted.stderr).toBe('');
    expect(unmounted.code).toBe(0);
    expect(await isMounted(mp)).toBe(false);
  });

  it('up mounts and starts the dev server; down stops both', async () => {
    const mp = join(user.home, 'up', 'site');
    const port = await freePort();
    await user.write(join('config', 'devmount', 'config.json'), JSON.stringify({
      mounts: { site: { remote: `${sshd.user}@127.0.0.1:${sshd.root}/site`, mountpoint: mp, options: sshOptions, serve: { port } } },
    }));
    const up = await devmount(['up']);
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    expect(await isMounted(mp)).toBe(true);
    const page = await get(port, '/index.html');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<p>home</p>');
    const down = await devmount(['down']);
    expect(down.code, down.stderr).toBe(0);
    expect(await isMounted(mp)).toBe(false);
  });

  it('serve user@host:/path runs PHP as the user from a private mount of its own', async () => {
    const child = user.spawn(process.execPath, [join(pkg, 'bin', 'devmount.js'), 'serve', `${sshd.user}@127.0.0.1:${sshd.root}/site`, '-o', sshOptions, '--port', '0', '--no-livereload']); // the page is compared byte for byte
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
    await eventually(async () => /http:\/\/127\.0\.0\.1:\d+\//.test(stdout), 20_000).catch((err: Error) => { throw new Error(`${err.message}; stderr: ${stderr}`); });
    const url = new URL(/http:\/\/127\.0\.0\.1:\d+\//.exec(stdout)?.[0] ?? '');
    const mountPath = /private mount of the site at (\S+)/.exec(stdout)?.[1] ?? '';
    expect(await isMounted(mountPath)).toBe(true);
    const page = await get(Number(url.port), '/info.php');
    expect(page.status).toBe(200);
    expect(page.body).toBe(`php ran as ${user.uid}`);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(await isMounted(mountPath)).toBe(false);
  });
});
