import { readdir, readlink, utimes, writeFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sshd } from './harness/sshd.js';
import { connArgs, exactTime, describeTree, expectOk, inode, runCli, snapshotNames, startBackupSite, ODD_NAMES, type BackupSite } from './backup-helpers.js';

describe('devmount backup (CLI against the harness sshd)', () => {
  let fixture: BackupSite;
  let sshd: Sshd;
  let site: string;
  let work: string;
  let source: string;
  beforeAll(async () => {
    fixture = await startBackupSite('devmount-backup-', { bigFileBytes: 9 * 1024 * 1024 });
    ({ sshd, site, work, source } = fixture);
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  it('makes an exact copy (content, mtime, mode, symlinks, empty dirs, odd names), silently, exit 0', async () => {
    const dest = join(work, 'exact');
    const result = await runCli(['backup', ...connArgs(sshd), source, dest]);
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
    const names = await snapshotNames(dest);
    expect(names).toHaveLength(1);
    expect(await readlink(join(dest, 'latest'))).toBe(names[0]);
    expect(await describeTree(join(dest, names[0]!))).toEqual(await describeTree(site));
    const copy = await describeTree(join(dest, 'latest'));
    expect(copy.get('empty')?.type).toBe('dir');
    expect(copy.get('index.php')?.mtimeMs).toBe(1_600_000_123_456);
    expect(copy.get('link-to-index')).toMatchObject({ type: 'symlink', target: 'index.php', mtimeMs: 1_600_000_000_789 });
    expect(copy.get('wp-config.php')?.mode).toBe(0o600);
    expect(copy.get('private')?.mode).toBe(0o2750);
    for (const name of ODD_NAMES) expect(copy.get(name)?.type).toBe('file');
    // The snapshot, `latest`, and the manifest the next run reads instead of lstat'ing every file (fs/backup/manifest.ts).
    expect((await readdir(dest)).sort()).toEqual([names[0], 'latest', '.devmount-manifest.json'].sort());
  });

  it('hard-links unchanged files on the next run; a changed file gets a new inode; the old snapshot keeps its content', async () => {
    const dest = join(work, 'links');
    expectOk(await runCli(['backup', ...connArgs(sshd), source, dest]));
    const [first] = await snapshotNames(dest);
    const before = await describeTree(join(dest, first!));
    await writeFile(join(site, 'index.php'), '<?php echo "changed, longer";');
    await writeFile(join(site, 'added.txt'), 'new file');
    await unlink(join(site, 'debug.log'));
    try {
      const result = await runCli(['backup', '--json', ...connArgs(sshd), source, dest]);
      expectOk(result);
      const summary = JSON.parse(result.stdout.trim().split('\n').at(-1)!);
      const names = await snapshotNames(dest);
      expect(names).toHaveLength(2);
      const [, second] = names;
      expect(summary.snapshot).toBe(join(dest, second!));
      expect(summary.copied).toBe(2);
      expect(await inode(join(dest, first!, 'wp-content/big.bin'))).toBe(await inode(join(dest, second!, 'wp-content/big.bin')));
      expect(await inode(join(dest, first!, 'wp-config.php'))).toBe(await inode(join(dest, second!, 'wp-config.php')));
      expect(await inode(join(dest, first!, 'index.php'))).not.toBe(await inode(join(dest, second!, 'index.php')));
      expect(await describeTree(join(dest, second!))).toEqual(await describeTree(site));
      expect(await describeTree(join(dest, first!))).toEqual(before);
      expect(await readlink(join(dest, 'latest'))).toBe(second);
    } finally {
      await writeFile(join(site, 'index.php'), '<?php echo "hi";');
      await utimes(join(site, 'index.php'), exactTime(1_600_000_000_000), exactTime(1_600_000_123_456));
      await writeFile(join(site, 'debug.log'), 'log line\n');
      await unlink(join(site, 'added.txt'));
    }
  });

  it('--json prints NDJSON events ending with the summary', async () => {
    const dest = join(work, 'json');
    const result = await runCli(['backup', '--json', ...connArgs(sshd), source, dest]);
    expectOk(result);
    const events = result.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ event: 'start', dest, dryRun: false, previous: null, reusedPartial: null });
    expect(events[1]).toMatchObject({ event: 'listed', method: 'find', symlinks: 3, excluded: 0 });
    const files = events.filter((e) => e.event === 'file');
    expect(files.length).toBe((events[1] as { files: number }).files);
    for (const f of files) expect(f).toEqual({ event: 'file', action: 'copy', path: expect.any(String), size: expect.any(Number) });
    const summary = events.at(-1)!;
    expect(summary).toEqual({
      event: 'summary', copied: files.length, linked: 0, skipped: 0, failed: 0, vanished: 0,
      bytes: files.reduce((n, f) => n + (f.size as number), 0), seconds: expect.any(Number),
      snapshot: join(dest, (await snapshotNames(dest))[0]!), pruned: [], dryRun: false,
    });
  });

  it('--exclude and --exclude-from (gitignore syntax) leave paths and subtrees out', async () => {
    const dest = join(work, 'exclude');
    const patterns = join(work, 'excludes.txt');
    await writeFile(patterns, '# comment\ncache/\n\n/private\n');
    const result = await runCli(['backup', ...connArgs(sshd), '--exclude', '*.log', '--exclude', 'img-1*.jpg',
      '--exclude-from', patterns, source, dest]);
    expectOk(result);
    const copy = await describeTree(join(dest, 'latest'));
    const expected = new Map([...(await describeTree(site))].filter(([p]) =>
      !p.endsWith('.log') && !/(^|\/)img-1[^/]*\.jpg$/.test(p) && !p.startsWith('cache') && !p.startsWith('private')));
    // Excluded entries change nothing else but the root's mtime stays the server's.
    expect([...copy.keys()].sort()).toEqual([...expected.keys()].sort());
    expect(copy.has('wp-content/uploads/2024/img-2.jpg')).toBe(true);
    expect(copy.has('wp-content/uploads/2024/img-10.jpg')).toBe(false);
  });

});
