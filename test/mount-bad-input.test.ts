/**
 * Every bad input to `devmount mount` → the documented exit code (README "Exit codes"), exactly one stderr
 * line starting `devmount:`, no stack trace, and nothing mounted. Run through the CLI against the harness sshd.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort, type Sshd } from './harness/sshd.js';
import { isMounted, startMountFixture, type CliEnv, type MountFixture } from './mount-cli-helpers.js';

const execFileAsync = promisify(execFile);
let fixture: MountFixture;
let sshd: Sshd;
let cli: CliEnv;
let mp: string;

beforeAll(async () => {
  fixture = await startMountFixture();
  ({ sshd, cli, mp } = fixture);
  await writeFile(join(sshd.root, 'a-file.txt'), 'not a directory');
});

afterAll(async () => {
  await fixture?.stop();
});

async function fuseMountsUnder(dir: string): Promise<string[]> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  return text.split('\n').map((l) => l.split(' ')[1] ?? '').filter((p) => p.startsWith(dir));
}

async function expectRefused(args: string[], exitCode: number, message: RegExp, input?: string): Promise<void> {
  const r = await cli.run(['mount', ...args], input === undefined ? {} : { input });
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^devmount: /);
  expect(lines[0]).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(r.code).toBe(exitCode);
  expect(await fuseMountsUnder(cli.scratch)).toEqual([]);
}

const remote = () => `127.0.0.1:${sshd.root}`;

test('malformed remote spec → 2', async () => {
  await expectRefused([...cli.sshArgs(sshd), 'no-colon-here', mp], 2, /expected \[user@\]host:\[path\]/);
});

test('unknown -o option → 2, listing the supported ones', async () => {
  await expectRefused([...cli.sshArgs(sshd), '-o', 'kernel_magic', remote(), mp], 2, /unknown option -o kernel_magic: supported are .*IdentityFile=PATH.*cache_timeout=N/);
});

test('bad -o value → 2', async () => {
  await expectRefused([...cli.sshArgs(sshd), '-o', 'umask=999', remote(), mp], 2, /umask=999: expected octal/);
});

test('DNS failure (host.invalid) → 4', async () => {
  await expectRefused([...cli.sshArgs(sshd), 'host.invalid:/srv', mp], 4, /host\.invalid/);
});

test('refused port → 4', async () => {
  const closed = await freePort();
  await expectRefused(['-p', String(closed), '-o', `IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath}`, remote(), mp], 4, /refused/);
});

test('authentication failure (a key the server does not know) → 5', async () => {
  const wrongKey = join(cli.scratch, 'wrong_ed25519');
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrongKey]);
  await expectRefused(['-p', String(sshd.port), '-o', `IdentityFile=${wrongKey},UserKnownHostsFile=${sshd.knownHostsPath}`, remote(), mp], 5, /authentication failed/);
});

test('unknown host key without a terminal → 6', async () => {
  const emptyKnownHosts = join(cli.scratch, 'empty_known_hosts');
  await writeFile(emptyKnownHosts, '');
  await expectRefused(['-p', String(sshd.port), '-o', `IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${emptyKnownHosts}`, remote(), mp], 6, /host key/);
});

test('remote path missing → 7', async () => {
  await expectRefused([...cli.sshArgs(sshd), `127.0.0.1:${sshd.root}/no-such-dir`, mp], 7, /does not exist/);
});

test('remote path not a directory → 7', async () => {
  await expectRefused([...cli.sshArgs(sshd), `127.0.0.1:${sshd.root}/a-file.txt`, mp], 7, /not a directory/);
});

test('mount point missing → 8', async () => {
  await expectRefused([...cli.sshArgs(sshd), remote(), join(cli.scratch, 'nope')], 8, /does not exist/);
});

test('mount point not a directory → 8', async () => {
  const file = join(cli.scratch, 'plain-file');
  await writeFile(file, 'x');
  await expectRefused([...cli.sshArgs(sshd), remote(), file], 8, /not a directory/);
});

test('mount point not empty → 8', async () => {
  const dir = join(cli.scratch, 'full');
  await mkdir(dir);
  await writeFile(join(dir, 'keep.txt'), 'x');
  await expectRefused([...cli.sshArgs(sshd), remote(), dir], 8, /not empty/);
});

test('mount point already mounted → 8, and the first mount keeps working', async () => {
  const dir = await cli.newMountpoint('busy');
  const first = await cli.run(['mount', ...cli.sshArgs(sshd), remote(), dir]);
  expect(first.code).toBe(0);
  try {
    const r = await cli.run(['mount', ...cli.sshArgs(sshd), remote(), dir]);
    expect(r.code).toBe(8);
    expect(r.stderr).toMatch(/^devmount: .*already mounted.*\n$/);
    expect(await readFile(join(dir, 'a-file.txt'), 'utf8')).toBe('not a directory');
  } finally {
    await cli.run(['unmount', dir]);
  }
  expect(await isMounted(dir)).toBe(false);
});
