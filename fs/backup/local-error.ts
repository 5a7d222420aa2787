/**
 * Errors from the local file system (node:fs, with `code`, `syscall` and `path`) → FsError, so the CLI shows
 * one line ("devmount: backup directory: ENOSPC: no space left on device, write") instead of "unexpected error".
 */
import { FsError, type ErrnoCode } from '../errors.js';

const KNOWN: ReadonlySet<string> = new Set<ErrnoCode>([
  'ENOENT', 'EACCES', 'EPERM', 'EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EISDIR', 'ENOSPC', 'EIO', 'EINVAL', 'EROFS',
  'EXDEV', 'ELOOP', 'ENAMETOOLONG', 'EDQUOT', 'EFBIG',
]);

export function asLocalFsError(err: unknown, what: string): unknown {
  if (err instanceof FsError || !(err instanceof Error)) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e.code !== 'string' || typeof e.syscall !== 'string') return err;
  const code = (KNOWN.has(e.code) ? e.code : 'EIO') as ErrnoCode;
  return new FsError(code, `${what}: ${e.message}`, e.path);
}
