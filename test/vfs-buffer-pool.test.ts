/** The read-ahead buffer pool (fs/vfs/buffer-pool.ts): reuse only after the current turn, idle bytes bounded. */
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../fs/vfs/buffer-pool.js';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('BufferPool', () => {
  it('hands a given-back buffer out again only after this turn of the event loop', async () => {
    const pool = new BufferPool(1024 * 1024);
    const first = pool.take(64 * 1024);
    pool.give(first);
    const sameTurn = pool.take(64 * 1024);
    expect(sameTurn).not.toBe(first); // a reader may still be copying from `first` in this turn
    await turn();
    expect(pool.idleBytes).toBe(64 * 1024);
    expect(pool.take(64 * 1024)).toBe(first);
    expect(pool.idleBytes).toBe(0);
  });

  it('keeps buffers by size and never more idle bytes than its bound', async () => {
    const pool = new BufferPool(256 * 1024);
    const small = pool.take(64 * 1024);
    const big = [pool.take(128 * 1024), pool.take(128 * 1024), pool.take(128 * 1024)];
    pool.give(small);
    for (const b of big) pool.give(b);
    await turn();
    expect(pool.idleBytes).toBe(64 * 1024 + 128 * 1024); // the second and third 128 KiB ones went over the bound
    expect(pool.take(128 * 1024)).toBe(big[0]);
    expect(pool.take(64 * 1024)).toBe(small);
    expect(pool.take(64 * 1024).length).toBe(64 * 1024);
  });
});
