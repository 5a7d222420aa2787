/**
 * Names that do not exist, answered on libfuse's threads from the directory table (native/fuse3/src/dir-table.h
 * dt_has_name, fs/fuse/native-dirs.ts `absent`), on a real mount of the whole stack over a real sshd, served IN
 * THIS PROCESS (only asynchronous fs calls touch the mount). The kernel keeps no negative entries (libfuse 3.14
 * cannot invalidate one), so every stat of an absent name is a LOOKUP: the first reaches JavaScript, which answers
 * ENOENT and puts the parent's fresh listing into the table; the next ones are answered there. Caches and kernel
 * timeouts are 300 s, so nothing expires during a test: each test then makes the name exist the ways devmount
 * learns of it — on the server with a refresh (what `devmount refresh` and the remote watcher call), through the
 * mount, through the VFS by another route (the dev server's, `serve`'s private mount's) — and expects stat to see
 * it at once. Without the table dropping the parent's listing on a change these fail: it would go on answering
 * ENOENT for 300 s.
 */
import { access, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FuseMount } from '../fs/fuse/adapter.js';
import { loadFuseNative } from '../fs/fuse/native.js';
import type { Vfs } from '../fs/vfs/types.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { countedVfs } from './helpers/counted-vfs.js';
import { hookReaddir, type DuringReaddir } from './helpers/readdir-hook.js';
import { eventuallyEqual, longCachedVfs, mountWithLongKernelTimeouts, type LongKernelMount } from './helpers/long-kernel-mount.js';

