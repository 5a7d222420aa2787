import { ExitCode, type ExitCodeName } from './exit-codes.js';

/**
 * An error meant for the person at the terminal: one line that says what is wrong and what to do, and the
 * exit code from the table in exit-codes.ts. The CLI prints `devmount: <message>` and exits — no stack trace.
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(kind: ExitCodeName, message: string) {
    super(message);
    this.name = 'UserError';
    this.exitCode = ExitCode[kind];
  }
}

export function isUserError(e: unknown): e is UserError {
  return e instanceof UserError;
}
