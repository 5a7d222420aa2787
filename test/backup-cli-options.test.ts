import { readdir, readlink, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sshd } from './harness/sshd.js';
import { connArgs, describeTree, expectOk, runCli, snapshotNames, startBackupSite, type BackupSite } from './backup-helpers.js';

describe('devmount backup: dry run, retention, exit codes (CLI against the harness sshd)', () => {
  let fixture: BackupSite;
  let sshd: Sshd;
  let site: string;
  let work: string;
  let source: string;
  beforeAll(async () => {
    fixture = await startBackupSite('devmount-backup-');
    ({ sshd, site, work, source } = fixture);
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  it('--dry-run lists what would be copied, linked and pruned, and writes nothing', async () => {
    const dest = join(work, 'dry');
    expectOk(await runCli(['backup', ...connArgs(sshd), source, dest]));
    await writeFile(join(site, 'dry-new.txt'), 'would be copied');
    try {
      const before = await describeTree(dest);
      const result = await runCli(['backup', '--dry-run', '--keep', '1', ...connArgs(sshd), source, dest]);
      expectOk(result);
      expect(result.stdout).toContain('copy dry-new.txt\n');
      expect(result.stdout).toContain('link index.php\n');
      expect(result.stdout).toMatch(/^prune .*\n/m);
      expect(await describeTree(dest)).toEqual(before);
      const missing = join(work, 'never-created');
      expectOk(await runCli(['backup', '--dry-run', ...connArgs(sshd), source, missing]));
      await expect(readdir(missing)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await unlink(join(site, 'dry-new.txt'));
    }
  });

  it('--keep N prunes the oldest snapshots after a successful run, and backup list shows what is left', async () => {
    const dest = join(work, 'keep');
    for (let i = 0; i < 2; i += 1) expectOk(await runCli(['backup', ...connArgs(sshd), source, dest]));
    const all = await snapshotNames(dest);
    expect(all).toHaveLength(2);
    const result = await runCli(['backup', '--keep', '2', '--json', ...connArgs(sshd), source, dest]);
    expectOk(result);
    const names = await snapshotNames(dest);
    expect(names).toHaveLength(2);
    expect(names[0]).toBe(all[1]);
    const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
    expect(summary.pruned).toEqual([join(dest, all[0]!)]);
    expect(await readlink(join(dest, 'latest'))).toBe(names[1]);
    const list = await runCli(['backup', 'list', dest, '--json']);
    expectOk(list);
    expect(list.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual(names.map((n, i) => ({
      snapshot: n, path: join(dest, n), date: expect.any(String), latest: i === 1, complete: true,
    })));
  });

  it('exit 1 with one line when DEST cannot be used, exit 7 for a missing remote path, exit 2 for bad options', async () => {
    const file = join(work, 'a-file');
    await writeFile(file, 'not a directory');
    const fatal = await runCli(['backup', ...connArgs(sshd), source, join(file, 'dest')]);
    expect(fatal.code).toBe(1);
    expect(fatal.stderr).toMatch(/^devmount: backup directory .*ENOTDIR.*\n$/);
    const missing = await runCli(['backup', ...connArgs(sshd), `127.0.0.1:${join(sshd.root, 'no-such-site')}`, join(work, 'dest-missing')]);
    expect({ code: missing.code, stderr: missing.stderr }).toEqual({ code: 7, stderr: expect.stringMatching(/^devmount: .*no-such-site.*\n$/) });
    expect(missing.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    const usage = await runCli(['backup', '--keep', 'zero', ...connArgs(sshd), source, join(work, 'x')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toBe('devmount: --keep zero: expected a whole number ≥ 1\n');
  });
});
