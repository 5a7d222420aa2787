/**
 * THE one translation from errors to the negative errno FUSE wants. Everything the adapter answers with an
 * error goes through `toFuseErrno`, so a VFS that rejects with an FsError, a Node system error, or something
 * unexpected all reach the kernel as a meaningful errno — never as a thrown exception on the FUSE thread.
 */
import { constants as osConstants } from 'node:os';
import { FsError, errnoNumber } from '../errors.js';

const ERRNO_BY_NAME = osConstants.errno as Readonly<Record<string, number | undefined>>;
const EIO = osConstants.errno.EIO;

/** Negative errno for `err`; unknown errors become -EIO (reported through `onUnexpected`, so they are not silent). */
export function toFuseErrno(err: unknown, onUnexpected?: (err: unknown) => void): number {
  if (err instanceof FsError) return -errnoNumber(err.code);
  // Node system errors (ENOENT from fs/promises, ETIMEDOUT from a socket) carry their POSIX name in `code`.
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const n = ERRNO_BY_NAME[code];
    if (n !== undefined) return -n;
  }
  onUnexpected?.(err);
  return -EIO;
}
