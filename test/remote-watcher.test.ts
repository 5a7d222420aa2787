import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile, rename } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { FileEntryWithStats } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshConnection } from '../fs/ssh/types.js';
import type { ChangeEvent, DirEntry } from '../fs/types.js';
import { detectWatchMethod, startRemoteWatcher, type WatchTransport } from '../fs/watch/remote-watcher.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

/** A WatchTransport over one harness connection; readdir maps mount-relative paths under `root`. */
function transportFor(conn: SshConnection, root: string): WatchTransport {
  return {
    exec: (cmd) => conn.exec(cmd),
    execStream: (cmd) => conn.execStream(cmd),
    readdir: (path) => new Promise<DirEntry[]>((resolve, reject) => {
      conn.sftp.readdir(join(root, path), (err: Error | undefined, list: FileEntryWithStats[]) => {
        if (err) return reject(err);
        resolve(list.map((e) => ({
          name: e.filename,
          attr: {
            mode: e.attrs.mode, size: e.attrs.size, uid: e.attrs.uid, gid: e.attrs.gid, nlink: 1,
            atimeMs: e.attrs.atime * 1000, mtimeMs: e.attrs.mtime * 1000, ctimeMs: e.attrs.mtime * 1000,
          },
        })));
      });
    }),
  };
}

/** Server-side processes whose command line names `marker` (the watched directory): what a watcher leaves running. */
async function serverProcesses(marker: string): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)('pgrep', ['-af', marker]);
    return stdout.split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

async function noServerProcessesLeft(marker: string): Promise<string[]> {
  let left = await serverProcesses(marker);
  for (let i = 0; i < 40 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 250));
    left = await serverProcesses(marker);
  }
  return left;
}

