import { readFile, rm, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MANIFEST_NAME } from '../fs/backup/manifest.js';
import { runBackup } from '../fs/backup/run-backup.js';
import type { BackupOptions, BackupSource } from '../fs/backup/types.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { harnessConnector } from './harness/connect.js';
import { describeTree, inode, snapshotNames, startBackupSite, type BackupSite } from './backup-helpers.js';

const BASE: Omit<BackupOptions, 'dest'> = Object.freeze({
  checksum: false, dryRun: false, verify: false, excludes: [], retention: {}, concurrency: 16,
});

/**
 * DEST/.devmount-manifest.json: the next run takes the previous snapshot's file metadata from it
 * instead of an lstat per file, but only where it can still be trusted; everywhere else it scans as before.
 */
describe('backup manifest of the previous snapshot', () => {
  let fixture: BackupSite;
  let fs: SftpRemoteFs;
  let source: BackupSource;
  beforeAll(async () => {
    fixture = await startBackupSite('devmount-manifest-', { smallFiles: 20 });
    fs = await createSftpRemoteFs(harnessConnector(fixture.sshd), fixture.site);
    source = { fs, shell: fs, serverRoot: fs.remoteRoot, label: 'test' };
  });
  afterAll(async () => {
    await fs?.close();
    await fixture?.stop();
  });

  const snapshotAt = (dest: string, ms: number) => runBackup(source, { ...BASE, dest, now: () => new Date(ms) });

  it('names the newest snapshot and lists its files; the next run links every unchanged file', async () => {
    const dest = join(fixture.work, 'plain');
    const first = await snapshotAt(dest, Date.UTC(2026, 0, 1));
    const manifest = JSON.parse(await readFile(join(dest, MANIFEST_NAME), 'utf8')) as { snapshot: string; files: Record<string, unknown> };
    const [name] = await snapshotNames(dest);
    expect(manifest.snapshot).toBe(name);
    expect(Object.keys(manifest.files)).toHaveLength(first.copied);
    const second = await snapshotAt(dest, Date.UTC(2026, 0, 2));
    expect(second).toMatchObject({ copied: 0, linked: first.copied, failed: 0 });
    const names = await snapshotNames(dest);
    expect(await describeTree(join(dest, names[1]!))).toEqual(await describeTree(fixture.site));
    expect(JSON.parse(await readFile(join(dest, MANIFEST_NAME), 'utf8'))).toMatchObject({ snapshot: names[1] });
  });

  it('a file replaced in the previous snapshot (its directory changed) is compared by lstat and copied again', async () => {
    const dest = join(fixture.work, 'replaced');
    await snapshotAt(dest, Date.UTC(2026, 0, 1));
    const [old] = await snapshotNames(dest);
    // Replaced by a different file, as an editor saves (new inode, new size): the directory's mtime moves.
    const victim = join(dest, old!, 'index.php');
    await unlink(victim);
    await writeFile(victim, 'tampered');
    const next = await snapshotAt(dest, Date.UTC(2026, 0, 2));
    expect(next).toMatchObject({ copied: 1, failed: 0 });
    const names = await snapshotNames(dest);
    expect(await readFile(join(dest, names[1]!, 'index.php'))).toEqual(await readFile(join(fixture.site, 'index.php')));
    expect(await inode(join(dest, names[1]!, 'index.php'))).not.toBe(await inode(victim));
  });

  it('a manifest that names another snapshot or is damaged is ignored: every file is checked by lstat', async () => {
    const dest = join(fixture.work, 'stale');
    await snapshotAt(dest, Date.UTC(2026, 0, 1));
    const [old] = await snapshotNames(dest);
    // Changed in place, directory untouched: only an lstat of the file sees it (the manifest would not).
    const victim = join(dest, old!, 'index.php');
    const before = await describeTree(join(dest, old!));
    await truncate(victim, 1);
    await utimes(victim, before.get('index.php')!.mtimeMs / 1000, before.get('index.php')!.mtimeMs / 1000);
    for (const damaged of ['{"format":"devmount-snapshot-manifest/1","snapshot":"2020-01-01T000000Z","dirs":{},"files":{}}', '{not json']) {
      await writeFile(join(dest, MANIFEST_NAME), damaged);
      const next = await snapshotAt(dest, Date.UTC(2026, 0, damaged.startsWith('{not') ? 3 : 2));
      expect(next).toMatchObject({ copied: 1, failed: 0 });
      const names = await snapshotNames(dest);
      expect(await readFile(join(dest, names.at(-1)!, 'index.php'))).toEqual(await readFile(join(fixture.site, 'index.php')));
      // The next run links from this new snapshot: remove it so the tampered one stays the previous.
      await rm(join(dest, names.at(-1)!), { recursive: true, force: true });
    }
  });
});
