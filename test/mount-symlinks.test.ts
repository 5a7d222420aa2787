/**
 * Symlink containment through a real mount (CVE-2026-47187): a server tree with hostile links (absolute,
 * `../` escapes of several depths, `sub/../../`, `..`, chains through other links, links to the mount root)
 * and safe ones, mounted with each containment option and their orders. Every check runs `cat`, `stat`,
 * `ls` or `readlink` in a child process: the mount is served by the CLI daemon, never by this process.
 *
 * The client-side secret sits next to the mount points, where a relative escape from the mount root lands on
 * the client; on the server the same relative path leads nowhere (the share is elsewhere). Seeing the secret
 * with no_contain_symlinks shows that the tree really is hostile, and that containment is what stops it.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile, lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';
import { createCliEnv, daemonLogText, isMounted, type CliEnv } from './mount-cli-helpers.js';
import { get } from './remote-serve-helpers.js';

let sshd: Sshd;
let cli: CliEnv;
let share: string;
const SECRET = 'CLIENT-SECRET-8c1f';
const INSIDE = 'inside-file';
const INNER = 'inner-file';

/** Outcome of a command in a child process: its stdout, or the errno its error message names. */
async function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 20_000 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout.trim());
      if (/Operation not permitted/.test(stderr)) return resolve('EPERM');
      if (/No such file/.test(stderr)) return resolve('ENOENT');
      if (/Too many levels/.test(stderr)) return resolve('ELOOP');
      resolve(`failed: ${stderr.trim()}`);
    });
  });
}

