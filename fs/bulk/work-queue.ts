/**
 * Runs async jobs with at most `limit` in flight; a job may add more jobs (a tree walk discovers directories
 * as it goes). `drain()` resolves when the queue is empty and nothing is running, or rejects with the first
 * error a job threw (jobs that must not stop the queue catch their own errors).
 */
export class WorkQueue {
  /** Jobs not started yet, from index `head` on: Array.shift() is O(n), quadratic over a 10k-file queue. */
  private pending: Array<() => Promise<void>> = [];
  private head = 0;
  private running = 0;
  private failure: { error: unknown } | undefined;
  private waiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];

  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`WorkQueue limit must be a positive integer, got ${limit}`);
  }

  add(job: () => Promise<void>): void {
    this.pending.push(job);
    this.pump();
  }

  /** Stops starting queued jobs (running ones finish); drain() then resolves once they have. */
  clear(): void {
    this.pending = [];
    this.head = 0;
    this.settle();
  }

  drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.settle();
    });
  }

  private pump(): void {
    while (this.running < this.limit && this.head < this.pending.length && !this.failure) {
      const job = this.pending[this.head] as () => Promise<void>;
      this.head += 1;
      if (this.head >= 1024 && this.head * 2 >= this.pending.length) {
        // Drop the started jobs now and then, so a queue that is refilled as it runs does not grow without bound.
        this.pending = this.pending.slice(this.head);
        this.head = 0;
      }
      this.running += 1;
      job().then(
        () => { this.running -= 1; this.pump(); this.settle(); },
        (error: unknown) => {
          this.running -= 1;
          this.failure ??= { error };
          this.pending = [];
          this.head = 0;
          this.settle();
        },
      );
    }
  }

  private settle(): void {
    if (this.running > 0) return;
    if (!this.failure && this.head < this.pending.length) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (this.failure) w.reject(this.failure.error);
      else w.resolve();
    }
  }
}
