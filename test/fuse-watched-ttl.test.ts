/**
 * The FUSE fast-files and directory tables follow the caches' TTL clock (fs/cache/watched-clock.ts): while a real
 * remote watcher (inotify over the harness sshd) is healthy, a file read or a directory listed after its TTL has
 * passed is still answered on libfuse's threads — no FUSE request reaches JavaScript (counted on the VFS the
 * mount serves) — and a change the watcher reports is never answered from a table. When the watcher goes down
 * the tables are emptied and their entries expire by the TTL again. The kernel's own caches are off (0 s), so every stat and open reaches the
 * file system and the counts show who answered.
 */
import { readdir, readFile, rm, stat, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MountStackParts } from '../cli/mount-stack.js';
import { startConfiguredWatcher } from '../cli/remote-watch.js';
import { mountVfs, type FuseMount } from '../fs/fuse/adapter.js';
import { loadFuseNative } from '../fs/fuse/native.js';
import type { ChangeEvent } from '../fs/types.js';
import type { RemoteWatcher } from '../fs/watch/remote-watcher.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { countedVfs } from './helpers/counted-vfs.js';
import { kernelCachesOffOptions } from './helpers/fuse-probe-mount.js';
import { makeSmallSite, openStack } from './remote-serve-helpers.js';

/** cache_timeout / dcache_timeout of the stack, in seconds; the test idles past it. */
const TTL_S = 1;
const IDLE_MS = TTL_S * 1000 + 700;

let sshd: Sshd;
let site: string;
let parts: MountStackParts;
let watcher: RemoteWatcher;
let mount: FuseMount;
let mnt: string;
/** VFS calls made by the FUSE adapter, i.e. requests the table did not answer on libfuse's threads. */
const reachedJs: string[] = [];
/** Paths the remote watcher reported, in order. */
const reported: string[] = [];
let onReport: (() => void) | undefined;

function waitForReport(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`the watcher did not report ${path}`)), 10_000);
    onReport = () => {
      if (!reported.includes(path)) return;
      clearTimeout(deadline);
      resolve();
    };
    onReport();
  });
}

beforeAll(async () => {
  expect(loadFuseNative().fastFiles).toBeDefined();
  sshd = await startSshd();
  site = await makeSmallSite(sshd, 'site-watched-ttl');
  parts = await openStack(sshd, site, [`cache_timeout=${TTL_S}`, `dcache_timeout=${TTL_S}`, `negative_timeout=${TTL_S}`]);
  await parts.warm;
  const vfs = parts.vfs;
  // As `devmount mount -o remote_watch=inotify` wires it (cli/mount-service.ts).
  const started = await startConfiguredWatcher(parts.remote, 'inotify', 1000, (changes: readonly ChangeEvent[]) => {
    for (const change of changes) {
      vfs.refresh(change.path);
      reported.push(change.path);
    }
    onReport?.();
  }, parts.clock);
  if (!started) throw new Error('no watcher');
  watcher = started;
  mnt = await mkdtemp(join(tmpdir(), 'devmount-watched-ttl-'));
  mount = await mountVfs(countedVfs(vfs, reachedJs), kernelCachesOffOptions(mnt, { ttlClock: parts.clock }));
}, 60_000);

afterAll(async () => {
  await mount?.unmount();
  await watcher?.close();
  await parts?.vfs.close();
  if (mnt) await rm(mnt, { recursive: true, force: true });
  await sshd?.stop();
});

/** stat + read of a file through the mount: what php-cgi does for an include. */
async function include(name: string): Promise<string> {
  await stat(join(mnt, name));
  return readFile(join(mnt, name), 'utf8');
}

