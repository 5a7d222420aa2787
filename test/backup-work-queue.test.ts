import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../fs/bulk/work-queue.js';

/** fs/bulk/work-queue.ts keeps its pending jobs behind a moving head: queues of 10k jobs per run. */
describe('WorkQueue with many queued jobs', () => {
  it('starts every job exactly once, in the order added, never more than the limit at once', async () => {
    const queue = new WorkQueue(7);
    const started: number[] = [];
    let running = 0;
    let peak = 0;
    for (let i = 0; i < 5000; i += 1) {
      queue.add(async () => {
        started.push(i);
        running += 1;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running -= 1;
        // Jobs added while the queue runs (a tree walk finding directories) run too.
        if (i % 1000 === 0) queue.add(async () => { started.push(10_000 + i); });
      });
    }
    await queue.drain();
    expect(started.filter((n) => n < 10_000)).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(started.filter((n) => n >= 10_000).sort((a, b) => a - b)).toEqual([10_000, 11_000, 12_000, 13_000, 14_000]);
    expect(peak).toBe(7);
  });

  it('a failing job stops the queued ones and drain() rejects with its error', async () => {
    const queue = new WorkQueue(2);
    let ran = 0;
    for (let i = 0; i < 3000; i += 1) {
      queue.add(async () => {
        ran += 1;
        if (i === 1500) throw new Error('boom');
        await Promise.resolve();
      });
    }
    await expect(queue.drain()).rejects.toThrow('boom');
    expect(ran).toBeGreaterThan(1500);
    expect(ran).toBeLessThan(3000);
  });
});
