import { rm, symlink, unlink, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sshd } from './harness/sshd.js';
import { connArgs, describeTree, inode, runCli, startBackupSite, type BackupSite, type Described } from './backup-helpers.js';

/**
 * SFTP v3 sets times in whole seconds and has no way to set a symlink's own times, so a restored tree
 * matches its snapshot at that precision.
 */
async function restoredView(root: string): Promise<Map<string, Described>> {
  const tree = await describeTree(root);
  return new Map([...tree].map(([p, d]) => [p, { ...d, mtimeMs: d.type === 'symlink' ? 0 : Math.floor(d.mtimeMs / 1000) }]));
}

describe('devmount restore', () => {
  let fixture: BackupSite;
  let sshd: Sshd;
  let work: string;
  let site: string;
  let dest: string;
  beforeAll(async () => {
    fixture = await startBackupSite('devmount-restore-', { smallFiles: 60, bigFileBytes: 3 * 1024 * 1024 });
    ({ sshd, work, site } = fixture);
    dest = join(work, 'dest');
    const result = await runCli(['backup', ...connArgs(sshd), fixture.source, dest]);
    expect(result.code).toBe(0);
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  it('round trip: --dry-run changes nothing; restore sends only changed files; --delete removes extras', async () => {
    const snapshot = await restoredView(join(dest, 'latest'));
    // Damage the site: edit, delete, add, re-point a symlink, remove a directory.
    await writeFile(join(site, 'index.php'), '<?php echo "hacked";');
    await unlink(join(site, 'wp-config.php'));
    await writeFile(join(site, 'extra.php'), '<?php /* not in the snapshot */');
    await unlink(join(site, 'link-to-index'));
    await symlink('extra.php', join(site, 'link-to-index'));
    await rm(join(site, 'empty'), { recursive: true });
    const untouchedInode = await inode(join(site, 'wp-content/big.bin'));
    const damaged = await describeTree(site);

    const dry = await runCli(['restore', '--dry-run', ...connArgs(sshd), join(dest, 'latest'), `127.0.0.1:${site}`]);
    expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
    expect(dry.stdout).toContain('upload index.php\n');
    expect(dry.stdout).toContain('upload wp-config.php\n');
    expect(dry.stdout).toContain('symlink link-to-index\n');
    expect(dry.stdout).toContain('mkdir empty\n');
    expect(dry.stdout).not.toMatch(/^delete /m);
    expect(await describeTree(site)).toEqual(damaged);

    const restore = await runCli(['restore', '--json', ...connArgs(sshd), join(dest, 'latest'), `127.0.0.1:${site}`]);
    expect({ code: restore.code, stderr: restore.stderr }).toEqual({ code: 0, stderr: '' });
    const summary = JSON.parse(restore.stdout.trim().split('\n').at(-1)!);
    expect(summary).toMatchObject({ event: 'summary', uploaded: 3, deleted: 0, failed: 0, dryRun: false });
    // Unchanged files were not sent again (an upload replaces the file, so its inode would change).
    expect(await inode(join(site, 'wp-content/big.bin'))).toBe(untouchedInode);
    const afterRestore = await restoredView(site);
    expect(afterRestore.get('extra.php')?.type).toBe('file');
    afterRestore.delete('extra.php');
    expect(new Map([...afterRestore].filter(([p]) => p !== '.'))).toEqual(new Map([...snapshot].filter(([p]) => p !== '.')));
    expect((await readdir(sshd.root)).filter((n) => n.startsWith('.devmount-restore-'))).toEqual([]);

    const withDelete = await runCli(['restore', '--delete', ...connArgs(sshd), join(dest, 'latest'), `127.0.0.1:${site}`]);
    expect({ code: withDelete.code, stderr: withDelete.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await restoredView(site)).toEqual(snapshot);
  });

  it('a missing snapshot directory is a one-line error', async () => {
    const result = await runCli(['restore', ...connArgs(sshd), join(dest, 'nope'), `127.0.0.1:${site}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^devmount: .*nope is not a snapshot directory: name one listed by `devmount backup list DEST`.*\n$/);
  });
});
