/**
 * Fault tests: the server-side ssh sessions are killed (SIGKILL of the per-connection sshd processes, the
 * harness's dropSessions) while reads and writes are in flight. Reads must complete with the right bytes;
 * writes must land byte-identical (unacknowledged chunks replayed after the re-open) or be reported as failed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as C } from 'node:fs';
import { mkdir, open, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsError } from '../fs/errors.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

const MiB = 1024 * 1024;

async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'w');
  try {
    for (let done = 0; done < size; done += MiB) {
      const chunk = randomBytes(Math.min(MiB, size - done));
      hash.update(chunk);
      await handle.write(chunk);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4 * MiB);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/**
 * Kills the server-side sessions once every connection of the pool is up (so each kill hits live sessions,
 * not a reconnect in progress); returns how many were killed. Requests stay in flight meanwhile.
 */
async function killLiveSessions(sshd: Sshd, fs: SftpRemoteFs): Promise<number> {
  for (let i = 0; i < 400 && fs.state() !== 'connected'; i++) await new Promise((r) => setTimeout(r, 25));
  return sshd.dropSessions();
}

/** Resolves once the pool has reconnected `count` times in total (bounded wait). */
async function waitForReconnects(fs: SftpRemoteFs, count: number): Promise<void> {
  for (let i = 0; i < 200 && fs.stats().reconnects < count; i++) await new Promise((r) => setTimeout(r, 25));
  expect(fs.stats().reconnects).toBeGreaterThanOrEqual(count);
}

