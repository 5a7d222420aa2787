/**
 * `devmount mount` end to end, as the user runs it: the CLI daemonizes, mounts the harness sshd's directory
 * through FUSE, and these tests work on the mount with ordinary file calls (served by the daemon, not by
 * this process) and compare with the server side (sshd.root). Then status, refresh, unmount, SIGTERM and a
 * dead mount's cleanup.
 */
import { createHash, randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readFile, readdir, readlink, rename, rmdir, stat, symlink, truncate, unlink, utimes, writeFile, appendFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';
import { createCliEnv, isMounted, processAlive, sh, type CliEnv } from './mount-cli-helpers.js';
import { eventually } from './helpers/eventually.js';

let sshd: Sshd;
let cli: CliEnv;
let mp: string;

interface StatusJson {
  mounts: Array<{ remote: string; mountpoint: string; pid: number; state: string; uptimeSeconds: number; reconnects: number; cache: Record<string, number> }>;
}

async function statusJson(): Promise<StatusJson> {
  const r = await cli.run(['status', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StatusJson;
}

async function mount(dir: string, extra: string[] = []): Promise<void> {
  const r = await cli.run(['mount', ...cli.sshArgs(sshd), ...extra, `127.0.0.1:${sshd.root}`, dir]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(await isMounted(dir)).toBe(true);
}

beforeAll(async () => {
  // test/prefetch-sftp-only.test.ts runs this whole file again against a server without a shell.
  sshd = await startSshd({ sftpOnly: process.env.DEVMOUNT_TEST_SFTP_ONLY === '1' });
  cli = await createCliEnv();
  mp = await cli.newMountpoint('mnt');
  await mount(mp);
});

afterAll(async () => {
  if (cli && mp && (await isMounted(mp))) await cli.run(['unmount', mp]);
  await cli?.cleanup();
  await sshd?.stop();
});

describe('file operations through the mount', () => {
  test('create, append, overwrite and truncate land on the server', async () => {
    await writeFile(join(mp, 'a.txt'), 'hello\n');
    await appendFile(join(mp, 'a.txt'), 'world\n');
    expect(await readFile(join(sshd.root, 'a.txt'), 'utf8')).toBe('hello\nworld\n');
    await writeFile(join(mp, 'a.txt'), 'short');
    expect(await readFile(join(sshd.root, 'a.txt'), 'utf8')).toBe('short');
    await truncate(join(mp, 'a.txt'), 2);
    expect(await readFile(join(sshd.root, 'a.txt'), 'utf8')).toBe('sh');
    expect((await stat(join(mp, 'a.txt'))).size).toBe(2);
    const fh = await open(join(mp, 'a.txt'), 'r+');
    try {
      await fh.truncate(0);
      await fh.write('via handle', 0);
    } finally {
      await fh.close();
    }
    expect(await readFile(join(sshd.root, 'a.txt'), 'utf8')).toBe('via handle');
  });

  test('rename over an existing file replaces it', async () => {
    await writeFile(join(mp, 'src.txt'), 'new content');
    await writeFile(join(mp, 'dst.txt'), 'old content');
    await rename(join(mp, 'src.txt'), join(mp, 'dst.txt'));
    expect(await readFile(join(mp, 'dst.txt'), 'utf8')).toBe('new content');
    expect(await readFile(join(sshd.root, 'dst.txt'), 'utf8')).toBe('new content');
    await expect(stat(join(mp, 'src.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(sshd.root, 'src.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('an unlinked open file stays readable through its handle and is gone after close', async () => {
    await mkdir(join(mp, 'unl'));
    await writeFile(join(mp, 'unl', 'open.txt'), 'still here');
    const fh = await open(join(mp, 'unl', 'open.txt'), 'r');
    try {
      await unlink(join(mp, 'unl', 'open.txt'));
      expect(await readdir(join(mp, 'unl'))).not.toContain('open.txt');
      const buf = Buffer.alloc(10);
      const { bytesRead } = await fh.read(buf, 0, 10, 0);
      expect(buf.subarray(0, bytesRead).toString()).toBe('still here');
    } finally {
      await fh.close();
    }
    // FUSE sends RELEASE after close(2) returns; libfuse then removes its hidden placeholder.
    await eventually(async () => (await readdir(join(sshd.root, 'unl'))).length === 0);
  });

  test('rmdir of a non-empty directory fails with ENOTEMPTY; empty one succeeds', async () => {
    await mkdir(join(mp, 'full'));
    await writeFile(join(mp, 'full', 'x'), 'x');
    await expect(rmdir(join(mp, 'full'))).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    await unlink(join(mp, 'full', 'x'));
    await rmdir(join(mp, 'full'));
    await expect(stat(join(sshd.root, 'full'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  test('symlinks: created on the server pointing where asked, readable through the mount', async () => {
    await writeFile(join(mp, 'target.txt'), 'pointed at');
    await symlink('target.txt', join(mp, 'link'));
    expect(await readlink(join(sshd.root, 'link'))).toBe('target.txt');
    expect(await readlink(join(mp, 'link'))).toBe('target.txt');
    expect((await lstat(join(mp, 'link'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(mp, 'link'), 'utf8')).toBe('pointed at');
  });

  test('chmod and utimens change the server file', async () => {
    await writeFile(join(mp, 'modes.txt'), 'm');
    await chmod(join(mp, 'modes.txt'), 0o640);
    expect((await stat(join(sshd.root, 'modes.txt'))).mode & 0o777).toBe(0o640);
    expect((await stat(join(mp, 'modes.txt'))).mode & 0o777).toBe(0o640);
    // Different atime and mtime, as cp -p and rsync -t set them (needs the libfuse 3 binding: fs/fuse/native.ts).
    const atime = new Date('2021-03-04T05:06:07Z');
    const mtime = new Date('2020-01-02T03:04:05Z');
    await utimes(join(mp, 'modes.txt'), atime, mtime);
    expect((await stat(join(sshd.root, 'modes.txt'))).mtimeMs).toBe(mtime.getTime());
    expect((await stat(join(mp, 'modes.txt'))).mtimeMs).toBe(mtime.getTime());
  });

  test('a sparse write beyond 4 GiB lands at the right offset', async () => {
    const offset = 5 * 1024 ** 3 + 17;
    const fh = await open(join(mp, 'sparse.bin'), 'w');
    try {
      await fh.write(Buffer.from('tail'), 0, 4, offset);
    } finally {
      await fh.close();
    }
    expect((await stat(join(sshd.root, 'sparse.bin'))).size).toBe(offset + 4);
    const server = await open(join(sshd.root, 'sparse.bin'), 'r');
    try {
      const buf = Buffer.alloc(4);
      await server.read(buf, 0, 4, offset);
      expect(buf.toString()).toBe('tail');
    } finally {
      await server.close();
    }
    const { stdout } = await sh(`tail -c 4 ${JSON.stringify(join(mp, 'sparse.bin'))}`);
    expect(stdout).toBe('tail');
  });

  test('dd bs=1M: a big write arrives intact', async () => {
    const source = join(cli.scratch, 'random.bin');
    const data = randomBytes(12 * 1024 * 1024);
    await writeFile(source, data);
    await sh(`dd if=${JSON.stringify(source)} of=${JSON.stringify(join(mp, 'big.bin'))} bs=1M status=none`);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(digest(await readFile(join(sshd.root, 'big.bin')))).toBe(digest(data));
    expect(digest(await readFile(join(mp, 'big.bin')))).toBe(digest(data));
  });
});

describe('status and refresh', () => {
  test('status --json lists the mount with remote, state, uptime and cache counters', async () => {
    const { mounts } = await statusJson();
    const mine = mounts.find((m) => m.mountpoint === mp);
    expect(mine).toBeDefined();
    expect(mine?.remote).toBe(`127.0.0.1:${sshd.root}`);
    expect(mine?.state).toBe('connected');
    expect(processAlive(mine?.pid ?? -1)).toBe(true);
    // The daemon runs with the GC setting cli/daemon.ts gives it (less CPU per large read).
    expect((await readFile(`/proc/${mine?.pid}/cmdline`, 'utf8')).split('\0')).toContain('--single-threaded-gc');
    expect(mine?.uptimeSeconds).toBeGreaterThanOrEqual(0);
    expect(Object.keys(mine?.cache ?? {}).length).toBeGreaterThan(0);
    const table = await cli.run(['status']);
    expect(table.stdout).toContain(mp);
    expect(table.stdout).toContain('connected');
  });

  test('refresh makes a file created on the server visible at once', async () => {
    await mkdir(join(mp, 'fresh'));
    expect(await readdir(join(mp, 'fresh'))).toEqual([]);
    await writeFile(join(sshd.root, 'fresh', 'from-server.txt'), 'made on the server');
    const r = await cli.run(['refresh', join(mp, 'fresh')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await readdir(join(mp, 'fresh'))).toEqual(['from-server.txt']);
    expect(await readFile(join(mp, 'fresh', 'from-server.txt'), 'utf8')).toBe('made on the server');
  });

  test('refresh of a path outside any mount is a usage error', async () => {
    const r = await cli.run(['refresh', cli.scratch]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^devmount: .*not on a running devmount mount/);
  });
});

describe('network drops', () => {
  test('the server-side sessions are killed: an open file keeps working and status counts the reconnect', async () => {
    await writeFile(join(sshd.root, 'steady.txt'), 'first half|second half');
    // Made on the server: the mount root's cached listing (the metadata prefetch) may predate it.
    expect((await cli.run(['refresh', join(mp, 'steady.txt')])).code).toBe(0);
    const fh = await open(join(mp, 'steady.txt'), 'r');
    try {
      const head = Buffer.alloc(11);
      await fh.read(head, 0, 11, 0);
      expect(head.toString()).toBe('first half|');
      expect(await sshd.dropSessions()).toBeGreaterThan(0);
      const tail = Buffer.alloc(11);
      await fh.read(tail, 0, 11, 11);
      expect(tail.toString()).toBe('second half');
    } finally {
      await fh.close();
    }
    await writeFile(join(mp, 'after-drop.txt'), 'written after the drop');
    expect(await readFile(join(sshd.root, 'after-drop.txt'), 'utf8')).toBe('written after the drop');
    const mine = (await statusJson()).mounts.find((m) => m.mountpoint === mp);
    expect(mine?.state).toBe('connected');
    expect(mine?.reconnects).toBeGreaterThanOrEqual(1);
  });
});

describe('daemon', () => {
  test('--log-format json: the daemon logs JSON lines to its log file', async () => {
    const dir = await cli.newMountpoint('mnt-jsonlog');
    await mount(dir, ['--log-format', 'json']);
    const pid = (await statusJson()).mounts.find((m) => m.mountpoint === dir)?.pid ?? -1;
    expect((await cli.run(['unmount', dir])).code).toBe(0);
    // The daemon answers once unmounted, then closes the VFS and writes its last lines before exiting.
    await eventually(async () => !processAlive(pid));
    const logDir = join(cli.scratch, 'state', 'devmount');
    const records: Array<{ msg?: string; mountpoint?: string }> = [];
    for (const name of await readdir(logDir)) {
      for (const line of (await readFile(join(logDir, name), 'utf8')).split('\n')) {
        if (line.startsWith('{')) records.push(JSON.parse(line) as { msg?: string; mountpoint?: string });
      }
    }
    expect(records).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'mounted', mountpoint: dir }), expect.objectContaining({ msg: 'stopped' })]));
  });

  test('--password-stdin: the parent reads stdin and hands the password to the daemon, which mounts', async () => {
    const dir = await cli.newMountpoint('mnt-password');
    // The harness server only takes keys: the password is offered after the key succeeded, i.e. never needed,
    // but the hand-over from parent to daemon runs in full.
    const r = await cli.run(['mount', '--password-stdin', ...cli.sshArgs(sshd), `127.0.0.1:${sshd.root}`, dir], { input: 'not-needed\n' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await isMounted(dir)).toBe(true);
    expect((await cli.run(['unmount', dir])).code).toBe(0);
  });
});

describe('stopping', () => {
  test('devmount unmount flushes, unmounts and ends the daemon', async () => {
    const dir = await cli.newMountpoint('mnt-unmount');
    await mount(dir);
    const pid = (await statusJson()).mounts.find((m) => m.mountpoint === dir)?.pid ?? -1;
    await writeFile(join(dir, 'last-words.txt'), 'written before unmount');
    const r = await cli.run(['unmount', dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('unmounted');
    expect(await isMounted(dir)).toBe(false);
    await eventually(async () => !processAlive(pid));
    expect(await readFile(join(sshd.root, 'last-words.txt'), 'utf8')).toBe('written before unmount');
  });

  test('unmount of a busy mount says so and keeps it; --lazy detaches it', async () => {
    const dir = await cli.newMountpoint('mnt-busy');
    await mount(dir);
    const { spawn } = await import('node:child_process');
    const holder = spawn('sleep', ['60'], { cwd: dir, stdio: 'ignore' });
    try {
      const busy = await cli.run(['unmount', dir]);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/^devmount: .* is busy: .*--lazy\n$/);
      expect(await isMounted(dir)).toBe(true);
      const lazy = await cli.run(['unmount', '--lazy', dir]);
      expect(lazy.code).toBe(0);
      expect(await isMounted(dir)).toBe(false);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  test('SIGTERM unmounts cleanly and leaves nothing in /proc/mounts', async () => {
    const dir = await cli.newMountpoint('mnt-sigterm');
    await mount(dir);
    const pid = (await statusJson()).mounts.find((m) => m.mountpoint === dir)?.pid ?? -1;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGTERM');
    await eventually(async () => !(await isMounted(dir)) && !processAlive(pid));
    expect((await statusJson()).mounts.some((m) => m.mountpoint === dir)).toBe(false);
  });

  test('a dead mount (daemon killed) is cleaned up by devmount unmount', async () => {
    const dir = await cli.newMountpoint('mnt-dead');
    await mount(dir);
    const pid = (await statusJson()).mounts.find((m) => m.mountpoint === dir)?.pid ?? -1;
    process.kill(pid, 'SIGKILL');
    await eventually(async () => !processAlive(pid));
    expect(await isMounted(dir)).toBe(true); // the kernel keeps the dead mount: "Transport endpoint is not connected"
    await expect(stat(join(dir, 'x'))).rejects.toMatchObject({ code: 'ENOTCONN' });
    const r = await cli.run(['unmount', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no devmount process');
    expect(await isMounted(dir)).toBe(false);
    expect((await statusJson()).mounts.some((m) => m.mountpoint === dir)).toBe(false);
  });

  test('foreground mount (-f) stops on SIGINT with exit 130 and unmounts', async () => {
    const dir = await cli.newMountpoint('mnt-fg');
    const { spawn } = await import('node:child_process');
    const { CLI } = await import('./mount-cli-helpers.js');
    const child = spawn(process.execPath, [CLI, 'mount', '-f', ...cli.sshArgs(sshd), `127.0.0.1:${sshd.root}`, dir], { env: cli.env, stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await eventually(() => isMounted(dir));
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(await isMounted(dir)).toBe(false);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
