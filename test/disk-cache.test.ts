/**
 * The persistent cache (fs/cache/disk) in the real mount stack against the harness sshd: a second start of the
 * same site reads its files from disk (counted: no SFTP read, no tar stream), a file changed on the server
 * between two runs is fetched again, an untrustworthy cache is discarded with one log line, and while the server
 * is unreachable the files on disk stay readable. Counted, not timed (speed: `npm run bench:remote`).
 */
import { mkdir, readFile, readdir, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseOptionList } from '../cli/mount-options.js';
import { openMountStackParts, type MountStackParts } from '../cli/mount-stack.js';
import { startDelayProxy } from '../scripts/delay-proxy.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { eventually } from './helpers/eventually.js';

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  await sshd?.stop();
});

const FILES: Readonly<Record<string, string>> = Object.freeze({
  'index.php': '<?php require "inc/a.php"; require "inc/b.php";',
  'inc/a.php': '<?php function a() { return "a"; }',
  'inc/b.php': '<?php function b() { return "b"; }',
  'inc/config.json': '{"name":"site"}',
  'css/site.css': 'body { color: black; }',
  'docs/readme.txt': 'read me',
});

async function makeSite(name: string): Promise<string> {
  const site = join(sshd.root, name);
  for (const [rel, text] of Object.entries(FILES)) {
    await mkdir(join(site, rel, '..'), { recursive: true });
    await writeFile(join(site, rel), text);
  }
  return site;
}

/** A logger whose lines are kept (parsed) for the assertions. */
function capturingLog(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), lines };
}

interface Run {
  readonly parts: MountStackParts;
  readonly lines: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** One run of the stack (as `serve user@host:site` opens it), the disk cache in `cacheDir`; waits for the start-up prefetch. */
async function start(site: string, cacheDir: string, extra: readonly string[] = [], port = sshd.port): Promise<Run> {
  let knownHosts = sshd.knownHostsPath;
  if (port !== sshd.port) {
    knownHosts = join(sshd.dir, `known_hosts_${port}`);
    await writeFile(knownHosts, `[127.0.0.1]:${port} ${sshd.hostPublicKey}\n`);
  }
  const options = parseOptionList([`Port=${port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${knownHosts}`, `cache_dir=${cacheDir}`, ...extra]);
  const { log, lines } = capturingLog();
  const parts = await openMountStackParts({ user: sshd.user, host: '127.0.0.1', path: site }, options, { password: undefined, prompter: undefined, log, profile: 'serve' });
  await parts.warm;
  return { parts, lines, close: () => parts.vfs.close() };
}

async function readAll(run: Run): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const rel of Object.keys(FILES)) out[rel] = (await run.parts.vfs.readFile(`/${rel}`)).toString();
  return out;
}

const counters = (run: Run): Readonly<Record<string, number>> => run.parts.vfs.stats().cache;

describe('a second start of the same site', () => {
  test('is warm: every file comes from disk, none over SFTP or in a tar stream', async () => {
    const site = await makeSite('site-warm');
    const cacheDir = join(sshd.dir, 'cache-warm');
    const first = await start(site, cacheDir);
    try {
      expect(await readAll(first)).toEqual(FILES);
      // The first start fetched them in the start-up stream (the files of the site are all small), not over SFTP.
      await eventually(async () => counters(first).prefetchFiles === Object.keys(FILES).length, 10_000);
      expect(counters(first).dataMisses).toBe(0);
    } finally {
      await first.close();
    }
    const second = await start(site, cacheDir);
    try {
      const report = await second.parts.warm;
      expect(report?.fromDisk).toMatchObject({ valid: Object.keys(FILES).length, dropped: 0 });
      expect(report?.streamed).toBeNull(); // nothing left to stream
      expect(await readAll(second)).toEqual(FILES);
      expect(counters(second)).toMatchObject({ dataMisses: 0, prefetchFiles: 0, diskHits: Object.keys(FILES).length });
    } finally {
      await second.close();
    }
  });

  test('fetches again a file changed on the server between the two runs (same size, new mtime)', async () => {
    const site = await makeSite('site-changed');
    const cacheDir = join(sshd.dir, 'cache-changed');
    const first = await start(site, cacheDir);
    try {
      expect((await first.parts.vfs.readFile('/inc/a.php')).toString()).toBe(FILES['inc/a.php']);
    } finally {
      await first.close();
    }
    const changed = FILES['inc/a.php']!.replace('"a"', '"A"');
    await writeFile(join(site, 'inc/a.php'), changed);
    const later = new Date(Date.now() + 60_000);
    await utimes(join(site, 'inc/a.php'), later, later);
    const second = await start(site, cacheDir);
    try {
      expect((await second.parts.warm)?.fromDisk).toMatchObject({ valid: Object.keys(FILES).length - 1, dropped: 1 });
      expect((await second.parts.vfs.readFile('/inc/a.php')).toString()).toBe(changed);
      // Only the changed file travelled.
      await eventually(async () => counters(second).prefetchFiles === 1, 10_000);
      expect(counters(second).dataMisses).toBe(0);
    } finally {
      await second.close();
    }
  });
});