/** Collects change batches; resolves when an event for `path` arrives (bounded wait). */
function collector() {
  const events: ChangeEvent[] = [];
  let waiters: Array<() => void> = [];
  return {
    events,
    listener: (batch: readonly ChangeEvent[]) => {
      events.push(...batch);
      for (const w of waiters) w();
      waiters = [];
    },
    async waitFor(predicate: (e: ChangeEvent) => boolean, timeoutMs = 8000): Promise<ChangeEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = events.find(predicate);
        if (hit) return hit;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching change event; got ${JSON.stringify(events)}`);
        await new Promise<void>((r) => { waiters.push(r); setTimeout(r, Math.min(left, 200)); });
      }
    },
  };
}

describe('remote watcher: server-side edits are detected', () => {
  let sshd: Sshd;
  let conn: SshConnection;
  beforeAll(async () => {
    sshd = await startSshd();
    conn = await harnessConnector(sshd)();
  });
  afterAll(async () => {
    conn.close();
    await sshd.stop();
  });

  it('picks inotify when the server has inotifywait', async () => {
    expect(await detectWatchMethod(transportFor(conn, sshd.root))).toBe('inotify');
  });

  for (const method of ['inotify', 'find'] as const) {
    it(`${method}: reports create, modify, rename and delete with site-relative paths, odd names included`, async () => {
      const site = join(sshd.root, `site-${method}`);
      await mkdir(join(site, 'css'), { recursive: true });
      await writeFile(join(site, 'css', 'a b.css'), 'body{}');
      const c = collector();
      const watcher = await startRemoteWatcher(transportFor(conn, site), { remoteRoot: site, method, intervalMs: 300 }, c.listener);
      try {
        expect(watcher.method).toBe(method);
        await writeFile(join(site, 'css', 'a b.css'), 'body{color:red}');
        await c.waitFor((e) => e.path === '/css/a b.css');
        await writeFile(join(site, 'new\nline.html'), 'x');
        await c.waitFor((e) => e.path === '/new\nline.html' || (method === 'find' && e.path === '/'));
        await rename(join(site, 'css', 'a b.css'), join(site, 'css', 'moved.css'));
        await c.waitFor((e) => e.path === '/css/moved.css' || (method === 'find' && e.path === '/css'));
        await rm(join(site, 'css', 'moved.css'));
        if (method === 'inotify') await c.waitFor((e) => e.path === '/css/moved.css' && e.kind === 'delete');
        expect(c.events.every((e) => e.origin === 'remote' && e.path.startsWith('/'))).toBe(true);
      } finally {
        await watcher.close();
      }
    });
  }

  it('find: one edit is reported once, not again in the overlapping next round', async () => {
    const site = join(sshd.root, 'site-once');
    await mkdir(site, { recursive: true });
    const c = collector();
    const watcher = await startRemoteWatcher(transportFor(conn, site), { remoteRoot: site, method: 'find', intervalMs: 200 }, c.listener);
    try {
      await writeFile(join(site, 'once.html'), 'x');
      await c.waitFor((e) => e.path === '/once.html');
      await new Promise((r) => setTimeout(r, 1000)); // several more rounds
      expect(c.events.filter((e) => e.path === '/once.html')).toHaveLength(1);
    } finally {
      await watcher.close();
    }
  });

  for (const method of ['inotify', 'find'] as const) {
    it(`${method}: nothing keeps running on the server once the watcher is closed or its connection dies`, async () => {
      const closed = join(sshd.root, `left-behind-closed-${method}`);
      await mkdir(closed, { recursive: true });
      const watcher = await startRemoteWatcher(transportFor(conn, closed), { remoteRoot: closed, method, intervalMs: 300 }, () => undefined);
      expect(await serverProcesses(closed)).not.toEqual([]);
      await watcher.close();
      expect(await noServerProcessesLeft(closed)).toEqual([]);

      // The connection killed under it (a network drop): the server side must not live on either.
      const dropped = join(sshd.root, `left-behind-dropped-${method}`);
      await mkdir(dropped, { recursive: true });
      const own = await harnessConnector(sshd)();
      const orphan = await startRemoteWatcher(transportFor(own, dropped), { remoteRoot: dropped, method, intervalMs: 300 }, () => undefined);
      try {
        expect(await serverProcesses(dropped)).not.toEqual([]);
        own.client.destroy();
        expect(await noServerProcessesLeft(dropped)).toEqual([]);
      } finally {
        await orphan.close();
      }
    });
  }

  it('a burst of 300 server-side writes arrives as a few batches, not 300', async () => {
    const site = join(sshd.root, 'burst');
    await mkdir(site, { recursive: true });
    const batches: number[] = [];
    const c = collector();
    const watcher = await startRemoteWatcher(transportFor(conn, site), { remoteRoot: site, method: 'inotify', batchMs: 100 },
      (batch) => { batches.push(batch.length); c.listener(batch); });
    try {
      await Promise.all(Array.from({ length: 300 }, (_, i) => writeFile(join(site, `f${i}.txt`), String(i))));
      await c.waitFor((e) => e.path === '/f299.txt');
      await new Promise((r) => setTimeout(r, 300));
      expect(new Set(c.events.map((e) => e.path)).size).toBe(300);
      expect(batches.length).toBeLessThan(30);
    } finally {
      await watcher.close();
    }
  });
});

describe('remote watcher on an SFTP-only server', () => {
  let sshd: Sshd;
  let conn: SshConnection;
  beforeAll(async () => {
    sshd = await startSshd({ sftpOnly: true });
    conn = await harnessConnector(sshd)();
  });
  afterAll(async () => {
    conn.close();
    await sshd.stop();
  });

  it('falls back to SFTP polling of tracked directories', async () => {
    const site = join(sshd.root, 'site');
    await mkdir(join(site, 'sub'), { recursive: true });
    await writeFile(join(site, 'sub', 'page.html'), 'v1');
    const c = collector();
    const watcher = await startRemoteWatcher(transportFor(conn, site), { remoteRoot: site, intervalMs: 200 }, c.listener);
    try {
      expect(watcher.method).toBe('sftp-poll');
      watcher.track('/sub');
      await new Promise((r) => setTimeout(r, 600)); // one baseline round
      await writeFile(join(site, 'sub', 'page.html'), 'version two');
      await c.waitFor((e) => e.path === '/sub/page.html' && e.kind === 'modify');
      await writeFile(join(site, 'index.html'), 'new');
      await c.waitFor((e) => e.path === '/index.html' && e.kind === 'create');
      await rm(join(site, 'sub', 'page.html'));
      await c.waitFor((e) => e.path === '/sub/page.html' && e.kind === 'delete');
    } finally {
      await watcher.close();
    }
  });
});
