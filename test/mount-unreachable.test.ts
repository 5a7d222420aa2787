/**
 * The server goes away for good while mounted: operations through FUSE wait at most op_timeout and then fail
 * with EIO (sshfs hangs: its issues #3, #223), status says so, and the mount can still be unmounted cleanly.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Sshd } from './harness/sshd.js';
import { isMounted, startMountFixture, type CliEnv, type MountFixture } from './mount-cli-helpers.js';
import { eventually } from './helpers/eventually.js';

let fixture: MountFixture;
let sshd: Sshd;
let cli: CliEnv;
let mp: string;

beforeAll(async () => {
  fixture = await startMountFixture();
  ({ sshd, cli, mp } = fixture);
});

afterAll(async () => {
  await fixture?.stop();
});

test('server gone: an operation fails with EIO after op_timeout instead of hanging; unmount still works', async () => {
  const mounted = await cli.run(['mount', ...cli.sshArgs(sshd), '-o', 'op_timeout=2,ServerAliveInterval=1,ServerAliveCountMax=1', `127.0.0.1:${sshd.root}`, mp]);
  expect(mounted.stderr).toBe('');
  expect(mounted.code).toBe(0);
  await sshd.stop(); // listener and sessions gone: nothing to reconnect to
  const outcome = await stat(join(mp, 'never-looked-up.txt')).then(() => 'found', (err: NodeJS.ErrnoException) => err.code);
  expect(outcome).toBe('EIO');
  await expect(readFile(join(mp, 'other.txt'))).rejects.toMatchObject({ code: 'EIO' });
  const status = await cli.run(['status', '--json']);
  const mine = (JSON.parse(status.stdout) as { mounts: Array<{ mountpoint: string; state: string }> }).mounts.find((m) => m.mountpoint === mp);
  expect(mine?.state).toMatch(/^(reconnecting|connecting)$/);
  const r = await cli.run(['unmount', mp]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  await eventually(async () => !(await isMounted(mp)));
});