test('a change reported for a file drops its record: an edit of the same size in the same second is not served from disk', async () => {
  const site = await makeSite('site-same-second');
  const run = await start(site, join(sshd.dir, 'cache-same-second'));
  try {
    await eventually(async () => counters(run).diskEntries === Object.keys(FILES).length, 10_000);
    const file = join(site, 'inc/b.php');
    const { mtime } = await stat(file);
    const edited = FILES['inc/b.php']!.replace('"b"', '"B"');
    await writeFile(file, edited);
    await utimes(file, mtime, mtime); // what SFTP's whole seconds show for two writes within one second
    run.parts.vfs.refresh('/inc/b.php'); // as the remote watcher reports the edit
    expect((await run.parts.vfs.readFile('/inc/b.php')).toString()).toBe(edited);
  } finally {
    await run.close();
  }
});

describe('a cache that cannot be trusted is discarded with one log line', () => {
  const corruptions: ReadonlyArray<[string, (dir: string) => Promise<void>]> = [
    ['a truncated file', async (dir) => {
      const blobs = join(dir, 'blobs');
      const [first] = await readdir(blobs);
      await truncate(join(blobs, first!), 3);
    }],
    ['another version', async (dir) => {
      const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(dir, 'index.json'), JSON.stringify({ ...index, version: 999 }));
    }],
    ['another remote', async (dir) => {
      const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as Record<string, unknown>;
      await writeFile(join(dir, 'index.json'), JSON.stringify({ ...index, remoteKey: 'someone@elsewhere:22/srv' }));
    }],
    ['an unreadable index', async (dir) => {
      await writeFile(join(dir, 'index.json'), '{"version":1,"remoteKey":');
    }],
  ];
  for (const [what, corrupt] of corruptions) {
    test(what, async () => {
      const name = what.replace(/\W+/g, '-');
      const site = await makeSite(`site${name}`);
      const cacheDir = join(sshd.dir, `cache${name}`);
      const first = await start(site, cacheDir);
      await first.close();
      const [remoteDir] = await readdir(cacheDir);
      await corrupt(join(cacheDir, remoteDir!));
      const second = await start(site, cacheDir);
      try {
        const discarded = second.lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('disk cache discarded'));
        expect(discarded).toHaveLength(1);
        expect((await second.parts.warm)?.fromDisk).toMatchObject({ valid: 0 });
        expect(await readAll(second)).toEqual(FILES);
      } finally {
        await second.close();
      }
    });
  }
});

test('while the server is unreachable, files on disk stay readable', async () => {
  const site = await makeSite('site-offline');
  const cacheDir = join(sshd.dir, 'cache-offline');
  const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: 0 });
  const run = await start(site, cacheDir, ['op_timeout=2', 'ServerAliveInterval=1,ServerAliveCountMax=2'], proxy.port);
  try {
    await eventually(async () => counters(run).diskEntries === Object.keys(FILES).length, 10_000);
    await proxy.close(); // connections dropped, new ones refused
    await eventually(async () => run.parts.remote.state() !== 'connected', 10_000);
    run.parts.vfs.refresh('/'); // the memory cache forgets everything: only the disk is left
    expect(await readAll(run)).toEqual(FILES);
    expect((await run.parts.vfs.getattr('/inc/b.php')).size).toBe(FILES['inc/b.php']!.length);
    expect(counters(run).diskOfflineAnswers).toBeGreaterThanOrEqual(Object.keys(FILES).length);
    // Reads only: what is not on disk still needs the server.
    await expect(run.parts.vfs.readdir('/docs')).rejects.toThrow();
  } finally {
    await run.close();
  }
}, 60_000);

test('disk_cache=no keeps nothing on disk', async () => {
  const site = await makeSite('site-nodisk');
  const cacheDir = join(sshd.dir, 'cache-nodisk');
  const run = await start(site, cacheDir, ['disk_cache=no']);
  try {
    expect(await readAll(run)).toEqual(FILES);
    expect(run.parts.disk).toBeNull();
  } finally {
    await run.close();
  }
  await expect(readdir(cacheDir)).rejects.toMatchObject({ code: 'ENOENT' });
});

test('a store waits while the mount keeps answering requests, and is written once they stop', async () => {
  const site = await makeSite('site-foreground');
  const run = await start(site, join(sshd.dir, 'cache-foreground'));
  let requests = 0;
  let busy: NodeJS.Timeout | undefined;
  let stopCounting = (): void => undefined;
  try {
    await eventually(async () => counters(run).diskEntries === Object.keys(FILES).length, 10_000);
    busy = setInterval(() => { requests += 1; }, 20); // a mount answering a request every 20 ms
    stopCounting = run.parts.foreground.watch(() => requests);
    requests += 1;
    const stores = counters(run).diskStores!;
    await writeFile(join(site, 'inc/a.php'), '<?php function a() { return "A, edited"; }');
    run.parts.vfs.refresh('/inc/a.php');
    await run.parts.vfs.getattr('/inc/a.php'); // fresh attributes: the content read next is kept with them
    expect((await run.parts.vfs.readFile('/inc/a.php')).toString()).toContain('edited');
    // Busy: the new content waits in memory (well under the gate's longest wait of 2 s).
    await new Promise((r) => setTimeout(r, 600));
    expect(counters(run).diskStores).toBe(stores);
    clearInterval(busy);
    await eventually(async () => counters(run).diskStores === stores + 1, 5_000);
  } finally {
    clearInterval(busy);
    stopCounting();
    await run.close();
  }
});
