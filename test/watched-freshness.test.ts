/**
 * Cache TTLs while a remote watcher covers the tree (fs/cache/watched-clock.ts): with inotify running, a page
 * read after the TTL passed costs no round trip (counted); with watching off the TTL applies as before. And the
 * start-up stream's order (fs/prefetch/start-order.ts), table-driven.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createWatchedClock } from '../fs/cache/watched-clock.js';
import { inStartOrder } from '../fs/prefetch/start-order.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { makeSmallSite, serveRemote } from './remote-serve-helpers.js';

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

describe.each([
  { watch: 'inotify' as const, expired: false },
  { watch: 'off' as const, expired: true },
])('remote watch $watch, cache_timeout=1', ({ watch, expired }) => {
  test(expired ? 'a read after the TTL asks the server again' : 'a read after the TTL is still answered from the caches', async () => {
    const stack = await serveRemote(sshd, await makeSmallSite(sshd, `site-ttl-${watch}`), watch, { extra: ['cache_timeout=1'] });
    try {
      // Through the VFS itself: the dev server's own cache (on while watching) would answer an HTTP GET anyway.
      const vfs = stack.parts.vfs;
      const read = async () => {
        await vfs.getattr('/docs/a.txt');
        return (await vfs.readFile('/docs/a.txt')).toString();
      };
      expect(await read()).toBe('alpha');
      const before = { ...vfs.stats().cache };
      await new Promise((r) => setTimeout(r, 1500));
      expect(await read()).toBe('alpha');
      const after = { ...vfs.stats().cache };
      if (expired) expect(after.attrMisses).toBeGreaterThan(before.attrMisses!);
      else expect(after).toMatchObject({ attrMisses: before.attrMisses, dirMisses: before.dirMisses, dataMisses: before.dataMisses });
    } finally {
      await stack.close();
    }
  });
});

test('the TTL clock stands still while watched and runs on from where it stood', () => {
  let real = 1000;
  const clock = createWatchedClock(() => real);
  expect(clock.now()).toBe(1000);
  clock.setWatched(true);
  real = 5000;
  expect(clock.now()).toBe(1000);
  clock.setWatched(false);
  real = 6000;
  expect(clock.now()).toBe(2000);
});

test.each([
  ['scripts and configuration before styles and images, shallow first', [], ['img/logo.png', 'css/site.css', 'inc/deep/x.php', 'index.php', '.htaccess', 'conf/app.json'],
    ['.htaccess', 'index.php', 'inc/deep/x.php', 'conf/app.json', 'css/site.css', 'img/logo.png']],
  ['files opened in earlier runs first, in their order', ['img/logo.png', 'inc/deep/x.php'], ['index.php', 'inc/deep/x.php', 'img/logo.png'],
    ['img/logo.png', 'inc/deep/x.php', 'index.php']],
])('start-up order: %s', (_what, learned, paths, expected) => {
  const files = paths.map((path) => ({ path, size: 10, mtimeMs: 0 }));
  expect(inStartOrder(files, learned, 1000, () => false).map((f) => f.path)).toEqual(expected);
});

test('start-up order: the byte budget skips what does not fit, and files in memory are left out', () => {
  const files = [{ path: 'a.php', size: 600, mtimeMs: 0 }, { path: 'b.php', size: 600, mtimeMs: 0 }, { path: 'c.php', size: 100, mtimeMs: 0 }, { path: 'd.php', size: 10, mtimeMs: 0 }];
  expect(inStartOrder(files, [], 1000, (rel) => rel === 'd.php').map((f) => f.path)).toEqual(['a.php', 'c.php']);
});
