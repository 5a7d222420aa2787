import { mkdir, mkdtemp, readdir, readlink, rm, writeFile, access } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDelayProxy, type DelayProxy } from '../scripts/delay-proxy.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { buildSite, connArgs, describeTree, runCli, snapshotNames, startCli, type Described } from './backup-helpers.js';

const LOCK = '.devmount-backup.lock';

async function addFiles(dir: string, count: number, bytes = 500): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (let i = 0; i < count; i += 1) await writeFile(join(dir, `f-${i}.txt`), Buffer.alloc(bytes, `file ${i} `));
}

/**
 * Files above the engine's tar limit (256 KiB) go one by one over SFTP, so with --jobs 1 through the delay
 * proxy a run is reliably still copying when the test stops it (small files would all arrive in one tar stream).
 */
const SFTP_SIZED = 300 * 1024;

describe('backup: locks, kill -9, SIGINT', () => {
  let sshd: Sshd;
  let proxy: DelayProxy;
  let work: string;
  let site: string;
  let dest: string;
  let knownHosts: string;
  let first: string;
  let firstTree: Map<string, Described>;
  const direct = () => [...connArgs(sshd, { knownHosts }), `127.0.0.1:${site}`, dest];
  const slow = () => [...connArgs(sshd, { knownHosts, port: proxy.port }), `127.0.0.1:${site}`, dest];

  beforeAll(async () => {
    sshd = await startSshd();
    proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: 5 });
    work = await mkdtemp(join(tmpdir(), 'devmount-backup-int-'));
    knownHosts = join(work, 'known_hosts');
    await writeFile(knownHosts, `[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n[127.0.0.1]:${proxy.port} ${sshd.hostPublicKey}\n`);
    site = join(sshd.root, 'site');
    dest = join(work, 'dest');
    await buildSite(site, { smallFiles: 40 });
    const result = await runCli(['backup', ...direct()]);
    expect(result.code).toBe(0);
    [first] = await snapshotNames(dest);
    firstTree = await describeTree(join(dest, first!));
  });
  afterAll(async () => {
    proxy?.resume();
    await proxy?.close();
    await sshd?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('a second run while one holds the lock exits 10 "locked"; the first one completes', async () => {
    await addFiles(join(site, 'batch1'), 50);
    const a = startCli(['backup', '--json', ...slow()]);
    try {
      await a.waitFor((e) => e.event === 'start');
      // The lock is held from before 'start'; stalling the network keeps run A in the middle of its work.
      proxy.pause();
      const b = await runCli(['backup', ...direct()]);
      expect(b.code).toBe(10);
      expect(b.stderr).toMatch(/^devmount: .*\.devmount-backup\.lock is locked by pid \d+ on .*another backup to this destination is running.*\n$/);
    } finally {
      proxy.resume();
    }
    const done = await a.exit;
    expect(done.code).toBe(0);
    expect(await describeTree(join(dest, 'latest'))).toEqual(await describeTree(site));
  });

  it('a lock held by a live process stops the run (10); one left by a dead process is taken over', async () => {
    await writeFile(join(dest, LOCK), `${process.pid} ${hostname()}\n`);
    const locked = await runCli(['backup', ...direct()]);
    expect(locked.code).toBe(10);
    // A pid far above pid_max's default (4194304 is the kernel's ceiling) is certainly not running.
    await writeFile(join(dest, LOCK), `4194305 ${hostname()}\n`);
    const taken = await runCli(['backup', ...direct()]);
    expect({ code: taken.code, stderr: taken.stderr }).toEqual({ code: 0, stderr: '' });
    await expect(access(join(dest, LOCK))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('kill -9 in the middle leaves earlier snapshots intact; the rerun reuses the partial copy and completes', async () => {
    await addFiles(join(site, 'batch2'), 30, SFTP_SIZED);
    const before = await snapshotNames(dest);
    const latestBefore = await readlink(join(dest, 'latest'));
    const a = startCli(['backup', '--json', '--jobs', '1', ...slow()]);
    let copiedBeforeKill = 0;
    try {
      await a.waitFor(() => a.events.filter((e) => e.event === 'file' && e.action === 'copy').length >= 5);
      proxy.pause();
      copiedBeforeKill = a.events.filter((e) => e.event === 'file' && e.action === 'copy').length;
      a.child.kill('SIGKILL');
      expect((await a.exit).signal).toBe('SIGKILL');
    } finally {
      proxy.resume();
    }
    const partials = (await readdir(dest)).filter((n) => n.startsWith('.partial-'));
    expect(partials).toHaveLength(1);
    expect(await snapshotNames(dest)).toEqual(before);
    expect(await readlink(join(dest, 'latest'))).toBe(latestBefore);
    expect(await describeTree(join(dest, first!))).toEqual(firstTree);

    const rerun = await runCli(['backup', '--json', ...direct()]);
    expect({ code: rerun.code, stderr: rerun.stderr }).toEqual({ code: 0, stderr: '' });
    const events = rerun.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ event: 'start', reusedPartial: join(dest, partials[0]!) });
    const summary = events.at(-1)!;
    // Files the killed run completed are kept, not fetched again.
    expect(summary.skipped).toBeGreaterThanOrEqual(copiedBeforeKill);
    const listed = events.find((e) => e.event === 'listed')!;
    expect((summary.copied as number) + (summary.skipped as number) + (summary.linked as number)).toBe(listed.files);
    expect(summary.copied as number).toBeLessThanOrEqual(30 - copiedBeforeKill);
    expect((await readdir(dest)).filter((n) => n.startsWith('.partial-') || n === '.devmount-tmp')).toEqual([]);
    expect(await snapshotNames(dest)).toHaveLength(before.length + 1);
    expect(await describeTree(join(dest, 'latest'))).toEqual(await describeTree(site));
    expect(await describeTree(join(dest, first!))).toEqual(firstTree);
  });

  it('SIGINT stops cleanly with exit 130 and keeps the partial snapshot for the next run', async () => {
    await addFiles(join(site, 'batch3'), 30, SFTP_SIZED);
    const latestBefore = await readlink(join(dest, 'latest'));
    const a = startCli(['backup', '--json', '--jobs', '1', ...slow()]);
    await a.waitFor(() => a.events.filter((e) => e.event === 'file' && e.action === 'copy').length >= 5);
    a.child.kill('SIGINT');
    const done = await a.exit;
    expect(done.code).toBe(130);
    expect(done.stderr).toMatch(/^devmount: interrupted; the next run reuses .*\.partial-.*\n$/);
    expect((await readdir(dest)).filter((n) => n.startsWith('.partial-'))).toHaveLength(1);
    expect(await readlink(join(dest, 'latest'))).toBe(latestBefore);
    await expect(access(join(dest, LOCK))).rejects.toMatchObject({ code: 'ENOENT' });
    const rerun = await runCli(['backup', ...direct()]);
    expect({ code: rerun.code, stderr: rerun.stderr }).toEqual({ code: 0, stderr: '' });
    expect(await describeTree(join(dest, 'latest'))).toEqual(await describeTree(site));
  });
});
