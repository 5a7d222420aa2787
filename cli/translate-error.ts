import { FsError } from '../fs/errors.js';
import { UserError, isUserError } from './user-error.js';

/**
 * Errors from the library layers (fs/, devserver/) → the one-line message and exit code a user sees.
 * This is the CLI boundary's only error translation.
 */
export function translateError(err: unknown): UserError {
  if (isUserError(err)) return err;
  if (err instanceof FsError) {
    return new UserError('failure', `${err.message}`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new UserError('failure', `unexpected error: ${message.split('\n')[0]} (run with DEVMOUNT_DEBUG=1 for details)`);
}
