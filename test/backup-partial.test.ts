import { chmod, copyFile, mkdir, mkdtemp, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';
import { connArgs, describeTree, runCli, snapshotNames } from './backup-helpers.js';

/**
 * Files the server will not let us read, for real: the test logs in as `nobody` (sshd accepts the harness key
 * for it through a Match block), so root-owned 0600 files and 0700 directories are refused with EACCES — the
 * harness runs as root, for whom permissions stop nothing. nobody's shell is nologin, so this is also a
 * server where exec fails and the listing falls back to the READDIR walk.
 */
describe('backup with unreadable files (exit 3)', () => {
  let sshd: Sshd;
  let base: string;
  let site: string;
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'devmount-backup-nobody-'));
    await chmod(base, 0o755);
    sshd = await startSshd({ extraConfig: `Match User nobody\n  AuthorizedKeysFile ${join(base, 'ak')}` });
    await copyFile(join(sshd.dir, 'authorized_keys'), join(base, 'ak'));
    await chmod(join(base, 'ak'), 0o644);
    site = join(base, 'site');
    await mkdir(join(site, 'sub'), { recursive: true });
    await mkdir(join(site, 'locked'));
    await writeFile(join(site, 'public.txt'), 'everyone may read this');
    await writeFile(join(site, 'secret.txt'), 'root only');
    await writeFile(join(site, 'sub/page.html'), '<p>hi</p>');
    await writeFile(join(site, 'locked/inside.txt'), 'hidden');
    await chmod(join(site, 'secret.txt'), 0o600);
    await chmod(join(site, 'locked'), 0o700);
  });
  afterAll(async () => {
    await sshd?.stop();
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('lists and counts the files it could not read, keeps the snapshot, exits 3', async () => {
    const dest = join(base, 'dest');
    const result = await runCli(['backup', ...connArgs(sshd), `nobody@127.0.0.1:${site}`, dest]);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trim().split('\n').sort();
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^devmount: failed: locked: cannot list: .*EACCES/);
    expect(lines[1]).toMatch(/^devmount: failed: secret\.txt: .*EACCES/);
    const [name] = await snapshotNames(dest);
    expect(await readlink(join(dest, 'latest'))).toBe(name);
    const copy = await describeTree(join(dest, name!));
    expect(copy.get('public.txt')?.type).toBe('file');
    expect(copy.get('sub/page.html')?.type).toBe('file');
    expect(copy.has('secret.txt')).toBe(false);

    const json = await runCli(['backup', '--json', ...connArgs(sshd), `nobody@127.0.0.1:${site}`, dest]);
    expect(json.code).toBe(3);
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.find((e) => e.event === 'listed')).toMatchObject({ method: 'readdir' });
    expect(events.filter((e) => e.event === 'error').map((e) => e.path).sort()).toEqual(['locked', 'secret.txt']);
    expect(events.at(-1)).toMatchObject({ event: 'summary', failed: 2, vanished: 0, linked: 2, copied: 0 });
  });
});
