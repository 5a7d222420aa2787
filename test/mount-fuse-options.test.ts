/**
 * The sshfs and libfuse options people type (sshfs(1), fuse(8), mount(8)): a table of how each is parsed and
 * what the FUSE mount gets; then real mounts over the harness sshd showing the kernel applying them
 * (/proc/mounts, ENOSYS for disable_hardlink, EACCES for another user with default_permissions) and an
 * fstab-style `mount -t fuse.devmount` through the mount.fuse.devmount helper. Runs as root (CI does): the
 * helper goes to /sbin and a second user is created for the permission check.
 */
import { execFile } from 'node:child_process';
import { access, chmod, lstat, readFile, readlink, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { libfuseOptionsFor } from '../cli/fuse-mount-options.js';
import { parseHelperArgs } from '../cli/mount-helper.js';
import { parseOptionList, type MountOptions } from '../cli/mount-options.js';
import { UserError } from '../cli/user-error.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { createCliEnv, ensureUser, isMounted, type CliEnv } from './mount-cli-helpers.js';

const execFileAsync = promisify(execFile);

// [-o list, parsed fields, libfuse options the mount gets, a note is printed?]
const table: Array<[string, Partial<MountOptions>, string[], boolean]> = [
  ['default_permissions', { defaultPermissions: true }, ['default_permissions'], false],
  ['kernel_cache', { kernelCache: true }, ['kernel_cache'], false],
  ['direct_io', { directIo: true }, ['direct_io'], false],
  ['noatime', { mountFlags: ['noatime'] }, ['noatime'], false],
  ['atime', { mountFlags: ['atime'] }, ['atime'], false],
  ['nosuid,nodev,noexec', { mountFlags: ['nosuid', 'nodev', 'noexec'] }, ['nosuid', 'nodev', 'noexec'], false],
  ['max_read=65536', { maxRead: 65536 }, ['max_read=65536'], false],
  ['fsname=site@host', { fsname: 'site@host' }, [], false],
  ['subtype=web', { subtype: 'web' }, [], false],
  ['disable_hardlink', { disableHardlink: true }, [], false],
  ['transform_symlinks', { transformSymlinks: true }, [], false],
  ['compression=yes', {}, [], true],
  ['Compression=no', {}, [], false],
  ['sshfs_sync', {}, [], true],
  ['sync_readdir', {}, [], true],
  ['workaround=rename:nobuflimit', {}, [], true],
  ['ssh_command=ssh -v', {}, [], true],
  ['ProxyCommand=nc %h %p', {}, [], true],
  ['defaults,_netdev,nofail,noauto,user,x-systemd.automount,comment=x', {}, [], false],
];

describe('sshfs and libfuse options: parsed, passed on, or noted', () => {
  for (const [list, fields, libfuse, noted] of table) {
    test(`-o ${list}`, () => {
      const parsed = parseOptionList([list]);
      expect(parsed).toMatchObject(fields);
      expect(libfuseOptionsFor(parsed)).toEqual(libfuse);
      expect(parsed.notes.length > 0).toBe(noted);
      for (const note of parsed.notes) expect(note.split('\n')).toHaveLength(1);
    });
  }
  test('a typo still gets the list of supported options', () => {
    expect(() => parseOptionList(['default_permission'])).toThrow(/unknown option -o default_permission: supported are .*default_permissions.*kernel_cache/);
    expect(() => parseOptionList(['workaround=bogus'])).toThrow(UserError);
    expect(() => parseOptionList(['fsname=a,b'])).toThrow(/unknown option -o b/);
    expect(() => parseOptionList(['max_read=12'])).toThrow(/max_read=12/);
  });
});

// mount(8) calls helpers as: mount.TYPE SOURCE MOUNTPOINT [-sfnv] [-N NS] [-o OPTIONS] [-t TYPE.SUBTYPE]
const helperCalls: Array<[string[], ReturnType<typeof parseHelperArgs>]> = [
  [['h:/p', '/mnt', '-o', 'rw,Port=22'], { source: 'h:/p', mountpoint: '/mnt', options: ['rw,Port=22'], fake: false }],
  [['h:/p', '/mnt', '-n', '-o', 'ro', '-t', 'fuse.devmount'], { source: 'h:/p', mountpoint: '/mnt', options: ['ro'], fake: false }],
  [['h:/p', '/mnt', '-sv', '-N', '/proc/1/ns/mnt'], { source: 'h:/p', mountpoint: '/mnt', options: [], fake: false }],
  [['h:/p', '/mnt', '-f', '-o', 'ro'], { source: 'h:/p', mountpoint: '/mnt', options: ['ro'], fake: true }],
  [['h:/p'], 'expected SOURCE MOUNTPOINT'],
  [['h:/p', '/mnt', '-o'], '-o needs a value'],
  [['h:/p', '/mnt', '--bogus'], 'unknown flag --bogus'],
];

describe('mount.fuse.devmount arguments', () => {
  for (const [argv, expected] of helperCalls) {
    test(argv.join(' '), () => {
      expect(parseHelperArgs(argv)).toEqual(expected);
    });
  }
});

let sshd: Sshd;
let cli: CliEnv;
let share: string;

async function mountWith(name: string, args: string[]): Promise<{ mp: string; stderr: string }> {
  const mp = await cli.newMountpoint(name);
  const r = await cli.run(['mount', ...cli.sshArgs(sshd), ...args, `127.0.0.1:${share}`, mp]);
  expect(r.code, r.stderr).toBe(0);
  expect(await isMounted(mp)).toBe(true);
  return { mp, stderr: r.stderr };
}

async function mountsLine(mp: string): Promise<string[]> {
  const line = (await readFile('/proc/self/mounts', 'utf8')).split('\n').find((l) => l.split(' ')[1] === mp);
  return (line ?? '').split(' ');
}

/** A command's outcome from a child process: stdout, or its error message. */
async function outcome(command: string, args: readonly string[]): Promise<string> {
  try {
    return (await execFileAsync(command, args)).stdout.trim();
  } catch (err) {
    return `failed: ${(err as { stderr?: string }).stderr ?? String(err)}`;
  }
}

beforeAll(async () => {
  sshd = await startSshd();
  cli = await createCliEnv();
  // Other users must reach the mount points (mkdtemp makes 0700).
  await chmod(cli.scratch, 0o755);
  share = join(sshd.root, 'share');
  await execFileAsync('mkdir', ['-p', share]);
  await chmod(sshd.root, 0o755);
  await chmod(join(sshd.root, '..'), 0o755);
  await chmod(share, 0o755);
  await writeFile(join(share, 'public.txt'), 'public');
  await writeFile(join(share, 'private.txt'), 'private');
  await chmod(join(share, 'public.txt'), 0o644);
  await chmod(join(share, 'private.txt'), 0o600);
});

afterAll(async () => {
  for (const mp of ['kernel', 'noted', 'perm', 'noperm', 'fstab', 'fstab-line'].map((n) => join(cli.scratch, n))) {
    if (await isMounted(mp)) await cli.run(['unmount', mp]);
  }
  await cli?.cleanup();
  await sshd?.stop();
});

describe('on a real mount', () => {
  test('the kernel gets default_permissions, noatime, nosuid, nodev, max_read, fsname and subtype; disable_hardlink answers ENOSYS', async () => {
    const { mp, stderr } = await mountWith('kernel', ['-o', 'default_permissions,kernel_cache,direct_io,noatime,nosuid,nodev,max_read=65536,fsname=site@test,subtype=devtest,disable_hardlink']);
    expect(stderr).toBe('');
    const [source, , type, opts] = await mountsLine(mp);
    expect(source).toBe('site@test');
    expect(type).toBe('fuse.devtest');
    expect(opts?.split(',')).toEqual(expect.arrayContaining(['default_permissions', 'noatime', 'nosuid', 'nodev', 'max_read=65536']));
    expect(await outcome('cat', [join(mp, 'public.txt')])).toBe('public');
    // ENOSYS from link: Linux since 6.6 reports it as EPERM ("fuse: Return EPERM rather than ENOSYS from link()").
    expect(await outcome('ln', [join(mp, 'public.txt'), join(mp, 'hard.txt')])).toMatch(/Function not implemented|Operation not permitted/);
    await expect(lstat(join(share, 'hard.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    await cli.run(['unmount', mp]);
  });

  test('sshfs options without a counterpart mount, with one note line each', async () => {
    const { mp, stderr } = await mountWith('noted', ['-C', '-o', 'sshfs_sync,sync_readdir,workaround=rename,ssh_command=ssh', '-o', 'defaults,_netdev']);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const line of lines) expect(line).toMatch(/^devmount: note: -o \S+/);
    expect(await outcome('cat', [join(mp, 'public.txt')])).toBe('public');
    // Without disable_hardlink, link(2) reaches the server (hardlink@openssh.com).
    expect(await outcome('ln', [join(mp, 'public.txt'), join(mp, 'hard.txt')])).toBe('');
    expect((await lstat(join(share, 'hard.txt'))).nlink).toBe(2);
    await unlink(join(share, 'hard.txt'));
    await cli.run(['unmount', mp]);
  });
});

describe('default_permissions on an allow_other mount', () => {
  const user = 'devmount-perm';
  beforeAll(async () => {
    await ensureUser(user);
  });
  const asUser = (args: string[]) => outcome('runuser', ['-u', user, '--', ...args]);

  test('another user gets EACCES from the kernel for a 0600 file', async () => {
    const { mp } = await mountWith('perm', ['-o', 'allow_other,default_permissions']);
    expect(await asUser(['cat', join(mp, 'public.txt')])).toBe('public');
    expect(await asUser(['cat', join(mp, 'private.txt')])).toMatch(/Permission denied/);
    await cli.run(['unmount', mp]);
  });

  test('without it the kernel does not check: the same user reads the file (what default_permissions is for)', async () => {
    const { mp } = await mountWith('noperm', ['-o', 'allow_other']);
    expect(await asUser(['cat', join(mp, 'private.txt')])).toBe('private');
    await cli.run(['unmount', mp]);
  });
});

describe('fstab: mount -t fuse.devmount through the mount.fuse.devmount helper', () => {
  const helper = '/sbin/mount.fuse.devmount';
  const ours = fileURLToPath(new URL('../bin/mount.fuse.devmount.js', import.meta.url));
  let placed = false;
  beforeAll(async () => {
    const existing = await lstat(helper).then(() => readlink(helper), () => null);
    if (existing === null) {
      await symlink(ours, helper);
      placed = true;
    } else {
      expect(existing).toBe(ours); // never replace another install's helper
    }
  });
  afterAll(async () => {
    if (placed) await unlink(helper);
  });

  test('mounts with the fstab line\'s options, and umount(8) unmounts it', async () => {
    const mp = await cli.newMountpoint('fstab');
    await access(helper);
    const options = [
      'defaults', '_netdev', 'nofail', `Port=${sshd.port}`, `IdentityFile=${sshd.privateKeyPath}`,
      `UserKnownHostsFile=${sshd.knownHostsPath}`, 'ro', 'noatime',
    ].join(',');
    const r = await execFileAsync('mount', ['-t', 'fuse.devmount', `127.0.0.1:${share}`, mp, '-o', options], { env: cli.env });
    expect(r.stderr).toBe('');
    expect(await isMounted(mp)).toBe(true);
    const [, , type, opts] = await mountsLine(mp);
    expect(type).toBe('fuse.devmount');
    expect(opts?.split(',')).toEqual(expect.arrayContaining(['ro', 'noatime']));
    expect(await outcome('cat', [join(mp, 'public.txt')])).toBe('public');
    expect(await outcome('touch', [join(mp, 'new.txt')])).toMatch(/Read-only file system/);
    await execFileAsync('umount', [mp], { env: cli.env });
    expect(await isMounted(mp)).toBe(false);
  });

  test('an fstab line mounts with `mount MOUNTPOINT` (mount -T reads a given fstab file)', async () => {
    const mp = await cli.newMountpoint('fstab-line');
    const fstab = join(cli.scratch, 'test-fstab');
    const options = `defaults,_netdev,noauto,x-systemd.automount,Port=${sshd.port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath},allow_other,default_permissions`;
    await writeFile(fstab, `# devmount test\n127.0.0.1:${share}  ${mp}  fuse.devmount  ${options}  0 0\n`);
    await execFileAsync('mount', ['-T', fstab, mp], { env: cli.env });
    try {
      expect(await isMounted(mp)).toBe(true);
      const [source, , type, opts] = await mountsLine(mp);
      expect(source).toBe(`127.0.0.1:${share}`);
      expect(type).toBe('fuse.devmount');
      expect(opts?.split(',')).toEqual(expect.arrayContaining(['default_permissions', 'allow_other']));
      expect(await outcome('cat', [join(mp, 'public.txt')])).toBe('public');
    } finally {
      await execFileAsync('umount', [mp], { env: cli.env });
    }
    expect(await isMounted(mp)).toBe(false);
  });
});
