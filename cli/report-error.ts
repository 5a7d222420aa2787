import { ExitCode } from './exit-codes.js';
import { translateError } from './translate-error.js';

/**
 * The one place the CLI turns an error into output and an exit code: one line on stderr, no stack trace
 * (set DEVMOUNT_DEBUG=1 to see it), the exit code from the table.
 */
export function reportAndExit(err: unknown): never {
  const userError = translateError(err);
  process.stderr.write(`devmount: ${userError.message}\n`);
  if (process.env.DEVMOUNT_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(userError.exitCode ?? ExitCode.failure);
}
