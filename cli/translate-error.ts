import { FsError } from '../fs/errors.js';
import { BackupInterruptedError, BackupLockedError, RestoreInterruptedError } from '../fs/backup/types.js';
import { RemoteSpecError } from '../fs/remote-spec.js';
import { ConnectError, SshConfigError, type ConnectErrorKind } from '../fs/ssh/types.js';
import type { ExitCodeName } from './exit-codes.js';
import { UserError, isUserError } from './user-error.js';
import { PortInUseError } from '../devserver/errors.js';

/** ConnectError kinds → exit codes (README "Exit codes"). */
const CONNECT_EXIT: Readonly<Record<ConnectErrorKind, ExitCodeName>> = Object.freeze({
  dns: 'connect', refused: 'connect', timeout: 'connect', unreachable: 'connect', closed: 'connect',
  auth: 'auth', 'key-file': 'auth',
  'host-key-unknown': 'hostKey', 'host-key-changed': 'hostKey', 'host-key-revoked': 'hostKey',
  'no-exec': 'failure', protocol: 'failure', 'sftp-protocol': 'protocol',
});

/**
 * Errors from the library layers (fs/, devserver/) → the one-line message and exit code a user sees.
 * This is the CLI boundary's only error translation.
 */
export function translateError(err: unknown): UserError {
  if (isUserError(err)) return err;
  if (err instanceof ConnectError) return new UserError(CONNECT_EXIT[err.kind] ?? 'failure', err.message);
  if (err instanceof RemoteSpecError || err instanceof SshConfigError) return new UserError('usage', err.message);
  if (err instanceof PortInUseError) {
    return new UserError('usage', `${err.message}: stop the program using it, pick another with --port, or omit --port to take the next free one`);
  }
  if (err instanceof BackupLockedError) return new UserError('locked', err.message);
  if (err instanceof BackupInterruptedError || err instanceof RestoreInterruptedError) return new UserError('interrupted', err.message);
  if (err instanceof FsError) {
    return new UserError('failure', `${err.message}`);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new UserError('failure', `unexpected error: ${message.split('\n')[0]} (run with DEVMOUNT_DEBUG=1 for details)`);
}
