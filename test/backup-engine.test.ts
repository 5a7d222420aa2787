import { mkdtemp, rm, unlink, utimes, writeFile, readlink, stat } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackup } from '../fs/backup/run-backup.js';
import type { BackupEvent, BackupOptions, BackupSource } from '../fs/backup/types.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { buildSite, describeTree, exactTime, inode, snapshotNames, startBackupSite, type BackupSite } from './backup-helpers.js';

const BASE: Omit<BackupOptions, 'dest'> = Object.freeze({
  checksum: false, dryRun: false, verify: false, excludes: [], retention: {}, concurrency: 16,
});

async function openSource(sshd: Sshd, root: string): Promise<{ source: BackupSource; fs: SftpRemoteFs }> {
  const fs = await createSftpRemoteFs(harnessConnector(sshd), root);
  return { fs, source: { fs, shell: fs, serverRoot: fs.remoteRoot, label: `test:${root}` } };
}

describe('backup engine (library) against the harness sshd', () => {
  let fixture: BackupSite;
  let work: string;
  let site: string;
  let fs: SftpRemoteFs;
  let source: BackupSource;
  beforeAll(async () => {
    fixture = await startBackupSite('devmount-engine-', { smallFiles: 30 });
    ({ work, site } = fixture);
    ({ fs, source } = await openSource(fixture.sshd, site));
  });
  afterAll(async () => {
    await fs?.close();
    await fixture?.stop();
  });

  it('a file that vanishes after the listing is reported as vanished and counted; the run goes on', async () => {
    await writeFile(join(site, 'temp-upload.tmp'), 'here for the listing only');
    const events: BackupEvent[] = [];
    const dest = join(work, 'vanish');
    const summary = await runBackup(source, {
      ...BASE, dest,
      onEvent: (e) => {
        events.push(e);
        // Between the listing and the copy, as a PHP upload's temp file does: synchronous so it is gone
        // before the engine goes on (this callback runs inside the engine).
        if (e.event === 'listed') unlinkSync(join(site, 'temp-upload.tmp'));
      },
    });
    expect(summary).toMatchObject({ failed: 1, vanished: 1 });
    expect(events.filter((e) => e.event === 'error')).toEqual([
      { event: 'error', path: 'temp-upload.tmp', kind: 'vanished', message: expect.stringContaining('ENOENT') },
    ]);
    const copy = await describeTree(join(dest, 'latest'));
    expect(copy.has('temp-upload.tmp')).toBe(false);
    expect(copy.get('index.php')?.type).toBe('file');
  });

  it('--checksum catches a change that kept size and mtime; without it the file is linked', async () => {
    const dest = join(work, 'checksum');
    const mtime = exactTime(1_700_000_000_321);
    await utimes(join(site, 'deploy.sh'), mtime, mtime);
    await runBackup(source, { ...BASE, dest });
    const [first] = await snapshotNames(dest);
    // Same length, same mtime, different bytes: what size+mtime cannot see.
    await writeFile(join(site, 'deploy.sh'), '#!/bin/sh\necho DEPLOY\n');
    await utimes(join(site, 'deploy.sh'), mtime, mtime);
    const plain = await runBackup(source, { ...BASE, dest });
    expect(await inode(join(plain.snapshot, 'deploy.sh'))).toBe(await inode(join(dest, first!, 'deploy.sh')));
    const checked = await runBackup(source, { ...BASE, dest, checksum: true });
    expect(checked.copied).toBe(1);
    expect(await inode(join(checked.snapshot, 'deploy.sh'))).not.toBe(await inode(join(dest, first!, 'deploy.sh')));
    expect((await describeTree(checked.snapshot)).get('deploy.sh')).toEqual((await describeTree(site)).get('deploy.sh'));
  });

  it('--verify compares every file with the server\'s sha256sum and passes on an exact copy', async () => {
    const summary = await runBackup(source, { ...BASE, dest: join(work, 'verify'), verify: true });
    expect(summary.failed).toBe(0);
    expect(summary.copied).toBeGreaterThan(30);
  });

  it('--dry-run on an empty DEST plans a copy of everything and creates nothing', async () => {
    const events: BackupEvent[] = [];
    const dest = join(work, 'dry-engine');
    const summary = await runBackup(source, { ...BASE, dest, dryRun: true, onEvent: (e) => events.push(e) });
    expect(summary.dryRun).toBe(true);
    expect(summary.copied).toBe(events.filter((e) => e.event === 'file' && e.action === 'copy').length);
    await expect(stat(dest)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('backup engine on a server without a shell', () => {
  let sshd: Sshd;
  let work: string;
  let fs: SftpRemoteFs;
  let source: BackupSource;
  beforeAll(async () => {
    sshd = await startSshd({ sftpOnly: true });
    work = await mkdtemp(join(tmpdir(), 'devmount-engine-sftp-'));
    await buildSite(sshd.root, { smallFiles: 30 });
    ({ fs, source } = await openSource(sshd, sshd.root));
  });
  afterAll(async () => {
    await fs?.close();
    await sshd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('lists by READDIR, copies exactly (mtimes to the second), links on the next run, verifies over SFTP', async () => {
    const dest = join(work, 'dest');
    const events: BackupEvent[] = [];
    const first = await runBackup(source, { ...BASE, dest, onEvent: (e) => events.push(e) });
    expect(events.find((e) => e.event === 'listed')).toMatchObject({ method: 'readdir' });
    expect(first.failed).toBe(0);
    const seconds = (m: Map<string, { mtimeMs: number; type: string }>) =>
      new Map([...m].map(([p, d]) => [p, { ...d, mtimeMs: d.type === 'symlink' ? 0 : Math.floor(d.mtimeMs / 1000) }]));
    expect(seconds(await describeTree(first.snapshot))).toEqual(seconds(await describeTree(sshd.root)));
    await unlink(join(sshd.root, 'debug.log'));
    const second = await runBackup(source, { ...BASE, dest, verify: true, checksum: true });
    expect(second).toMatchObject({ copied: 0, failed: 0 });
    expect(second.linked).toBe(first.copied - 1);
    expect(await readlink(join(dest, 'latest'))).toBe(second.snapshot.split('/').at(-1));
    expect(await inode(join(second.snapshot, 'index.php'))).toBe(await inode(join(first.snapshot, 'index.php')));
    expect(exactTime(1000)).toBeCloseTo(1.0000005, 9);
  });
});
