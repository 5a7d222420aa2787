/**
 * VFS behaviour that does not depend on the transport, on a local-directory RemoteFs that counts calls:
 * write coalescing, errors surfacing at flush/release, dirty sizes, reads seeing unflushed writes,
 * read-ahead, read-only mode, handle numbers and local change events.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isFsError } from '../fs/errors.js';
import { createVfs } from '../fs/vfs/vfs.js';
import type { Vfs } from '../fs/vfs/types.js';
import type { ChangeEvent } from '../fs/types.js';
import { createLocalRemoteFs, type LocalRemoteFs } from './helpers/local-remote-fs.js';

let dir: string;
let inner: LocalRemoteFs;
let vfs: Vfs;

async function errnoOf(promise: Promise<unknown>): Promise<string | null> {
  const err = await promise.then(() => null, (e: unknown) => e);
  if (err === null) return null;
  return isFsError(err) ? err.code : String(err);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devmount-vfs-'));
  inner = createLocalRemoteFs(dir);
  vfs = createVfs(inner);
});

afterEach(async () => {
  await vfs.close();
  await rm(dir, { recursive: true, force: true });
});

describe('write-behind', () => {
  it('coalesces 4 KiB writes into 1 MiB remote writes', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    const fh = await vfs.create('/big.bin', 0o644);
    for (let off = 0; off < data.length; off += 4096) {
      expect(await vfs.write(fh, data.subarray(off, off + 4096), off)).toBe(4096);
    }
    await vfs.release(fh);
    expect(inner.count('file.write')).toBe(4);
    expect(sha(await readFile(join(dir, 'big.bin')))).toBe(sha(data));
  });

  it('copies the caller buffer (FUSE reuses it after the callback)', async () => {
    const fh = await vfs.create('/reuse.txt', 0o644);
    const buf = Buffer.from('aaaa');
    await vfs.write(fh, buf, 0);
    buf.fill('b');
    await vfs.write(fh, buf, 4);
    await vfs.release(fh);
    expect(await readFile(join(dir, 'reuse.txt'), 'utf8')).toBe('aaaabbbb');
  });

  it('a write failure surfaces at flush, at later writes and at release, never as success', async () => {
    const fh = await vfs.create('/fail.bin', 0o644);
    inner.failWrites('ENOSPC');
    expect(await vfs.write(fh, Buffer.alloc(4096), 0)).toBe(4096); // buffered: accepted
    expect(await errnoOf(vfs.flush(fh))).toBe('ENOSPC');
    expect(await errnoOf(vfs.write(fh, Buffer.alloc(10), 4096))).toBe('ENOSPC');
    expect(await errnoOf(vfs.fsync(fh))).toBe('ENOSPC');
    expect(await errnoOf(vfs.release(fh))).toBe('ENOSPC');
    expect(await errnoOf(vfs.read(fh, 0, 1))).toBe('EBADF'); // released even though it failed
  });

  it('getattr and readdir report the size including buffered writes', async () => {
    const fh = await vfs.create('/grow.txt', 0o644);
    await vfs.write(fh, Buffer.from('hello world'), 0);
    expect((await vfs.getattr('/grow.txt')).size).toBe(11);
    expect((await vfs.readdir('/')).find((e) => e.name === 'grow.txt')?.attr.size).toBe(11);
    await vfs.release(fh);
    expect((await vfs.getattr('/grow.txt')).size).toBe(11);
  });

  it('reads see the handle\'s own unflushed writes and another handle\'s', async () => {
    await writeFile(join(dir, 'rw.txt'), 'xxxxxxxxxx');
    const a = await vfs.open('/rw.txt', constants.O_RDWR);
    const b = await vfs.open('/rw.txt', constants.O_RDONLY);
    expect((await vfs.read(b, 0, 10)).toString()).toBe('xxxxxxxxxx');
    await vfs.write(a, Buffer.from('HELLO'), 2);
    expect((await vfs.read(a, 0, 10)).toString()).toBe('xxHELLOxxx');
    expect((await vfs.read(b, 0, 10)).toString()).toBe('xxHELLOxxx');
    expect((await vfs.readFile('/rw.txt')).toString()).toBe('xxHELLOxxx');
    await vfs.release(a);
    await vfs.release(b);
  });

  it('ftruncate lands after earlier buffered writes', async () => {
    const fh = await vfs.create('/t.txt', 0o644);
    await vfs.write(fh, Buffer.from('0123456789'), 0);
    await vfs.ftruncate(fh, 4);
    await vfs.write(fh, Buffer.from('AB'), 4);
    await vfs.release(fh);
    expect(await readFile(join(dir, 't.txt'), 'utf8')).toBe('0123AB');
  });

  it('a partly filled block is sent after a while without waiting for close', async () => {
    const idle = createVfs(inner, { writeIdleFlushMs: 10 });
    const fh = await idle.create('/log.txt', 0o644);
    await idle.write(fh, Buffer.from('line 1\n'), 0);
    let onDisk = '';
    for (let i = 0; i < 200 && onDisk === ''; i += 1) {
      await new Promise((r) => setTimeout(r, 10));
      onDisk = await readFile(join(dir, 'log.txt'), 'utf8');
    }
    expect(onDisk).toBe('line 1\n');
    await idle.release(fh);
    await idle.close();
  });

  it('bounds dirty bytes: writes wait for acknowledgements', async () => {
    const small = createVfs(inner, { writeBlockBytes: 64 * 1024, maxDirtyBytesPerHandle: 128 * 1024 });
    const fh = await small.create('/bounded.bin', 0o644);
    const release = inner.holdReply('file.write', '/bounded.bin');
    let accepted = 0;
    const writer = (async () => {
      for (let off = 0; off < 512 * 1024; off += 64 * 1024) {
        await small.write(fh, Buffer.alloc(64 * 1024, 1), off);
        accepted += 64 * 1024;
      }
    })();
    await new Promise((r) => setTimeout(r, 50));
    expect(accepted).toBeLessThan(512 * 1024); // held back by the unacknowledged first block
    release();
    await writer;
    await small.release(fh);
    expect((await readFile(join(dir, 'bounded.bin'))).length).toBe(512 * 1024);
    await small.close();
  });
});

describe('read-ahead', () => {
  it('sequential reads prefetch a growing window: fewer remote reads than application reads', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    await writeFile(join(dir, 'seq.bin'), data);
    const fh = await vfs.open('/seq.bin', constants.O_RDONLY);
    inner.resetCounts();
    const pieces: Buffer[] = [];
    for (let off = 0; ; off += 128 * 1024) {
      const piece = await vfs.read(fh, off, 128 * 1024);
      if (piece.length === 0) break;
      pieces.push(piece);
    }
    await vfs.release(fh);
    expect(sha(Buffer.concat(pieces))).toBe(sha(data));
    expect(pieces.length).toBe(25);
    expect(inner.count('file.read')).toBeLessThan(pieces.length);
    expect(vfs.stats().cache.prefetchedBytes).toBeGreaterThan(data.length / 2);
  });

  it('reads arriving slightly out of order (kernel read-ahead) still count as sequential and return the right bytes', async () => {
    const data = randomBytes(8 * 1024 * 1024 + 777);
    await writeFile(join(dir, 'ooo.bin'), data);
    const fh = await vfs.open('/ooo.bin', constants.O_RDONLY);
    inner.resetCounts();
    const K = 128 * 1024;
    const out = Buffer.alloc(data.length);
    let appReads = 0;
    for (let base = 0; base < data.length; base += 4 * K) {
      await Promise.all([base + K, base, base + 3 * K, base + 2 * K].map(async (pos) => {
        const piece = await vfs.read(fh, pos, K);
        appReads += 1;
        piece.copy(out, pos);
        expect(piece.equals(data.subarray(pos, pos + K))).toBe(true);
      }));
    }
    await vfs.release(fh);
    expect(out.equals(data)).toBe(true);
    expect(inner.count('file.read')).toBeLessThan(appReads / 2);
  });

  it('owned reads stay intact while read-ahead reuses its buffers; transient reads are right when copied at once', async () => {
    const a = randomBytes(24 * 1024 * 1024 + 99);
    const b = randomBytes(24 * 1024 * 1024 + 5);
    await writeFile(join(dir, 'a.bin'), a);
    await writeFile(join(dir, 'b.bin'), b);
    const K = 128 * 1024;
    const turn = () => new Promise<void>((resolve) => setImmediate(resolve));
    const held: Buffer[] = [];
    const fa = await vfs.open('/a.bin', constants.O_RDONLY);
    for (let off = 0; off < a.length; off += K) {
      held.push(await vfs.read(fa, off, K));
      await turn(); // lets dropped segments go back to the pool, so later segments reuse them
    }
    await vfs.release(fa);
    const fb = await vfs.open('/b.bin', constants.O_RDONLY);
    const copied = Buffer.alloc(b.length);
    for (let off = 0; off < b.length; off += K) {
      const view = await vfs.readTransient(fb, off, K);
      view.copy(copied, off);
      await turn();
    }
    await vfs.release(fb);
    expect(copied.equals(b)).toBe(true);
    expect(sha(Buffer.concat(held))).toBe(sha(a));
  });

  it('random reads return exactly the requested bytes', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    await writeFile(join(dir, 'rand.bin'), data);
    const fh = await vfs.open('/rand.bin', constants.O_RDONLY);
    for (const [pos, len] of [[1_500_000, 1000], [10, 20], [2 * 1024 * 1024 - 5, 100], [700_000, 131072], [3_000_000, 10]] as const) {
      const got = await vfs.read(fh, pos, len);
      expect(got.equals(data.subarray(pos, pos + len))).toBe(true);
    }
    await vfs.release(fh);
  });

  it('prefetched bytes are dropped when the file is written', async () => {
    await writeFile(join(dir, 'rw.bin'), Buffer.alloc(1024 * 1024, 0x61));
    const r = await vfs.open('/rw.bin', constants.O_RDONLY);
    const w = await vfs.open('/rw.bin', constants.O_WRONLY);
    await vfs.read(r, 0, 4096);
    await vfs.write(w, Buffer.from('ZZZZ'), 8192);
    await vfs.flush(w);
    expect((await vfs.read(r, 4096, 8192)).subarray(4096, 4100).toString()).toBe('ZZZZ');
    await vfs.release(w);
    await vfs.release(r);
  });
});

describe('handles, modes and events', () => {
  it('hands out small handle numbers and reuses them', async () => {
    await writeFile(join(dir, 'h.txt'), 'h');
    const a = await vfs.open('/h.txt', constants.O_RDONLY);
    const b = await vfs.open('/h.txt', constants.O_RDONLY);
    expect([a, b]).toEqual([1, 2]);
    await vfs.release(a);
    expect(await vfs.open('/h.txt', constants.O_RDONLY)).toBe(1);
    expect(await errnoOf(vfs.read(99, 0, 1))).toBe('EBADF');
  });

  it('read-only mode refuses every mutation with EROFS and sends nothing', async () => {
    await writeFile(join(dir, 'ro.txt'), 'ro');
    const ro = createVfs(inner, { readOnly: true });
    inner.resetCounts();
    const attempts: Promise<unknown>[] = [
      ro.create('/x', 0o644), ro.open('/ro.txt', constants.O_WRONLY), ro.open('/ro.txt', constants.O_RDONLY | constants.O_TRUNC),
      ro.mkdir('/d', 0o755), ro.rmdir('/d'), ro.unlink('/ro.txt'), ro.rename('/ro.txt', '/y'), ro.symlink('ro.txt', '/l'),
      ro.link('/ro.txt', '/l2'), ro.chmod('/ro.txt', 0o600), ro.chown('/ro.txt', 0, 0), ro.utimens('/ro.txt', 0, 0), ro.truncate('/ro.txt', 0),
    ];
    for (const attempt of attempts) expect(await errnoOf(attempt)).toBe('EROFS');
    expect(inner.count()).toBe(0);
    const fh = await ro.open('/ro.txt', constants.O_RDONLY);
    expect(await errnoOf(ro.write(fh, Buffer.from('x'), 0))).toBe('EROFS');
    expect((await ro.read(fh, 0, 10)).toString()).toBe('ro');
    await ro.release(fh);
    await ro.close();
  });

  it('emits local change events after each successful mutation, modify after release of a written handle', async () => {
    const events: ChangeEvent[] = [];
    const off = vfs.onChange((e) => events.push(e));
    const fh = await vfs.create('/e.txt', 0o644);
    await vfs.write(fh, Buffer.from('x'), 0);
    expect(events.map((e) => e.kind)).toEqual(['create']);
    await vfs.release(fh);
    await vfs.mkdir('/dir', 0o755);
    await vfs.rename('/e.txt', '/dir/e.txt');
    await vfs.chmod('/dir/e.txt', 0o600);
    await vfs.truncate('/dir/e.txt', 0);
    await vfs.unlink('/dir/e.txt');
    await vfs.rmdir('/dir');
    expect(await errnoOf(vfs.rmdir('/dir'))).toBe('ENOENT');
    off();
    await vfs.mkdir('/after', 0o755);
    expect(events).toEqual([
      { path: '/e.txt', kind: 'create', origin: 'local' },
      { path: '/e.txt', kind: 'modify', origin: 'local' },
      { path: '/dir', kind: 'create', origin: 'local' },
      { path: '/e.txt', kind: 'rename', origin: 'local' },
      { path: '/dir/e.txt', kind: 'rename', origin: 'local' },
      { path: '/dir/e.txt', kind: 'attr', origin: 'local' },
      { path: '/dir/e.txt', kind: 'modify', origin: 'local' },
      { path: '/dir/e.txt', kind: 'delete', origin: 'local' },
      { path: '/dir', kind: 'delete', origin: 'local' },
    ]);
  });

  it('close() flushes buffered writes of handles still open', async () => {
    const other = createVfs(inner);
    const fh = await other.create('/left-open.txt', 0o644);
    await other.write(fh, Buffer.from('kept'), 0);
    await other.close();
    expect(await readFile(join(dir, 'left-open.txt'), 'utf8')).toBe('kept');
  });
});
