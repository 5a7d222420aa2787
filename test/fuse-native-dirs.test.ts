/**
 * The libfuse 3 binding's directory table (native/fuse3/src/dir-table.h, fs/fuse/native-dirs.ts) on a real mount
 * of the whole stack over a real sshd, served IN THIS PROCESS (only asynchronous fs calls touch the mount).
 * Caches and kernel timeouts are 300 s, so nothing expires during a test: a listing the table answered is only
 * ever replaced because a change was reported. Each test first shows the table answering (its hit counter
 * moves, JavaScript's readdir is not called), then changes the server and lets the caches learn of it the way
 * devmount does — a refresh (what `devmount refresh` and the remote watcher call), a change through the VFS by
 * another route than this kernel mount (the dev server's, `serve`'s private mount's) — and expects the next
 * listing through the mount to show it. Without the table's invalidation these tests fail: the table would go
 * on answering the old listing for 300 s.
 */
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FuseMount } from '../fs/fuse/adapter.js';
import { loadFuseNative } from '../fs/fuse/native.js';
import type { Vfs } from '../fs/vfs/types.js';
import { hookReaddir, type DuringReaddir } from './helpers/readdir-hook.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { eventuallyEqual, longCachedVfs, mountWithLongKernelTimeouts, type LongKernelMount } from './helpers/long-kernel-mount.js';

describe('directory listings answered on libfuse threads, dropped on every reported change', () => {
  let sshd: Sshd;
  let vfs: Vfs;
  let mounted: LongKernelMount | undefined;
  let mount: FuseMount;
  let mnt: string;
  /** Directories whose readdir reached JavaScript. */
  const listed: string[] = [];
  /** Per directory, work to do inside its next readdir, after the VFS answered and before the kernel gets it. */
  const duringReaddir: DuringReaddir = new Map();
  const server = (name: string) => join(sshd.root, name);
  const local = (name: string) => join(mnt, name);
  const names = async (dir: string) => (await readdir(local(dir))).sort();
  const hits = () => mount.nativeDirs()?.hits ?? 0;

  /** Lists `dir` twice through the mount: the second answer must come from the table. */
  const listFromTable = async (dir: string): Promise<string[]> => {
    const first = await names(dir);
    const hitsBefore = hits();
    const listedBefore = listed.length;
    expect(await names(dir)).toEqual(first);
    expect(hits()).toBe(hitsBefore + 1);
    expect(listed.length).toBe(listedBefore);
    return first;
  };

  beforeAll(async () => {
    // npm install builds the libfuse 3 binding (scripts/build-native.mjs); CI has a compiler and libfuse3-dev.
    expect(loadFuseNative().nativeDirs).toBeDefined();
    sshd = await startSshd();
    for (const dir of ['plain', 'refreshed', 'sized', 'written', 'tree/deep', 'raced']) {
      await mkdir(server(dir), { recursive: true });
      await writeFile(server(`${dir}/a.txt`), 'v1');
    }
    vfs = await longCachedVfs(sshd);
    mounted = await mountWithLongKernelTimeouts(hookReaddir(vfs, duringReaddir, listed), 'devmount-ndirs-');
    mount = mounted.mount;
    mnt = mounted.mountpoint;
  });

  afterAll(async () => {
    await mounted?.close();
    await vfs?.close();
    await sshd?.stop();
  });

  it('a listing read again is answered by the table, without JavaScript, and unseen server changes stay unseen', async () => {
    expect(await listFromTable('plain')).toEqual(['a.txt']);
    await writeFile(server('plain/b.txt'), 'v1');
    // Nobody told the caches: the table answers what they hold, as the caches themselves would.
    expect(await names('plain')).toEqual(['a.txt']);
  });

  it('a name created on the server and refreshed (devmount refresh, the remote watcher) is listed at once', async () => {
    expect(await listFromTable('refreshed')).toEqual(['a.txt']);
    await writeFile(server('refreshed/new.txt'), 'v1');
    vfs.refresh('/refreshed/new.txt');
    expect(await names('refreshed')).toEqual(['a.txt', 'new.txt']);
  });

  it('a size changed on the server and refreshed: the next listing carries the new attributes to the kernel', async () => {
    await listFromTable('sized');
    expect((await stat(local('sized/a.txt'))).size).toBe(2);
    await writeFile(server('sized/a.txt'), 'v2 is longer');
    vfs.refresh('/sized/a.txt');
    expect(await eventuallyEqual(async () => (await stat(local('sized/a.txt'))).size, 12)).toBe(12);
    // READDIRPLUS hands each entry's attributes to the kernel, which keeps them for 300 s: a stale listing
    // would put the old size back.
    await names('sized');
    expect((await stat(local('sized/a.txt'))).size).toBe(12);
  });

  it('files created and renamed through the VFS by another route than this kernel mount are listed at once', async () => {
    expect(await listFromTable('written')).toEqual(['a.txt']);
    const fh = await vfs.open('/written/made.txt', constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL);
    await vfs.write(fh, Buffer.from('made elsewhere'), 0);
    await vfs.release(fh);
    expect(await names('written')).toEqual(['a.txt', 'made.txt']);
    await listFromTable('written');
    await vfs.rename('/written/a.txt', '/written/moved.txt');
    expect(await names('written')).toEqual(['made.txt', 'moved.txt']);
  });

  it('a refresh of the whole tree reaches a directory deep inside it', async () => {
    expect(await listFromTable('tree/deep')).toEqual(['a.txt']);
    await writeFile(server('tree/deep/b.txt'), 'v1');
    vfs.refresh();
    expect(await names('tree/deep')).toEqual(['a.txt', 'b.txt']);
  });

  it('a listing answered while a change was reported is not kept in the table', async () => {
    // Inside the readdir: the server gains a name, a refresh reports it, and the caches read the directory again
    // (fresh, and with the name), while the kernel still gets the answer made before the change.
    duringReaddir.set('/raced', async (before) => {
      await writeFile(server('raced/late.txt'), 'v1');
      vfs.refresh('/raced');
      await vfs.readdir('/raced');
      return before;
    });
    const storedBefore = mount.nativeDirs()?.stored ?? 0;
    expect(await names('raced')).toEqual(['a.txt']);
    expect(mount.nativeDirs()?.stored).toBe(storedBefore);
    const listedBefore = listed.length;
    expect(await names('raced')).toEqual(['a.txt', 'late.txt']);
    expect(listed.length).toBe(listedBefore + 1);
    // Now nothing moved while it was answered: kept, and answered by the table next time.
    expect(mount.nativeDirs()?.stored).toBe(storedBefore + 1);
    await listFromTable('raced');
  });
});
