/**
 * SIGINT/SIGTERM during a backup or restore: the first one aborts cleanly (in-flight files finish, the partial
 * snapshot stays for the next run, exit 130); a second one exits at once, as people expect from Ctrl-C twice.
 */
import { ExitCode } from '../exit-codes.js';

export interface InterruptController {
  readonly signal: AbortSignal;
  dispose(): void;
}

export function interruptController(): InterruptController {
  const controller = new AbortController();
  const onSignal = () => {
    if (controller.signal.aborted) process.exit(ExitCode.interrupted);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
