/**
 * ReadAhead (fs/vfs/read-ahead.ts) with a RemoteFile whose replies the test releases one by one, to pin down the
 * buffer-reuse rule: a segment a pending read still needs keeps its buffer, even when a random read drops every
 * segment meanwhile and the pool could hand that buffer to a new read.
 */
import { describe, expect, it } from 'vitest';
import { FsError } from '../fs/errors.js';
import type { RemoteFile } from '../fs/remote/types.js';
import { BufferPool } from '../fs/vfs/buffer-pool.js';
import { ReadAhead } from '../fs/vfs/read-ahead.js';
import type { Attr } from '../fs/types.js';

const K = 1024;
const byteAt = (position: number) => (position * 31 + 7) & 0xff;
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A file of `size` bytes whose reads complete only when the test says so. */
class ControlledFile implements RemoteFile {
  readonly path = '/controlled.bin';
  private pending: { position: number; target: Buffer; resolve: (n: number) => void }[] = [];

  constructor(private readonly size: number) {}

  readInto(position: number, target: Buffer): Promise<number> {
    return new Promise((resolve) => this.pending.push({ position, target, resolve }));
  }

  async read(position: number, length: number): Promise<Buffer> {
    const buf = Buffer.alloc(length);
    return buf.subarray(0, await this.readInto(position, buf));
  }

  /** Completes the pending reads starting at `position` (all when omitted), filling them with `fill` or the file's bytes. */
  complete(position?: number, fill?: number): void {
    const now = this.pending.filter((p) => position === undefined || p.position === position);
    this.pending = this.pending.filter((p) => !now.includes(p));
    for (const p of now) {
      const n = Math.max(0, Math.min(p.target.length, this.size - p.position));
      for (let i = 0; i < n; i++) p.target[i] = fill ?? byteAt(p.position + i);
      p.resolve(n);
    }
  }

  write(): Promise<void> { return Promise.reject(new FsError('EBADF')); }
  ftruncate(): Promise<void> { return Promise.reject(new FsError('EBADF')); }
  fstat(): Promise<Attr> { return Promise.reject(new FsError('EBADF')); }
  async fsync(): Promise<void> { /* read-only test file: nothing to make durable */ }
  async close(): Promise<void> { /* nothing opened */ }
}

const expected = (position: number, length: number) => Buffer.from(Array.from({ length }, (_, i) => byteAt(position + i)));

describe('ReadAhead buffer reuse', () => {
  it('a read waiting on two segments gets their bytes even after a random read dropped them and their buffers were wanted again', async () => {
    const file = new ControlledFile(32 * 1024 * K);
    const ra = new ReadAhead(file, { minBytes: 64 * K, maxBytes: 1024 * K }, new BufferPool(8 * 1024 * K));
    const settle = async <T>(p: Promise<T>) => { file.complete(); return p; };
    expect((await settle(ra.read(0, 64 * K))).equals(expected(0, 64 * K))).toBe(true);
    expect((await settle(ra.read(64 * K, 64 * K))).equals(expected(64 * K, 64 * K))).toBe(true);
    // Segments [256K,320K), [320K,384K), [384K,448K) are now requested and still pending.
    const third = ra.read(128 * K, 64 * K);
    expect((await third).equals(expected(128 * K, 64 * K))).toBe(true);
    const across = ra.read(320 * K - 10, 20); // needs [256K,320K) and [320K,384K)
    file.complete(320 * K); // the second one arrives first
    const far = ra.read(20 * 1024 * K, 10); // random: every segment is dropped
    file.complete(20 * 1024 * K);
    await far;
    await turn(); // a dropped, settled buffer would be back in the pool now
    const next = ra.read(20 * 1024 * K + 10, 64 * K); // takes a 64 KiB buffer from the pool
    file.complete(20 * 1024 * K + 10, 0xee); // and fills it (with a marker, to see where it lands)
    await next;
    file.complete(); // the first segment of `across` arrives last
    expect((await across).equals(expected(320 * K - 10, 20))).toBe(true);
  });
});
