/**
 * SFTP status → POSIX errno, in one place (as sshfs's sftp_error_to_errno).
 *
 * SFTP version 3 (draft-ietf-secsh-filexfer-02 §7, "Responses from the Server to the Client") defines only
 * SSH_FX_OK, EOF, NO_SUCH_FILE, PERMISSION_DENIED, FAILURE, BAD_MESSAGE, NO_CONNECTION, CONNECTION_LOST and
 * OP_UNSUPPORTED. OpenSSH's sftp-server (errno_to_portable() in sftp-server.c) folds errno into them:
 *   ENOENT, ENOTDIR, EBADF, ELOOP      → NO_SUCH_FILE
 *   EPERM, EACCES, EFAULT              → PERMISSION_DENIED
 *   ENAMETOOLONG, EINVAL               → BAD_MESSAGE
 *   ENOSYS                             → OP_UNSUPPORTED
 *   everything else (EEXIST, ENOTEMPTY, EISDIR, ENOSPC, EXDEV …) → FAILURE
 * so this table gives the best single guess, and each operation that can fail in several ways refines
 * FAILURE / NO_SUCH_FILE with a follow-up lstat (see fs/sftp/path-ops.ts).
 */
import { FsError, type ErrnoCode } from '../errors.js';

/** SSH_FX_* numbers, draft-ietf-secsh-filexfer-02 §7. */
export const SFTP_STATUS = Object.freeze({
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
});

const ERRNO_BY_STATUS: ReadonlyMap<number, ErrnoCode> = new Map<number, ErrnoCode>([
  [SFTP_STATUS.EOF, 'EIO'], // EOF is consumed by the read path; anywhere else it is a protocol surprise
  [SFTP_STATUS.NO_SUCH_FILE, 'ENOENT'],
  [SFTP_STATUS.PERMISSION_DENIED, 'EACCES'],
  [SFTP_STATUS.FAILURE, 'EIO'],
  [SFTP_STATUS.BAD_MESSAGE, 'EINVAL'],
  [SFTP_STATUS.NO_CONNECTION, 'ENOTCONN'],
  [SFTP_STATUS.CONNECTION_LOST, 'ENOTCONN'],
  [SFTP_STATUS.OP_UNSUPPORTED, 'EOPNOTSUPP'],
]);

/** The numeric SSH_FX_* code ssh2 puts on a status error, if any. */
export function sftpStatusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * True when the error means "the connection went away before the server answered" rather than "the server
 * said no": ssh2 fails every outstanding request with 'No response from server' when the channel closes
 * (cleanupRequests in ssh2/lib/protocol/SFTP.js), and NO_CONNECTION / CONNECTION_LOST are, per the draft,
 * "pseudo-errors" generated locally. The session retries these; they never reach the caller as such.
 */
export function isConnectionLoss(err: unknown): boolean {
  if (err instanceof FsError) return false;
  const status = sftpStatusOf(err);
  if (status === SFTP_STATUS.NO_CONNECTION || status === SFTP_STATUS.CONNECTION_LOST) return true;
  if (status !== undefined) return false;
  const message = err instanceof Error ? err.message : String(err);
  return /No response from server|Not connected/i.test(message);
}

/** THE mapping: an ssh2 SFTP error (or anything else thrown below the session) → FsError. */
export function toFsError(err: unknown, path?: string): FsError {
  if (err instanceof FsError) return err;
  const status = sftpStatusOf(err);
  const code: ErrnoCode = status === undefined ? 'EIO' : ERRNO_BY_STATUS.get(status) ?? 'EIO';
  const detail = err instanceof Error ? err.message : String(err);
  return new FsError(code, path ? `${code}: ${path} (${detail})` : `${code}: ${detail}`, path, status);
}

/** For an operation's catch: connection losses pass through untouched (the session handles them), the rest become FsError. */
export function rethrowMapped(err: unknown, path?: string): never {
  if (isConnectionLoss(err)) throw err;
  throw toFsError(err, path);
}

/** Whether a status error is one of those OpenSSH uses for several errnos, so the caller should look closer. */
export function isAmbiguous(err: unknown): boolean {
  const status = sftpStatusOf(err);
  return status === SFTP_STATUS.FAILURE || status === SFTP_STATUS.NO_SUCH_FILE;
}
