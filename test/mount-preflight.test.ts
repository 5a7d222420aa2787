/**
 * The checks made before connecting: mount point (exit 8) and FUSE availability (exit 9). The CLI tests
 * cover the mount point cases end to end; FUSE missing cannot be produced on this machine (/dev/fuse exists
 * and we are root), so the device check runs against a path that does not exist.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ExitCode } from '../cli/exit-codes.js';
import { checkFuseAvailable, checkMountpoint } from '../cli/mount-preflight.js';
import { UserError } from '../cli/user-error.js';

let base: string;

beforeAll(async () => {
  base = await mkdtemp(join(tmpdir(), 'devmount-preflight-'));
});

afterAll(async () => {
  await rm(base, { recursive: true, force: true });
});

async function refusal(work: Promise<void>): Promise<UserError> {
  let caught: unknown;
  try {
    await work;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(UserError);
  return caught as UserError;
}

test('an empty directory passes; missing, file, non-empty and already-mounted are exit 8', async () => {
  await mkdir(join(base, 'empty'));
  await expect(checkMountpoint(join(base, 'empty'))).resolves.toBeUndefined();
  const missing = await refusal(checkMountpoint(join(base, 'missing')));
  expect([missing.exitCode, missing.message]).toEqual([ExitCode.mountpoint, expect.stringMatching(/does not exist: create it first/)]);
  await writeFile(join(base, 'file'), 'x');
  expect((await refusal(checkMountpoint(join(base, 'file')))).message).toMatch(/not a directory/);
  await mkdir(join(base, 'full'));
  await writeFile(join(base, 'full', 'x'), 'x');
  expect((await refusal(checkMountpoint(join(base, 'full')))).message).toMatch(/not empty/);
  // /proc is always a mount point: "already mounted".
  const mounted = await refusal(checkMountpoint('/proc'));
  expect([mounted.exitCode, mounted.message]).toEqual([ExitCode.mountpoint, expect.stringMatching(/already mounted \(proc, proc\)/)]);
});

test('FUSE: the real /dev/fuse passes; a missing device is exit 9 with what to install', async () => {
  await expect(checkFuseAvailable()).resolves.toBeUndefined();
  const err = await refusal(checkFuseAvailable(join(base, 'no-fuse-device')));
  expect(err.exitCode).toBe(ExitCode.fuse);
  expect(err.message).toMatch(/FUSE is not available: cannot open .*no-fuse-device \(ENOENT\); install fuse3/);
});
