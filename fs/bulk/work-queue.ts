/**
 * Runs async jobs with at most `limit` in flight; a job may add more jobs (a tree walk discovers directories
 * as it goes). `drain()` resolves when the queue is empty and nothing is running, or rejects with the first
 * error a job threw (jobs that must not stop the queue catch their own errors).
 */
export class WorkQueue {
  private readonly pending: Array<() => Promise<void>> = [];
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
    this.pending.length = 0;
    this.settle();
  }

  drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.settle();
    });
  }

  private pump(): void {
    while (this.running < this.limit && this.pending.length > 0 && !this.failure) {
      const job = this.pending.shift() as () => Promise<void>;
      this.running += 1;
      job().then(
        () => { this.running -= 1; this.pump(); this.settle(); },
        (error: unknown) => {
          this.running -= 1;
          this.failure ??= { error };
          this.pending.length = 0;
          this.settle();
        },
      );
    }
  }

  private settle(): void {
    if (this.running > 0) return;
    if (!this.failure && this.pending.length > 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (this.failure) w.reject(this.failure.error);
      else w.resolve();
    }
  }
}
