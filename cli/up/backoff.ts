/**
 * The wait for the network at login: retry with exponential backoff (1 s, 2 s, 4 s … capped at 30 s), but
 * never past the deadline given with `--wait SECONDS`. `--wait 0` means one attempt.
 */
export const BACKOFF = Object.freeze({ firstMs: 1_000, factor: 2, maxMs: 30_000 });

/** Milliseconds to sleep before attempt `attempt + 1`, or undefined when the deadline leaves no room for it. */
export function nextDelayMs(attempt: number, now: number, deadline: number): number | undefined {
  const remaining = deadline - now;
  if (remaining <= 0) return undefined;
  const delay = Math.min(BACKOFF.firstMs * BACKOFF.factor ** attempt, BACKOFF.maxMs);
  return Math.min(delay, remaining);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => { setTimeout(resolve, ms); });
}
