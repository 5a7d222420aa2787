/**
 * `serve user@host:/path` in-process against the real harness sshd: serving from the remote,
 * server-side edits reaching the next GET and the live-reload stream, renames/deletes in listings, the network
 * cut (dropped sessions, a silent link) and recovery, and freshness bounded by the TTL with watching off.
 */
import { mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RemoteServe } from '../cli/remote-serve.js';
import { startDelayProxy, type DelayProxy } from '../scripts/delay-proxy.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { get, makeSmallSite, openReloadClient, serveRemote, type ServedRemote } from './remote-serve-helpers.js';
import { eventually } from './helpers/eventually.js';

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

const makeSite = (name: string): Promise<string> => makeSmallSite(sshd, name);

const listing = async (port: number, path: string): Promise<string[]> => {
  const r = await get(port, path, { Accept: 'application/json' });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as Array<{ name: string }>).map((e) => e.name);
};

describe('serving a remote site with the remote watcher (auto → inotify)', () => {
  let site: string;
  let stack: ServedRemote;
  let served: RemoteServe;
  beforeAll(async () => {
    site = await makeSite('site-watch');
    stack = await serveRemote(sshd, site, 'auto');
    ({ served } = stack);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('serves pages, ranges and listings from the remote, with the live-reload script injected', async () => {
    expect(served.watchMethod).toBe('inotify');
    const page = await get(served.server.port, '/');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>v1</h1>');
    expect(page.body).toContain('/__devmount/livereload.js');
    const range = await get(served.server.port, '/docs/a.txt', { Range: 'bytes=1-3' });
    expect(range.status).toBe(206);
    expect(range.body).toBe('lph');
    expect(await listing(served.server.port, '/docs/')).toEqual(['a.txt', 'b.txt']);
  });

  it('symlinks: absolute or relative targets inside the site are served, targets outside it are not', async () => {
    await writeFile(join(sshd.root, 'outside-secret.txt'), 'secret');
    await symlink(join(site, 'docs', 'a.txt'), join(site, 'abs-link.txt'));
    await symlink('docs/b.txt', join(site, 'rel-link.txt'));
    await symlink(join(sshd.root, 'outside-secret.txt'), join(site, 'escape.txt'));
    // New names are known once the watcher's events arrive (a cached listing of / answered "no such file" before).
    await eventually(async () => (await get(served.server.port, '/abs-link.txt')).body === 'alpha', 3000);
    await eventually(async () => (await get(served.server.port, '/rel-link.txt')).body === 'beta', 3000);
    // The VFS sees only the site: a link leaving it resolves to nothing there (404, as for a dangling link).
    const escape = await get(served.server.port, '/escape.txt');
    expect(escape.status).toBe(404);
    expect(escape.body).not.toContain('secret');
    await Promise.all(['abs-link.txt', 'rel-link.txt', 'escape.txt'].map((n) => rm(join(site, n))));
  });

  it('a server-side edit is pushed as a reload event and the next GET sees it', async () => {
    expect((await get(served.server.port, '/')).body).toContain('v1'); // cached now
    const client = await openReloadClient(served.server.port);
    try {
      const editedAt = Date.now();
      await writeFile(join(site, 'index.html'), '<html><body><h1>v2 edited on the server</h1></body></html>');
      const arrivedAt = await client.next('reload', editedAt);
      console.log(`server-side edit → reload event: ${arrivedAt - editedAt} ms`);
      const after = await get(served.server.port, '/');
      expect(after.body).toContain('v2 edited on the server');
    } finally {
      client.close();
    }
  });

  it('renames and deletes made on the server show in listings', async () => {
    expect(await listing(served.server.port, '/docs/')).toEqual(['a.txt', 'b.txt']);
    const client = await openReloadClient(served.server.port);
    try {
      const since = Date.now();
      await rename(join(site, 'docs', 'a.txt'), join(site, 'docs', 'renamed.txt'));
      await rm(join(site, 'docs', 'b.txt'));
      await client.next('reload', since);
      // One reload may come before the second change's batch: wait for the listing, bounded.
      await eventually(async () => (await listing(served.server.port, '/docs/')).join() === 'renamed.txt', 3000);
      expect((await get(served.server.port, '/docs/a.txt')).status).toBe(404);
      expect((await get(served.server.port, '/docs/renamed.txt')).body).toBe('alpha');
    } finally {
      client.close();
    }
  });

  it('dropped sessions: cached pages keep being served, and edits are seen again after the reconnect', async () => {
    await writeFile(join(site, 'index.html'), '<html><body><h1>before drop</h1></body></html>');
    await eventually(async () => (await get(served.server.port, '/')).body.includes('before drop'), 5000);
    sshd.dropSessions();
    const cached = await get(served.server.port, '/');
    expect(cached.status).toBe(200);
    expect(cached.body).toContain('before drop');
    await writeFile(join(site, 'docs', 'new.txt'), 'after the drop');
    // The SFTP layer reconnects and the watcher restarts (reporting a root change): both pages are fresh again.
    await eventually(async () => (await get(served.server.port, '/docs/new.txt')).body === 'after the drop', 15_000);
    await writeFile(join(site, 'index.html'), '<html><body><h1>after reconnect</h1></body></html>');
    await eventually(async () => (await get(served.server.port, '/')).body.includes('after reconnect'), 8000);
  });
});

describe('an unreachable server (a silent link through a paused delay proxy)', () => {
  let site: string;
  let proxy: DelayProxy;
  let stack: ServedRemote;
  let served: RemoteServe;
  beforeAll(async () => {
    site = await makeSite('site-cut');
    proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: 0 });
    stack = await serveRemote(sshd, site, 'find', { extra: ['ServerAliveInterval=1,ServerAliveCountMax=3'], port: proxy.port, requestTimeoutMs: 1500 });
    ({ served } = stack);
  });
  afterAll(async () => {
    proxy?.resume();
    await stack?.close();
    await proxy?.close();
  });

  it('cached pages are served marked unreachable, others get a 504 page, and all resumes afterwards', async () => {
    const port = served.server.port;
    expect((await get(port, '/')).status).toBe(200); // now cached
    expect((await get(port, '/')).headers['x-devmount-remote']).toBeUndefined();
    // Every file of the site came in the start-up stream: one made afterwards is known only to the server.
    const client = await openReloadClient(port);
    try {
      const since = Date.now();
      await writeFile(join(site, 'docs', 'late.txt'), 'late');
      await client.next('reload', since);
    } finally {
      client.close();
    }
    expect((await get(port, '/')).status).toBe(200); // cached again (the change of docs/ dropped the root's listing)
    proxy.pause();
    const started = Date.now();
    const uncached = await get(port, '/docs/late.txt');
    console.log(`uncached page while unreachable: ${uncached.status} after ${Date.now() - started} ms`);
    expect(uncached.status).toBe(504);
    expect(uncached.body).toMatch(/unreachable/);
    const cached = await get(port, '/');
    expect(cached.status).toBe(200);
    expect(cached.body).toContain('<h1>v1</h1>');
    expect(cached.headers['x-devmount-remote']).toBe('unreachable');
    proxy.resume();
    await eventually(async () => (await get(port, '/docs/late.txt')).status === 200, 20_000);
    await eventually(async () => (await get(port, '/')).headers['x-devmount-remote'] === undefined, 10_000);
  });
});