test('while the watcher is healthy, a file read after idling past the TTL is answered without JavaScript', async () => {
  expect(watcher.healthy()).toBe(true);
  expect(await include('docs/a.txt')).toBe('alpha');
  expect(await include('docs/a.txt')).toBe('alpha'); // now in the table, with its content
  const table = mount.fastFiles()!;
  reachedJs.length = 0;
  await new Promise((r) => setTimeout(r, IDLE_MS));
  expect(await include('docs/a.txt')).toBe('alpha');
  expect(await include('docs/a.txt')).toBe('alpha');
  expect(reachedJs).toEqual([]);
  const after = mount.fastFiles()!;
  expect(after.getattrs - table.getattrs).toBeGreaterThanOrEqual(2);
  expect(after.opens - table.opens).toBeGreaterThanOrEqual(2);
});

test('a change the watcher reports is never answered from the table (same size, same second)', async () => {
  expect(await include('docs/b.txt')).toBe('beta');
  expect(await include('docs/b.txt')).toBe('beta');
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const reportedAt = waitForReport('/docs/b.txt');
  await writeFile(join(site, 'docs/b.txt'), 'BETA');
  await reportedAt;
  expect(await include('docs/b.txt')).toBe('BETA');
  expect(reachedJs.some((call) => call.endsWith('/docs/b.txt'))).toBe(true);
  // Cached again, and answered by the table again (the kernel sends the release of the handle JavaScript opened
  // above after close(2) has returned, so it may arrive meanwhile).
  reachedJs.length = 0;
  expect(await include('docs/b.txt')).toBe('BETA');
  expect(reachedJs.filter((call) => !call.startsWith('release '))).toEqual([]);
});

/** The names of `docs/` through the mount, and whether JavaScript answered the READDIR (else the directory table did). */
async function listDocs(): Promise<{ names: string[]; byJs: boolean }> {
  reachedJs.length = 0;
  const names = (await readdir(join(mnt, 'docs'))).sort();
  return { names, byJs: reachedJs.includes('readdir /docs') };
}

test('while the watcher is healthy, a directory listed after idling past the TTL is answered by the directory table', async () => {
  await listDocs();
  expect(await listDocs()).toEqual({ names: ['a.txt', 'b.txt'], byJs: false });
  const hits = mount.nativeDirs()!.hits;
  await new Promise((r) => setTimeout(r, IDLE_MS));
  expect(await listDocs()).toEqual({ names: ['a.txt', 'b.txt'], byJs: false });
  expect(mount.nativeDirs()!.hits).toBeGreaterThan(hits);
  // A name the watcher reports is listed at once, then answered by the table again.
  const reportedAt = waitForReport('/docs/c.txt');
  await writeFile(join(site, 'docs/c.txt'), 'gamma');
  await reportedAt;
  expect(await listDocs()).toEqual({ names: ['a.txt', 'b.txt', 'c.txt'], byJs: true });
  expect(await listDocs()).toEqual({ names: ['a.txt', 'b.txt', 'c.txt'], byJs: false });
});

test('when the watcher goes down the tables forget, and their entries expire by the TTL again', async () => {
  expect((await listDocs()).byJs).toBe(false);
  expect(await include('index.html')).toContain('v1');
  reachedJs.length = 0;
  expect(await include('index.html')).toContain('v1');
  // The release of the handle JavaScript opened for the first include may arrive after close(2) has returned.
  expect(reachedJs.filter((call) => !call.startsWith('release '))).toEqual([]);
  await watcher.close();
  expect(parts.clock.watched()).toBe(false);
  // Emptied at once: the next stat and the next listing are asked of JavaScript.
  expect(await include('index.html')).toContain('v1');
  expect(reachedJs.filter((call) => call.startsWith('getattr /index.html')).length).toBeGreaterThanOrEqual(1);
  expect((await listDocs()).byJs).toBe(true);
  expect((await listDocs()).byJs).toBe(false);
  // Back in the table, then past the TTL the caches are asked again (the control for the first test).
  reachedJs.length = 0;
  expect(await include('index.html')).toContain('v1');
  expect(reachedJs).toEqual([]);
  await new Promise((r) => setTimeout(r, IDLE_MS));
  expect(await include('index.html')).toContain('v1');
  expect(reachedJs.filter((call) => call.startsWith('getattr /index.html')).length).toBeGreaterThanOrEqual(1);
  expect((await listDocs()).byJs).toBe(true);
});