describe('SFTP faults: sessions killed under load', () => {
  let sshd: Sshd;
  let fs: SftpRemoteFs;

  beforeAll(async () => {
    sshd = await startSshd();
    fs = await createSftpRemoteFs(harnessConnector(sshd), sshd.root);
  });

  afterAll(async () => {
    await fs?.close();
    await sshd?.stop();
  });

  it('(a) a 256 MiB sequential read through one handle survives two kills with the right sha256', async () => {
    const size = 256 * MiB;
    const path = join(sshd.root, 'random-256.bin');
    const expected = await writeRandomFile(path, size);
    try {
      const before = fs.stats().reconnects;
      const retriedBefore = fs.stats().retried;
      const file = await fs.open('/random-256.bin', C.O_RDONLY);
      const hash = createHash('sha256');
      const killAt = new Set([40, 170]); // MiB offsets at which the sessions are killed while reads are in flight
      const window = 4; // 1 MiB reads in flight, as a reader with read-ahead would have
      const pending: Promise<Buffer>[] = [];
      let requested = 0;
      let received = 0;
      const kills: number[] = [];
      while (received < size) {
        while (pending.length < window && requested < size) {
          pending.push(file.read(requested, MiB));
          requested += MiB;
          if (killAt.has(requested / MiB)) kills.push(await killLiveSessions(sshd, fs));
        }
        const piece = await (pending.shift() as Promise<Buffer>);
        expect(piece.length).toBe(MiB);
        hash.update(piece);
        received += piece.length;
      }
      expect((await file.read(size, MiB)).length).toBe(0);
      await file.close();
      expect(Math.min(...kills)).toBeGreaterThan(0);
      expect(hash.digest('hex')).toBe(expected);
      expect(fs.stats().reconnects - before).toBeGreaterThanOrEqual(2);
      // Reads were in flight at every kill (the reader keeps 4 outstanding), so some were re-sent.
      expect(fs.stats().retried).toBeGreaterThan(retriedBefore);
    } finally {
      await rm(path, { force: true });
    }
  });

  const killPlans: ReadonlyArray<readonly number[]> = [[1], [20], [45], [1, 20, 45]];
  for (const plan of killPlans) {
    it(`(b) a 50 MiB write through one handle, sessions killed at ${plan.join(', ')} MiB, lands byte-identical`, async () => {
      const size = 50 * MiB;
      const data = randomBytes(size);
      const expected = createHash('sha256').update(data).digest('hex');
      const name = `written-${plan.join('-')}.bin`;
      const before = fs.stats().reconnects;
      const retriedBefore = fs.stats().retried;
      const file = await fs.open(`/${name}`, C.O_CREAT | C.O_TRUNC | C.O_WRONLY, 0o644);
      const inFlight = new Set<Promise<void>>();
      const all: Promise<void>[] = [];
      const kills: number[] = [];
      for (let offset = 0; offset < size; offset += MiB) {
        const write = file.write(data.subarray(offset, offset + MiB), offset);
        all.push(write);
        inFlight.add(write);
        void write.then(() => inFlight.delete(write), () => inFlight.delete(write));
        if (plan.includes(offset / MiB + 1)) kills.push(await killLiveSessions(sshd, fs));
        if (inFlight.size >= 8) await Promise.race(inFlight);
      }
      const results = await Promise.allSettled(all);
      const fsyncResult = await file.fsync().then(() => 'ok', (e: unknown) => e);
      const closeResult = await file.close().then(() => 'ok', (e: unknown) => e);
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []));
      expect(failures).toEqual([]);
      expect(Math.min(...kills)).toBeGreaterThan(0);
      await waitForReconnects(fs, before + 1);
      // The contract is "byte-identical, or an error reported"; replay should make it the first every time,
      // so this asserts the stronger outcome: no error anywhere and the exact bytes on the server.
      expect(fsyncResult).toBe('ok');
      expect(closeResult).toBe('ok');
      expect((await stat(join(sshd.root, name))).size).toBe(size);
      expect(await sha256OfFile(join(sshd.root, name))).toBe(expected);
      console.log(`kills at ${plan.join(', ')} MiB: ${fs.stats().retried - retriedBefore} write requests replayed`);
      await unlink(join(sshd.root, name));
    });
  }

  it('overlapping writes in flight across a drop are replayed in issue order: the last one wins', async () => {
    const file = await fs.open('/overlap.bin', C.O_CREAT | C.O_TRUNC | C.O_WRONLY, 0o644);
    const versions = Array.from({ length: 12 }, (_, v) => Buffer.alloc(2 * MiB, v + 1));
    const writes: Promise<void>[] = [];
    let kill: Promise<number> | undefined;
    for (const [v, data] of versions.entries()) {
      writes.push(file.write(data, 0));
      if (v === 3) kill = sshd.dropSessions();
    }
    await Promise.all(writes);
    await file.close();
    expect(await kill).toBeGreaterThan(0);
    const landed = await readFile(join(sshd.root, 'overlap.bin'));
    expect(landed.equals(versions[versions.length - 1] as Buffer)).toBe(true);
    await unlink(join(sshd.root, 'overlap.bin'));
  });

  it('a handle opened before a drop keeps working after it (re-opened without O_TRUNC)', async () => {
    await writeFile(join(sshd.root, 'kept.txt'), 'before');
    const file = await fs.open('/kept.txt', C.O_RDWR | C.O_TRUNC);
    await file.write(Buffer.from('written before the drop'), 0);
    const before = fs.stats().reconnects;
    await sshd.dropSessions();
    expect((await file.read(0, 100)).toString()).toBe('written before the drop');
    await file.write(Buffer.from('AFTER'), 0);
    await file.close();
    expect(await readFile(join(sshd.root, 'kept.txt'), 'utf8')).toBe('AFTERen before the drop');
    expect(fs.stats().reconnects).toBeGreaterThan(before);
  });

  it('a write that cannot be replayed (file removed during the drop) rejects, and close() reports it', async () => {
    await writeFile(join(sshd.root, 'doomed.txt'), '');
    const file = await fs.open('/doomed.txt', C.O_WRONLY);
    await sshd.dropSessions();
    await unlink(join(sshd.root, 'doomed.txt'));
    const err = await file.write(Buffer.from('lost?'), 0).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(FsError);
    expect((err as FsError).code).toBe('ENOENT');
    await expect(file.close()).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('guarded operations in flight during a drop succeed once (mkdir, unlink, rename, symlink)', async () => {
    await mkdir(join(sshd.root, 'guarded'));
    const count = 200;
    for (let i = 0; i < count; i++) await writeFile(join(sshd.root, 'guarded', `u${i}`), '');
    const ops: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      ops.push(fs.mkdir(`/guarded/d${i}`, 0o755));
      ops.push(fs.unlink(`/guarded/u${i}`));
      ops.push(fs.symlink(`target-${i}`, `/guarded/s${i}`));
      if (i === count / 2) ops.push(sshd.dropSessions().then(() => undefined));
    }
    const results = await Promise.allSettled(ops);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    for (let i = 0; i < count; i++) {
      expect((await stat(join(sshd.root, 'guarded', `d${i}`))).isDirectory()).toBe(true);
      await expect(stat(join(sshd.root, 'guarded', `u${i}`))).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });
});

describe('SFTP faults: reconnect off', () => {
  it('after a drop every operation fails (EIO/ENOTCONN) instead of waiting, and the state is closed', async () => {
    const sshd = await startSshd();
    try {
      const fs = await createSftpRemoteFs(harnessConnector(sshd), sshd.root, { reconnect: false, maxConns: 1 });
      try {
        await fs.stat('/');
        const closed = new Promise<void>((resolve) => {
          const off = fs.onStateChange((state) => {
            if (state === 'closed') {
              off();
              resolve();
            }
          });
        });
        await sshd.dropSessions();
        await closed;
        const err = await fs.stat('/').then(() => null, (e: unknown) => e);
        expect(err).toBeInstanceOf(FsError);
        expect(['EIO', 'ENOTCONN']).toContain((err as FsError).code);
        expect(fs.state()).toBe('closed');
      } finally {
        await fs.close();
      }
    } finally {
      await sshd.stop();
    }
  });
});
