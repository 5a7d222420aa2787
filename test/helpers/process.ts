import { setTimeout as delay } from 'node:timers/promises';

/** Whether process `pid` has exited, polling (signal 0, kill(2)) 100 times, `intervalMs` apart. */
export async function processGone(pid: number, intervalMs: number): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return true;
    }
    await delay(intervalMs);
  }
  return false;
}
