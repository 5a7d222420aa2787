/**
 * The private mount `serve user@host:path` makes for php-cgi (cli/private-mount.ts) lets the kernel check
 * permissions (default_permissions): PHP's is_readable()/is_writable()/is_executable() are access(2) calls, and
 * without it each one is a FUSE ACCESS request handed to JavaScript — the thread that also carries the site's
 * database round trips (205 of the 437 requests per WordPress front page). And the lookups of names that do not
 * exist (127 a page: theme fallbacks), answered from the binding's directory table after the first. Counted on
 * the VFS the mount serves.
 */
import { access, chmod, constants, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MountStackParts } from '../cli/mount-stack.js';
import { parseOptionList } from '../cli/mount-options.js';
import { mountPrivately, type PrivateMount } from '../cli/private-mount.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { countedVfs } from './helpers/counted-vfs.js';
import { makeSmallSite, openStack, silentLog } from './remote-serve-helpers.js';

let sshd: Sshd;
let parts: MountStackParts;
let mount: PrivateMount;
/** VFS calls made by the FUSE adapter: requests that reached JavaScript. */
const reachedJs: string[] = [];

beforeAll(async () => {
  sshd = await startSshd();
  const site = await makeSmallSite(sshd, 'site-private-permissions');
  await writeFile(join(site, 'docs', 'run.sh'), '#!/bin/sh\n');
  await chmod(join(site, 'docs', 'run.sh'), 0o755);
  await chmod(join(site, 'docs', 'a.txt'), 0o644);
  await mkdir(join(site, 'theme'));
  await writeFile(join(site, 'theme', 'style.css'), 'body {}');
  parts = await openStack(sshd, site);
  await parts.warm;
  mount = await mountPrivately(countedVfs(parts.vfs, reachedJs), site, parseOptionList([]), 'harness:/site', silentLog, parts.clock);
}, 60_000);

afterAll(async () => {
  await mount?.close();
  await parts?.vfs.close();
  await sshd?.stop();
});

test('access(2) on the private mount is answered by the kernel: no request reaches JavaScript', async () => {
  const file = join(mount.path, 'docs', 'a.txt');
  const dir = join(mount.path, 'docs');
  await stat(file);
  await stat(dir);
  reachedJs.length = 0;
  for (let i = 0; i < 20; i++) {
    await access(file, constants.R_OK | constants.W_OK);
    await access(dir, constants.R_OK | constants.W_OK | constants.X_OK);
  }
  expect(reachedJs).toEqual([]);
});

test("the kernel checks the mode bits, with the site's files owned by this user", async () => {
  const uid = process.getuid?.();
  expect((await stat(join(mount.path, 'docs', 'a.txt'))).uid).toBe(uid);
  await access(join(mount.path, 'docs', 'run.sh'), constants.X_OK);
  // No execute bit: refused, as on the server (the adapter's own ACCESS answer was "it exists").
  await expect(access(join(mount.path, 'docs', 'a.txt'), constants.X_OK)).rejects.toMatchObject({ code: 'EACCES' });
  await expect(access(join(mount.path, 'docs', 'missing.txt'), constants.R_OK)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('names that do not exist, looked up again and again (theme fallbacks, include paths), reach JavaScript once', async () => {
  // The serve's prefetcher listed the tree: the caches hold theme/ fresh, though no READDIR of it was made here.
  const absent = (name: string) => stat(join(mount.path, 'theme', name)).then(() => 'found', (err: NodeJS.ErrnoException) => err.code);
  const lookups = () => reachedJs.filter((c) => c.startsWith('getattr ') && c.includes('/theme/block-')).length;
  reachedJs.length = 0;
  expect(await absent('block-templates')).toBe('ENOENT');
  expect(lookups()).toBe(1);
  // JavaScript puts theme/'s listing into the directory table after answering; from then on the table answers.
  for (let i = 0; i < 40; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = lookups();
    expect(await absent('block-templates')).toBe('ENOENT');
    if (lookups() === before) break;
  }
  const settled = lookups();
  for (let i = 0; i < 20; i++) {
    expect(await absent('block-templates')).toBe('ENOENT');
    expect(await absent('block-template-parts')).toBe('ENOENT');
  }
  expect(lookups()).toBe(settled);
  expect(settled).toBeLessThanOrEqual(2);
  expect(await absent('style.css')).toBe('found');
});
