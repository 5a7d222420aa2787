/**
 * Whether the foreground — the requests a mount is answering — has gone quiet, for background work to wait for.
 *
 * Why: the disk cache writes each small file the caches learn as a file of its own, ~400 µs of CPU apiece on the
 * 2-core machines devmount is measured on. A cold `git status` brings 10,000 such files in a tar stream, and their
 * writes took about a core for 2 s after it (2.2 s of the mount's CPU in the 2.5 s that followed): a `git status`
 * started in that window shared the machine with them. Background work that waits until requests
 * stop arriving leaves the cores to the program someone is waiting for, as an I/O scheduler's idle class does
 * (ioprio_set(2), IOPRIO_CLASS_IDLE), and costs only how late the disk copy is made.
 *
 * Where requests are counted: in the FUSE binding, on libfuse's threads (FuseMount.requestsServed), because most
 * warm requests are answered there and never reach JavaScript. The gate samples the counters only when asked
 * and while something waits, so a quiet process pays nothing.
 *
 * Bounded: a wait ends after `maxWaitMs` even while requests keep coming, so a busy mount still gets its disk
 * copy, one store per wait; the disk cache's own bound on pending bytes does the rest.
 *
 * State (one JS thread): the counters, the last sum seen and when it last moved, the waiters and their timer.
 */

export interface ForegroundGateOptions {
  /** How long no request must arrive before the foreground counts as quiet. */
  readonly quietMs: number;
  /** How often the counters are sampled while something waits. */
  readonly pollMs: number;
  /** The longest a wait lasts, quiet or not. */
  readonly maxWaitMs: number;
  /** Monotonic milliseconds. */
  readonly now: () => number;
}

export interface ForegroundGate {
  /** Resolves once no request has arrived for quietMs (at once when nothing is counted), or after maxWaitMs. */
  whenQuiet(): Promise<void>;
  /** Counts the requests `count` reports (a counter that only grows, modulo 2^32; undefined: nothing to count now); returns the remover. */
  watch(count: () => number | undefined): () => void;
}

const DEFAULTS: ForegroundGateOptions = Object.freeze({ quietMs: 250, pollMs: 50, maxWaitMs: 2000, now: () => performance.now() });

export function createForegroundGate(overrides: Partial<ForegroundGateOptions> = {}): ForegroundGate {
  const options = Object.freeze({ ...DEFAULTS, ...overrides });
  const counters = new Set<() => number | undefined>();
  /** The counters' sum when last sampled; a change of the set takes a new baseline (what came before is not news). */
  let lastSum = 0;
  let movedAt = -Infinity;
  const waiters: Array<{ until: number; resolve: () => void }> = [];
  let timer: NodeJS.Timeout | null = null;

  const sum = (): number => {
    let total = 0;
    for (const count of counters) total = (total + (count() ?? 0)) % 0x1_0000_0000;
    return total;
  };
  const quiet = (): boolean => {
    if (counters.size === 0) return true;
    const now = options.now();
    const total = sum();
    if (total !== lastSum) movedAt = now;
    lastSum = total;
    return now - movedAt >= options.quietMs;
  };

  const poll = (): void => {
    const isQuiet = quiet();
    const now = options.now();
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i]!;
      if (!isQuiet && now < waiter.until) continue;
      waiters.splice(i, 1);
      waiter.resolve();
    }
    if (waiters.length === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };

  return Object.freeze({
    whenQuiet(): Promise<void> {
      if (quiet()) return Promise.resolve();
      return new Promise<void>((resolve) => {
        waiters.push({ until: options.now() + options.maxWaitMs, resolve });
        if (!timer) {
          timer = setInterval(poll, options.pollMs);
          timer.unref(); // the waiting work never keeps the process alive by itself
        }
      });
    },
    watch(count: () => number | undefined): () => void {
      counters.add(count);
      lastSum = sum();
      return () => {
        counters.delete(count);
        lastSum = sum();
        poll();
      };
    },
  });
}
