/**
 * POSIX semantics: the table-driven suite in test/posix/posix-suite.py (real system calls from a python3 child
 * process, pjdfstest-style) against sshfs and devmount, both mounted with allow_other,default_permissions from
 * the same sshd in the same run, as root; the permission cases run as a second user. devmount must pass every
 * case sshfs passes. The counts are printed (README and docs/posix-conformance.md quote them).
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';
import { createCliEnv, ensureUser, isMounted, type CliEnv } from './mount-cli-helpers.js';

const execFileAsync = promisify(execFile);
const SUITE = fileURLToPath(new URL('./posix/posix-suite.py', import.meta.url));
const USER = 'devmount-perm';

interface CaseResult { case: string; pass: boolean; got: string }

let sshd: Sshd;
let cli: CliEnv;
let share: string;
const mounted: string[] = [];

async function runSuite(dir: string): Promise<CaseResult[]> {
  const { stdout } = await execFileAsync('python3', [SUITE, dir, USER], { timeout: 240_000, maxBuffer: 4 * 1024 * 1024 });
  return stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line) as CaseResult);
}

beforeAll(async () => {
  await ensureUser(USER);
  sshd = await startSshd();
  cli = await createCliEnv();
  await chmod(cli.scratch, 0o755);
  share = join(sshd.root, 'share');
  for (const dir of [join(share, 'sshfs'), join(share, 'devmount')]) await mkdir(dir, { recursive: true });
  for (const dir of [join(sshd.root, '..'), sshd.root, share, join(share, 'sshfs'), join(share, 'devmount')]) await chmod(dir, 0o755);
});

afterAll(async () => {
  for (const mp of mounted) {
    if (await isMounted(mp)) await execFileAsync('fusermount3', ['-u', '-z', mp]).catch(() => undefined);
  }
  await cli?.cleanup();
  await sshd?.stop();
});

test('devmount passes every case sshfs passes, with allow_other,default_permissions', async () => {
  const sshfsMp = await cli.newMountpoint('sshfs');
  mounted.push(sshfsMp);
  await execFileAsync('sshfs', [
    '-o', `allow_other,default_permissions,port=${sshd.port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath},StrictHostKeyChecking=yes`,
    `127.0.0.1:${join(share, 'sshfs')}`, sshfsMp,
  ]);
  const devmountMp = await cli.newMountpoint('devmount');
  mounted.push(devmountMp);
  const r = await cli.run(['mount', ...cli.sshArgs(sshd), '-o', 'allow_other,default_permissions', `127.0.0.1:${join(share, 'devmount')}`, devmountMp]);
  expect(r.code, r.stderr).toBe(0);

  const sshfs = await runSuite(join(sshfsMp, 'run'));
  const devmount = await runSuite(join(devmountMp, 'run'));
  const passed = (results: CaseResult[]) => new Set(results.filter((c) => c.pass).map((c) => c.case));
  const sshfsPassed = passed(sshfs);
  const devmountPassed = passed(devmount);
  console.log(`POSIX suite (${sshfs.length} cases): sshfs ${sshfsPassed.size} passed, devmount ${devmountPassed.size} passed`);
  for (const c of sshfs) if (!c.pass) console.log(`  sshfs fails ${c.case}: ${c.got}`);
  for (const c of devmount) if (!c.pass) console.log(`  devmount fails ${c.case}: ${c.got}`);
  expect(devmount.map((c) => c.case)).toEqual(sshfs.map((c) => c.case));
  expect(sshfs.length).toBeGreaterThanOrEqual(60);
  const devmountMisses = [...sshfsPassed].filter((name) => !devmountPassed.has(name));
  expect(devmountMisses, devmount.filter((c) => devmountMisses.includes(c.case)).map((c) => `${c.case}: ${c.got}`).join('\n')).toEqual([]);

  await execFileAsync('fusermount3', ['-u', sshfsMp]);
  await cli.run(['unmount', devmountMp]);
});
