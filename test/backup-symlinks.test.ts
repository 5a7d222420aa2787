/**
 * A backup never reaches the client's own files through a server's symlinks (fs/backup/safe-paths.ts): a
 * listing may only place entries below directories it lists, and a previous snapshot is linked from only
 * through real directories. Runs the engine against the harness sshd.
 */
import { mkdir, mkdtemp, readFile, rm, stat, symlink, utimes, writeFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, test } from 'vitest';
import { runBackup } from '../fs/backup/run-backup.js';
import { realDirectories, unsafeListingPath } from '../fs/backup/safe-paths.js';
import type { BackupEvent, BackupOptions } from '../fs/backup/types.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { inode } from './backup-helpers.js';

const BASE: Omit<BackupOptions, 'dest'> = Object.freeze({
  checksum: false, dryRun: false, verify: false, excludes: [], retention: {}, concurrency: 4,
});

// [path, directories listed so far, paths seen so far, refused?]
const listed: Array<[string, string[], string[], boolean]> = [
  ['', [], [], false],
  ['a.txt', [''], [], false],
  ['d/x', ['', 'd'], ['d'], false],
  ['../etc/passwd', [''], [], true],
  ['d/../../x', ['', 'd'], [], true],
  ['/etc/passwd', [''], [], true],
  ['./a', [''], [], true],
  ['a//b', ['', 'a'], [], true],
  ['link/passwd', [''], ['link'], true], // `link` was listed, but not as a directory
  ['a.txt', [''], ['a.txt'], true], // listed twice
];

describe('unsafeListingPath', () => {
  for (const [path, dirs, seen, refused] of listed) {
    test(`${JSON.stringify(path)} after dirs ${JSON.stringify(dirs)}: ${refused ? 'refused' : 'placed'}`, () => {
      expect(unsafeListingPath(path, new Set(dirs), new Set(seen)) !== null).toBe(refused);
    });
  }
});

describe('against the harness sshd', () => {
  let sshd: Sshd;
  let fs: SftpRemoteFs;
  let work: string;
  let site: string;
  let clientDir: string;
  beforeAll(async () => {
    sshd = await startSshd();
    work = await mkdtemp(join(tmpdir(), 'devmount-backup-links-'));
    site = join(sshd.root, 'site');
    clientDir = join(work, 'client-private');
    await mkdir(site, { recursive: true });
    await mkdir(clientDir);
    await writeFile(join(clientDir, 'secret.txt'), 'CLIENT');
    await utimes(join(clientDir, 'secret.txt'), 1_700_000_000, 1_700_000_000);
    fs = await createSftpRemoteFs(harnessConnector(sshd), site);
  });
  afterAll(async () => {
    await fs?.close();
    await sshd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  realDirectoriesTests(() => work);

  it('a directory that was a symlink in the previous snapshot is not linked through', async () => {
    const dest = join(work, 'dest');
    const source = { fs, shell: fs, serverRoot: fs.remoteRoot, label: 'test' };
    // Run 1: on the server, `d` is a link to the client's private directory; the snapshot keeps the link.
    await writeFile(join(site, 'index.html'), 'index');
    await symlink(clientDir, join(site, 'd'));
    await runBackup(source, { ...BASE, dest });
    expect(await readlink(join(dest, 'latest', 'd'))).toBe(clientDir);
    // Run 2: `d` is now a directory holding a file with the client file's size, mode and mtime.
    await rm(join(site, 'd'));
    await mkdir(join(site, 'd'));
    await writeFile(join(site, 'd', 'secret.txt'), 'SERVER');
    await utimes(join(site, 'd', 'secret.txt'), 1_700_000_000, 1_700_000_000);
    const events: BackupEvent[] = [];
    const summary = await runBackup(source, { ...BASE, dest, onEvent: (e) => events.push(e) });
    expect(summary.failed).toBe(0);
    const copy = join(dest, 'latest', 'd', 'secret.txt');
    expect(await readFile(copy, 'utf8')).toBe('SERVER');
    expect(await inode(copy)).not.toBe(await inode(join(clientDir, 'secret.txt')));
    expect(events).toContainEqual(expect.objectContaining({ event: 'file', action: 'copy', path: 'd/secret.txt' }));
    expect((await stat(join(clientDir, 'secret.txt'))).nlink).toBe(1);
  });
});

function realDirectoriesTests(work: () => string): void {
  it('realDirectories: true only through real directories', async () => {
    const root = join(work(), 'real-dirs');
    await mkdir(join(root, 'a', 'b'), { recursive: true });
    await symlink(join(root, 'a'), join(root, 'link'));
    await writeFile(join(root, 'file'), '');
    const real = realDirectories(root);
    expect(await real('')).toBe(true);
    expect(await real('a')).toBe(true);
    expect(await real('a/b')).toBe(true);
    expect(await real('link')).toBe(false);
    expect(await real('link/b')).toBe(false);
    expect(await real('file')).toBe(false);
    expect(await real('missing/x')).toBe(false);
  });
}