describe('absent names answered ENOENT on libfuse threads, found at once after every reported change', () => {
  let sshd: Sshd;
  let vfs: Vfs;
  let mounted: LongKernelMount | undefined;
  let mount: FuseMount;
  let mnt: string;
  /** Every VFS call the mount made: the requests that reached JavaScript. */
  const calls: string[] = [];
  /** Per directory, work to do inside its next readdir, after the VFS answered and before the mount gets it. */
  const duringReaddir: DuringReaddir = new Map();
  const server = (name: string) => join(sshd.root, name);
  const local = (name: string) => join(mnt, name);
  const dirs = () => mount.nativeDirs() ?? { hits: 0, stored: 0, dropped: 0, listings: 0, negativeHits: 0 };
  /** Lookups of `path` (getattr or access) that reached JavaScript. */
  const lookupsInJs = (path: string) => calls.filter((c) => c === `getattr ${path}` || c === `access ${path}`).length;
  const statCode = (name: string) => stat(local(name)).then(() => 'found', (err: NodeJS.ErrnoException) => err.code);

  /**
   * `name` (relative to the mount) is absent: the first stat reaches JavaScript, which puts the parent's listing
   * (held fresh by the caches) into the table; the next stats are answered there.
   */
  const absentAnsweredInC = async (name: string): Promise<void> => {
    const path = `/${name}`;
    const storedBefore = dirs().stored;
    const before = lookupsInJs(path);
    expect(await statCode(name)).toBe('ENOENT');
    expect(lookupsInJs(path)).toBe(before + 1);
    expect(await eventuallyEqual(async () => dirs().stored > storedBefore, true)).toBe(true);
    const negativeBefore = dirs().negativeHits;
    for (let i = 0; i < 3; i++) expect(await statCode(name)).toBe('ENOENT');
    await expect(access(local(name))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(lookupsInJs(path)).toBe(before + 1);
    expect(dirs().negativeHits).toBe(negativeBefore + 4);
  };

  beforeAll(async () => {
    // npm install builds the libfuse 3 binding (scripts/build-native.mjs); CI has a compiler and libfuse3-dev.
    expect(loadFuseNative().nativeDirs).toBeDefined();
    sshd = await startSshd();
    for (const dir of ['probe', 'refreshed', 'made', 'elsewhere', 'many', 'raced']) {
      await mkdir(server(dir), { recursive: true });
      await writeFile(server(`${dir}/a.txt`), 'v1');
    }
    vfs = await longCachedVfs(sshd);
    // The caches hold each listing fresh, as after the prefetcher's tree listing: no READDIR has put it yet.
    for (const dir of ['/', '/probe', '/refreshed', '/made', '/elsewhere', '/many', '/raced']) await vfs.readdir(dir);
    mounted = await mountWithLongKernelTimeouts(countedVfs(hookReaddir(vfs, duringReaddir), calls), 'devmount-neg-');
    mount = mounted.mount;
    mnt = mounted.mountpoint;
  });

  afterAll(async () => {
    await mounted?.close();
    await vfs?.close();
    await sshd?.stop();
  });

  it('an absent name is looked up in JavaScript once, then answered by the table; present names still resolve', async () => {
    await absentAnsweredInC('probe/missing.php');
    // Another absent name in the same directory: the listing is already there.
    const negativeBefore = dirs().negativeHits;
    expect(await statCode('probe/other.php')).toBe('ENOENT');
    expect(lookupsInJs('/probe/other.php')).toBe(0);
    expect(dirs().negativeHits).toBe(negativeBefore + 1);
    expect(await statCode('probe/a.txt')).toBe('found');
    // A name no file system here can hold fails as path resolution does, not as an absent name.
    expect(await statCode(`probe/${'n'.repeat(300)}`)).toBe('ENAMETOOLONG');
    // The root has a listing too.
    await absentAnsweredInC('nothing-here');
  });

  it('many misses in one directory at once put its listing once', async () => {
    const storedBefore = dirs().stored;
    const codes = await Promise.all(['m1', 'm2', 'm3', 'm4', 'm5'].map((n) => statCode(`many/${n}`)));
    expect(codes).toEqual(['ENOENT', 'ENOENT', 'ENOENT', 'ENOENT', 'ENOENT']);
    expect(await eventuallyEqual(async () => dirs().stored, storedBefore + 1)).toBe(storedBefore + 1);
  });

  it('a name created on the server and refreshed (devmount refresh, the remote watcher) is found at once', async () => {
    await absentAnsweredInC('refreshed/later.txt');
    await writeFile(server('refreshed/later.txt'), 'v1');
    // Nobody told the caches: the table answers what they hold, as the caches themselves would.
    expect(await statCode('refreshed/later.txt')).toBe('ENOENT');
    vfs.refresh('/refreshed/later.txt');
    expect(await statCode('refreshed/later.txt')).toBe('found');
  });

  it('a name created through the mount is found at once, and listed', async () => {
    await absentAnsweredInC('made/new.txt');
    await writeFile(local('made/new.txt'), 'through the mount');
    expect(await statCode('made/new.txt')).toBe('found');
    expect((await readdir(local('made'))).sort()).toEqual(['a.txt', 'new.txt']);
    await mkdir(local('made/sub'));
    expect(await statCode('made/sub')).toBe('found');
  });

  it('names created and renamed through the VFS by another route than this kernel mount are found at once', async () => {
    await absentAnsweredInC('elsewhere/made.txt');
    const fh = await vfs.open('/elsewhere/made.txt', constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL);
    await vfs.write(fh, Buffer.from('made elsewhere'), 0);
    await vfs.release(fh);
    expect(await statCode('elsewhere/made.txt')).toBe('found');
    await absentAnsweredInC('elsewhere/moved.txt');
    await vfs.rename('/elsewhere/a.txt', '/elsewhere/moved.txt');
    expect(await statCode('elsewhere/moved.txt')).toBe('found');
  });

  it('a listing read for a miss while a change was reported is not put into the table', async () => {
    // Inside the readdir that reads the parent's listing for the table: the server gains the name, a refresh
    // reports it, and the caches read the directory again (fresh, and with the name), while the table would still
    // get the listing made before the change.
    let created: () => void = () => undefined;
    const createdLate = new Promise<void>((resolve) => {
      created = resolve;
    });
    duringReaddir.set('/raced', async (before) => {
      await writeFile(server('raced/late.txt'), 'v1');
      vfs.refresh('/raced');
      await vfs.readdir('/raced');
      created();
      return before;
    });
    const storedBefore = dirs().stored;
    expect(await statCode('raced/late.txt')).toBe('ENOENT');
    await createdLate;
    // The put is decided in the promise callbacks that follow the readdir's answer: all run before the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    expect(dirs().stored).toBe(storedBefore);
    expect(await statCode('raced/late.txt')).toBe('found');
    expect(await statCode('raced/late.txt')).toBe('found');
  });
});
