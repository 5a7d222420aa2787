import { describe, expect, it } from 'vitest';
import { createCloserStack } from '../fs/closers.js';

describe('closer stack (fs/closers.ts)', () => {
  it('closes last opened first, one at a time', async () => {
    const closers = createCloserStack();
    const events: string[] = [];
    for (const name of ['vfs', 'mount', 'server']) {
      closers.push(async () => {
        events.push(`${name} start`);
        await new Promise((resolve) => setImmediate(resolve));
        events.push(`${name} end`);
      });
    }
    expect(await closers.unwind()).toEqual([]);
    expect(events).toEqual(['server start', 'server end', 'mount start', 'mount end', 'vfs start', 'vfs end']);
  });

  it('runs every closer when one fails, and hands back what escaped', async () => {
    const closers = createCloserStack();
    const closed: string[] = [];
    const boom = new Error('unmount failed');
    closers.push(() => { closed.push('vfs'); });
    closers.push(() => { throw boom; });
    closers.push(async () => { closed.push('server'); });
    expect(await closers.unwind()).toEqual([boom]);
    expect(closed).toEqual(['server', 'vfs']);
  });

  it('runs each closer once: concurrent unwinds share one, a later one finds nothing left', async () => {
    const closers = createCloserStack();
    let calls = 0;
    closers.push(async () => {
      calls += 1;
      await new Promise((resolve) => setImmediate(resolve));
    });
    const [first, second] = await Promise.all([closers.unwind(), closers.unwind()]);
    expect(first).toBe(second);
    await closers.unwind();
    expect(calls).toBe(1);
  });

  it('a closer pushed after an unwind is closed by the next one', async () => {
    const closers = createCloserStack();
    const closed: string[] = [];
    closers.push(() => { closed.push('first'); });
    await closers.unwind();
    closers.push(() => { closed.push('second'); });
    await closers.unwind();
    expect(closed).toEqual(['first', 'second']);
  });
});
