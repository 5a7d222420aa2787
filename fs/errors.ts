import { constants as osConstants } from 'node:os';

/** The POSIX error names the VFS reports. Numbers come from the running OS so FUSE gets the right values. */
export type ErrnoCode =
  | 'ENOENT' | 'EACCES' | 'EPERM' | 'EEXIST' | 'ENOTEMPTY' | 'ENOTDIR' | 'EISDIR' | 'ENOSPC' | 'EIO'
  | 'EINVAL' | 'EBADF' | 'EROFS' | 'ENOSYS' | 'ETIMEDOUT' | 'ENOTCONN' | 'EXDEV' | 'ELOOP' | 'ENAMETOOLONG'
  | 'EDQUOT' | 'EFBIG' | 'EOPNOTSUPP' | 'ENODATA' | 'EAGAIN';

/** An error from the VFS: always carries a POSIX errno name, so every adapter translates it the same way. */
export class FsError extends Error {
  readonly code: ErrnoCode;
  readonly path: string | undefined;
  /** The SSH_FX_* status the server answered, when this error is the server's refusal (fs/sftp/status.ts). */
  readonly sftpStatus: number | undefined;
  constructor(code: ErrnoCode, message?: string, path?: string, sftpStatus?: number) {
    super(message ?? (path ? `${code}: ${path}` : code));
    this.name = 'FsError';
    this.code = code;
    this.path = path;
    this.sftpStatus = sftpStatus;
  }
  /** Positive errno number for this platform (FUSE wants it negated). */
  get errno(): number {
    return errnoNumber(this.code);
  }
}

export function errnoNumber(code: ErrnoCode): number {
  const n = (osConstants.errno as Record<string, number | undefined>)[code];
  return n ?? osConstants.errno.EIO;
}

export function isFsError(e: unknown, code?: ErrnoCode): e is FsError {
  return e instanceof FsError && (code === undefined || e.code === code);
}