async function mountWith(name: string, options: string[]): Promise<string> {
  const mp = await cli.newMountpoint(name);
  const extra = options.flatMap((o) => ['-o', o]);
  const r = await cli.run(['mount', ...cli.sshArgs(sshd), ...extra, `127.0.0.1:${share}`, mp]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  expect(await isMounted(mp)).toBe(true);
  return mp;
}

beforeAll(async () => {
  sshd = await startSshd();
  cli = await createCliEnv();
  share = join(sshd.root, 'share');
  // The client's own file, beside the mount points (cli.scratch/<mountpoint>).
  await writeFile(join(cli.scratch, 'client-secret.txt'), SECRET);
  await mkdir(join(share, 'sub', 'deeper'), { recursive: true });
  await writeFile(join(share, 'file.txt'), INSIDE);
  await writeFile(join(share, 'sub', 'inner.txt'), INNER);
  const links: Array<[string, string]> = [
    // hostile
    ['abs', '/etc/passwd'],
    ['abs-secret', join(cli.scratch, 'client-secret.txt')],
    ['up1', '../client-secret.txt'],
    ['sub/up2', '../../client-secret.txt'],
    ['sub/deeper/up3', '../../../client-secret.txt'],
    ['mid', 'sub/../../client-secret.txt'],
    ['chain', 'sub/hop'],
    ['sub/hop', '../../client-secret.txt'],
    ['dotdot', '..'],
    ['sub/root', '..'],
    ['rootabs', share],
    ['inroot-abs', join(share, 'file.txt')],
    ['rm-me', '/etc/passwd'],
    // safe
    ['rel', 'file.txt'],
    ['sub/sib', '../file.txt'],
    ['sub/deeper/sib2', '../inner.txt'],
    ['chainok', 'sub/hop-ok'],
    ['sub/hop-ok', 'inner.txt'],
  ];
  for (const [path, target] of links) await symlink(target, join(share, path));
});

afterAll(async () => {
  await cli?.cleanup();
  await sshd?.stop();
});

type Mode = 'contain' | 'open' | 'transform' | 'transformOpen';

// [link, what `cat` prints per mode]; EPERM = refused by containment.
const passwdHead = 'root:';
const catTable: Array<[string, Record<Mode, string>]> = [
  ['abs', { contain: 'EPERM', open: passwdHead, transform: 'EPERM', transformOpen: passwdHead }],
  ['abs-secret', { contain: 'EPERM', open: SECRET, transform: 'EPERM', transformOpen: SECRET }],
  ['up1', { contain: 'EPERM', open: SECRET, transform: 'EPERM', transformOpen: SECRET }],
  ['sub/up2', { contain: 'EPERM', open: SECRET, transform: 'EPERM', transformOpen: SECRET }],
  ['sub/deeper/up3', { contain: 'EPERM', open: SECRET, transform: 'EPERM', transformOpen: SECRET }],
  ['mid', { contain: 'EPERM', open: SECRET, transform: 'EPERM', transformOpen: SECRET }],
  ['chain', { contain: 'EPERM', open: SECRET, transform: 'EPERM', transformOpen: SECRET }],
  // Absolute inside the remote root: the client resolves it (here the same machine), transform makes it relative.
  ['inroot-abs', { contain: 'EPERM', open: INSIDE, transform: INSIDE, transformOpen: INSIDE }],
  ['rel', { contain: INSIDE, open: INSIDE, transform: INSIDE, transformOpen: INSIDE }],
  ['sub/sib', { contain: INSIDE, open: INSIDE, transform: INSIDE, transformOpen: INSIDE }],
  ['sub/deeper/sib2', { contain: INNER, open: INNER, transform: INNER, transformOpen: INNER }],
  ['chainok', { contain: INNER, open: INNER, transform: INNER, transformOpen: INNER }],
];

// [directory link, a name `ls` shows when it is followed, per mode (EPERM = refused)]
const lsTable: Array<[string, Record<Mode, string>]> = [
  ['dotdot', { contain: 'EPERM', open: 'client-secret.txt', transform: 'EPERM', transformOpen: 'client-secret.txt' }],
  ['sub/root', { contain: 'EPERM', open: 'file.txt', transform: 'EPERM', transformOpen: 'file.txt' }],
  ['rootabs', { contain: 'EPERM', open: 'file.txt', transform: 'EPERM', transformOpen: 'file.txt' }],
];

// [link, what `readlink` prints per mode]
const readlinkTable: Array<[string, Record<Mode, string>]> = [
  ['abs', { contain: 'EPERM', open: '/etc/passwd', transform: 'EPERM', transformOpen: '/etc/passwd' }],
  ['sub/up2', { contain: 'EPERM', open: '../../client-secret.txt', transform: 'EPERM', transformOpen: '../../client-secret.txt' }],
  ['dotdot', { contain: 'EPERM', open: '..', transform: 'EPERM', transformOpen: '..' }],
  ['inroot-abs', { contain: 'EPERM', open: '', transform: 'file.txt', transformOpen: 'file.txt' }],
  ['rootabs', { contain: 'EPERM', open: '', transform: 'EPERM', transformOpen: '.' }],
  ['sub/sib', { contain: '../file.txt', open: '../file.txt', transform: '../file.txt', transformOpen: '../file.txt' }],
];

// Each option list and the mode it must end in (contain/no_contain: the last one wins).
const optionSets: Array<[string, string[], Mode]> = [
  ['default', [], 'contain'],
  ['contain', ['contain_symlinks'], 'contain'],
  ['no-contain', ['no_contain_symlinks'], 'open'],
  ['no-then-contain', ['no_contain_symlinks,contain_symlinks'], 'contain'],
  ['contain-then-no', ['contain_symlinks', 'no_contain_symlinks'], 'open'],
  ['transform', ['transform_symlinks'], 'transform'],
  ['transform-no-contain', ['transform_symlinks,no_contain_symlinks'], 'transformOpen'],
  ['no-contain-transform-contain', ['no_contain_symlinks,transform_symlinks,contain_symlinks'], 'transform'],
];

for (const [name, options, mode] of optionSets) {
  describe(`-o ${options.join(',') || '(none)'}: ${mode}`, () => {
    let mp: string;
    beforeAll(async () => {
      mp = await mountWith(`mnt-${name}`, options);
    });
    afterAll(async () => {
      if (mp && (await isMounted(mp))) await cli.run(['unmount', mp]);
    });

    test('cat through each link', async () => {
      for (const [link, expected] of catTable) {
        const out = await run('cat', [join(mp, link)]);
        if (expected[mode] === passwdHead) expect(out.startsWith(passwdHead), `${link}: ${out}`).toBe(true);
        else expect(out, link).toBe(expected[mode]);
      }
    });

    test('stat -L follows (or is refused), stat shows the link itself', async () => {
      for (const [link, expected] of catTable) {
        const followed = await run('stat', ['-L', '-c', '%F', join(mp, link)]);
        expect(followed, link).toBe(expected[mode] === 'EPERM' ? 'EPERM' : 'regular file');
        // lstat of a refused link still answers, so it can be seen and removed (as with sshfs 3.7.6).
        expect(await run('stat', ['-c', '%F', join(mp, link)]), link).toBe('symbolic link');
      }
    });

    test('ls of directory links', async () => {
      for (const [link, expected] of lsTable) {
        const out = await run('ls', ['-1', `${join(mp, link)}/`]);
        if (expected[mode] === 'EPERM') expect(out, link).toBe('EPERM');
        else expect(out.split('\n'), link).toContain(expected[mode]);
      }
      // The mount root itself lists every link, hostile ones included.
      expect((await run('ls', ['-1', mp])).split('\n')).toEqual(expect.arrayContaining(['abs', 'dotdot', 'rel', 'sub']));
    });

    test('readlink', async () => {
      for (const [link, expected] of readlinkTable) {
        const want = expected[mode] === '' ? (link === 'rootabs' ? share : join(share, 'file.txt')) : expected[mode];
        expect(await run('readlink', ['-v', join(mp, link)]), link).toBe(want);
      }
    });
  });
}

describe('with containment on', () => {
  test('a refused link can still be removed through the mount', async () => {
    const mp = await mountWith('mnt-rm', []);
    try {
      expect(await run('rm', [join(mp, 'rm-me')])).toBe('');
      await expect(lstat(join(share, 'rm-me'))).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      await cli.run(['unmount', mp]);
    }
  });

  test('follow_symlinks: the server resolves links on its side, never onto the client\'s files', async () => {
    const mp = await mountWith('mnt-follow', ['follow_symlinks']);
    try {
      // On the server, ../client-secret.txt from the share is a name that does not exist.
      expect(await run('cat', [join(mp, 'up1')])).toBe('ENOENT');
      expect(await run('cat', [join(mp, 'mid')])).toBe('ENOENT');
      expect(await run('cat', [join(mp, 'rel')])).toBe(INSIDE);
      expect(await run('stat', ['-c', '%F', join(mp, 'rel')])).toBe('regular file');
    } finally {
      await cli.run(['unmount', mp]);
    }
  });

  test('the dev server over the same mount (--serve) serves the safe links and none of the hostile ones', async () => {
    const mp = await cli.newMountpoint('mnt-serve');
    const r = await cli.run(['mount', ...cli.sshArgs(sshd), '--serve=0', `127.0.0.1:${share}`, mp]);
    expect(r.code, r.stderr).toBe(0);
    try {
      const status = JSON.parse((await cli.run(['status', '--json'])).stdout) as { mounts: Array<{ mountpoint: string; serveUrl?: string }> };
      const port = Number(new URL(status.mounts.find((m) => m.mountpoint === mp)?.serveUrl ?? '').port);
      // The dev server resolves links itself inside the site, on the server (devserver/sources/vfs.ts): an absolute
      // target inside the site is served, as transform_symlinks would show it; everything refused stays refused.
      for (const [link, expected] of catTable) {
        const page = await get(port, `/${link}`);
        if (expected.transform === 'EPERM') {
          expect(page.status, link).toBeGreaterThanOrEqual(400);
          expect(page.body, link).not.toContain(SECRET);
          expect(page.body, link).not.toContain('root:');
        } else {
          expect(page.body, link).toBe(expected.transform);
        }
      }
    } finally {
      await cli.run(['unmount', mp]);
    }
  });

  test('the daemon log names a refused link and why', async () => {
    const mp = await mountWith('mnt-log', []);
    try {
      expect(await run('readlink', ['-v', join(mp, 'sub/up2')])).toBe('EPERM');
      const log = await daemonLogText(cli, mp);
      expect(log).toMatch(/symlink target leaves the mount.*\/sub\/up2.*climbs above the mount root/);
    } finally {
      await cli.run(['unmount', mp]);
    }
  });
});
