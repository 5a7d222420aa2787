/**
 * The one bounded wait of the tests: something another process or a watcher does lands a moment later (a mount
 * goes away, a change event arrives, a log line is flushed). Polls `check` every 100 ms until it holds, for at most
 * `timeoutMs`; then throws, so a wait can never pass unchecked. A check that throws counts as "not yet" (a server
 * still starting refuses connections); the last such error is in the timeout message.
 */
const POLL_MS = 100;

export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      if (await check()) return;
      lastError = null;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const waitedFor = what ?? String(check).replace(/\s+/g, ' ').slice(0, 200);
      const cause = lastError === null ? '' : `; last error: ${lastError instanceof Error ? lastError.message : String(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${waitedFor}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
