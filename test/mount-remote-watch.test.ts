/**
 * `-o remote_watch`: a plain mount that watches the server, so edits made there by others (an scp, a git pull
 * on the server) are seen at once instead of after cache_timeout — which sshfs cannot do (sshfs#155).
 * The cache timeouts are set long here, so only the watcher can explain a fresh view.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';
import { createCliEnv, isMounted, type CliEnv } from './mount-cli-helpers.js';
import { eventually } from './helpers/eventually.js';

const LONG_CACHE = 'cache_timeout=300';

describe.each([
  { setting: 'auto', sftpOnly: false, method: 'inotify' },
  { setting: 'find', sftpOnly: false, method: 'find' },
  { setting: 'auto', sftpOnly: true, method: 'sftp-poll' },
])('mount -o remote_watch=$setting (sftpOnly: $sftpOnly)', ({ setting, sftpOnly, method }) => {
  let sshd: Sshd;
  let cli: CliEnv;
  let mp: string;

  beforeAll(async () => {
    sshd = await startSshd({ sftpOnly });
    await mkdir(join(sshd.root, 'site'));
    await writeFile(join(sshd.root, 'site', 'page.html'), 'version 1');
    cli = await createCliEnv();
    mp = await cli.newMountpoint('mnt');
    const r = await cli.run(['mount', ...cli.sshArgs(sshd), '-o', `${LONG_CACHE},remote_watch=${setting}`, `127.0.0.1:${sshd.root}`, mp]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  /** READDIRs the mount answered from the libfuse 3 binding's directory table (`devmount status`). */
  const dirTableHits = async (): Promise<number> => {
    const status = JSON.parse((await cli.run(['status', '--json'])).stdout) as { mounts: Array<{ mountpoint: string; cache: Record<string, number> }> };
    return status.mounts.find((m) => m.mountpoint === mp)?.cache.dirTableHits ?? -1;
  };

  afterAll(async () => {
    if (cli && mp && (await isMounted(mp))) await cli.run(['unmount', mp]);
    await cli?.cleanup();
    await sshd?.stop();
  });

  test('status names the watch method', async () => {
    const r = await cli.run(['status', '--json']);
    const mine = (JSON.parse(r.stdout) as { mounts: Array<{ mountpoint: string; remoteWatch?: string }> }).mounts.find((m) => m.mountpoint === mp);
    expect(mine?.remoteWatch).toBe(method);
  });

  test('server-side edits, creations and deletions show long before cache_timeout', async () => {
    // Fill the caches first: the listing and the file's content and attributes.
    expect(await readdir(join(mp, 'site'))).toEqual(['page.html']);
    expect(await readFile(join(mp, 'site', 'page.html'), 'utf8')).toBe('version 1');
    // The listing is answered on libfuse's threads once it is fresh (the directory table, docs/fuse.md): what the
    // watcher reports below must reach that copy too. (The start-up listing may replace the first ones.)
    const hitsBefore = await dirTableHits();
    await eventually(async () => (await readdir(join(mp, 'site'))).length === 1 && (await dirTableHits()) > hitsBefore, 5000);

    await writeFile(join(sshd.root, 'site', 'page.html'), 'version 2, longer');
    await eventually(async () => (await readFile(join(mp, 'site', 'page.html'), 'utf8')) === 'version 2, longer');

    await writeFile(join(sshd.root, 'site', 'new.html'), 'new');
    await eventually(async () => (await readdir(join(mp, 'site'))).includes('new.html'));

    await rm(join(sshd.root, 'site', 'page.html'));
    await eventually(async () => !(await readdir(join(mp, 'site'))).includes('page.html'));
  });
});

describe('remote_watch option parsing', () => {
  test('a bad value is one usage line (exit 2)', async () => {
    const cli = await createCliEnv();
    try {
      const mp = await cli.newMountpoint('mnt');
      const r = await cli.run(['mount', '-o', 'remote_watch=sometimes', '127.0.0.1:/tmp', mp]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^devmount: -o remote_watch=sometimes: expected auto or inotify or find or poll or off\n$/);
    } finally {
      await cli.cleanup();
    }
  });
});
