import { constants } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLazyDataFs, type ClosableRemoteFs } from '../cli/backup/lazy-data-fs.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { harnessConnector } from './harness/connect.js';
import { startBackupSite, type BackupSite } from './backup-helpers.js';

/** cli/backup/lazy-data-fs.ts: data connections only when a file is opened (a no-change run needs none). */
describe('backup data connections opened lazily', () => {
  let fixture: BackupSite;
  let meta: SftpRemoteFs;
  beforeAll(async () => {
    fixture = await startBackupSite('devmount-lazy-', { smallFiles: 3 });
    meta = await createSftpRemoteFs(harnessConnector(fixture.sshd), fixture.site, { maxConns: 1 });
  });
  afterAll(async () => {
    await meta?.close();
    await fixture?.stop();
  });

  it('path operations use the metadata connection only; the first open() opens the data connections once', async () => {
    let opened = 0;
    const lazy = createLazyDataFs(meta, async () => {
      opened += 1;
      return [await createSftpRemoteFs(harnessConnector(fixture.sshd), meta.remoteRoot, { maxConns: 1 })] as ClosableRemoteFs[];
    });
    try {
      expect((await lazy.readdir('/')).length).toBeGreaterThan(0);
      expect((await lazy.lstat('/index.php')).size).toBeGreaterThan(0);
      expect(opened).toBe(0);
      const files = await Promise.all([lazy.open('/index.php', constants.O_RDONLY), lazy.open('/index.php', constants.O_RDONLY)]);
      expect((await files[0]!.read(0, 5)).toString()).toBe('<?php');
      await Promise.all(files.map((f) => f.close()));
      expect(opened).toBe(1);
    } finally {
      await lazy.closeData();
    }
  });

  it('when the data connections cannot be opened, files go over the metadata connection', async () => {
    const lazy = createLazyDataFs(meta, () => Promise.reject(new Error('refused')));
    lazy.warmUp();
    expect((await lazy.readFile('/index.php')).subarray(0, 5).toString()).toBe('<?php');
    await lazy.closeData();
  });
});
