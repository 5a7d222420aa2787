/**
 * The foreground gate (fs/foreground.ts) on a hand-driven clock and counter: quiet at once when nothing is
 * counted or nothing moved, waiting while the counter moves, released once it stood still for quietMs, and never
 * later than maxWaitMs.
 */
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { createForegroundGate } from '../fs/foreground.js';

let now = 0;
beforeEach(() => {
  vi.useFakeTimers();
  now = 0;
});
afterEach(() => {
  vi.useRealTimers();
});

const gateOptions = { quietMs: 100, pollMs: 10, maxWaitMs: 1000, now: () => now };

/** Advances the clock and the timers together by `ms`, calling `tick` every 10 ms. */
async function advance(ms: number, tick: () => void = () => undefined): Promise<void> {
  for (let t = 0; t < ms; t += 10) {
    now += 10;
    tick();
    await vi.advanceTimersByTimeAsync(10);
  }
}

/** A gate over one counter that has just moved (a request arrived), and the counter. */
function busyGate(): { gate: ReturnType<typeof createForegroundGate>; requests: { count: number }; stop: () => void } {
  const gate = createForegroundGate(gateOptions);
  const requests = { count: 0 };
  const stop = gate.watch(() => requests.count);
  requests.count += 1;
  return { gate, requests, stop };
}

function settled(p: Promise<void>): { done: boolean } {
  const state = { done: false };
  void p.then(() => { state.done = true; });
  return state;
}

test('nothing counted: quiet at once', async () => {
  const wait = settled(createForegroundGate(gateOptions).whenQuiet());
  await vi.advanceTimersByTimeAsync(0);
  expect(wait.done).toBe(true);
});

test('a counter that has not moved since it was added: quiet at once', async () => {
  const gate = createForegroundGate(gateOptions);
  gate.watch(() => 5);
  const wait = settled(gate.whenQuiet());
  await vi.advanceTimersByTimeAsync(0);
  expect(wait.done).toBe(true);
});

test('a moving counter holds the wait until it has stood still for quietMs', async () => {
  const { gate, requests } = busyGate();
  const wait = settled(gate.whenQuiet());
  await advance(300, () => { requests.count += 1; });
  expect(wait.done).toBe(false);
  await advance(50);
  expect(wait.done).toBe(false);
  await advance(100);
  expect(wait.done).toBe(true);
});

test('a wait ends after maxWaitMs even while requests keep coming', async () => {
  const { gate, requests } = busyGate();
  const wait = settled(gate.whenQuiet());
  await advance(900, () => { requests.count += 1; });
  expect(wait.done).toBe(false);
  await advance(200, () => { requests.count += 1; });
  expect(wait.done).toBe(true);
});

test('removing the last counter releases the waiters', async () => {
  const { gate, requests, stop } = busyGate();
  const wait = settled(gate.whenQuiet());
  await advance(50, () => { requests.count += 1; });
  expect(wait.done).toBe(false);
  stop();
  await vi.advanceTimersByTimeAsync(0);
  expect(wait.done).toBe(true);
});
