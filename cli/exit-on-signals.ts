/**
 * How a served site stops: SIGINT exits 130 (128 + 2, as shells report it, cli/exit-codes.ts), SIGTERM is a
 * requested stop (0), and so is SIGHUP where asked (the terminal went away). Each first unwinds the closer stack
 * of what the start opened (fs/closers.ts), then exits. Returns the stop, for other reasons to stop.
 */
import type { CloserStack } from '../fs/closers.js';
import { ExitCode } from './exit-codes.js';

export function exitOnSignals(closers: CloserStack, signals: { readonly hangup: boolean }): (code: number) => void {
  const stop = (code: number): void => {
    void closers.unwind().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => stop(ExitCode.interrupted));
  process.once('SIGTERM', () => stop(ExitCode.ok));
  if (signals.hangup) process.once('SIGHUP', () => stop(ExitCode.ok));
  return stop;
}