describe('remote watching off: freshness bounded by the cache TTL', () => {
  let site: string;
  let stack: ServedRemote;
  let served: RemoteServe;
  beforeAll(async () => {
    site = await makeSite('site-off');
    stack = await serveRemote(sshd, site, 'off', { extra: ['cache_timeout=1,dcache_timeout=1'] });
    ({ served } = stack);
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('an edit on the server is served once the 1 s TTL has passed, with no watcher running', async () => {
    expect(served.watchMethod).toBe('off');
    expect((await get(served.server.port, '/')).body).toContain('v1');
    const editedAt = Date.now();
    await writeFile(join(site, 'index.html'), '<html><body><h1>v2 seen by TTL</h1></body></html>');
    await eventually(async () => (await get(served.server.port, '/')).body.includes('v2 seen by TTL'), 4000);
    console.log(`watching off, edit visible after ${Date.now() - editedAt} ms (TTL 1 s)`);
  });
});

describe('SFTP-only accounts: stat polling', () => {
  let sftpOnly: Sshd;
  let stack: ServedRemote;
  let served: RemoteServe;
  let site: string;
  beforeAll(async () => {
    sftpOnly = await startSshd({ sftpOnly: true });
    site = join(sftpOnly.root, 'site');
    await mkdir(site);
    await writeFile(join(site, 'index.html'), '<body>poll v1</body>');
    stack = await serveRemote(sftpOnly, site, 'auto');
    ({ served } = stack);
  });
  afterAll(async () => {
    await stack?.close();
    await sftpOnly?.stop();
  });

  it('detects that exec is refused, polls, and pushes a reload for a server-side edit', async () => {
    expect(served.watchMethod).toBe('sftp-poll');
    expect((await get(served.server.port, '/')).body).toContain('poll v1');
    const client = await openReloadClient(served.server.port);
    try {
      const since = Date.now();
      await writeFile(join(site, 'index.html'), '<body>poll v2 (longer)</body>');
      await client.next('reload', since);
      expect((await get(served.server.port, '/')).body).toContain('poll v2');
    } finally {
      client.close();
    }
  });
});
