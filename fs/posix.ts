/**
 * POSIX file-type bits and open(2) access-mode tests, in one place for every layer of fs/ (and the dev server's
 * VFS source). The S_IF* values are the ones inode(7) lists ("The file type and mode"): SFTP v3 carries
 * st_mode with them whatever the client platform (draft-ietf-secsh-filexfer-02 §5, "permissions"), and Node's
 * fs.constants has the same numbers on Linux and macOS. The O_* flags are the platform's (fs.constants), as the
 * open flags handed to the VFS and to RemoteFs.open are.
 */
import { constants } from 'node:fs';

/** The file-type bits of st_mode. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** The file-type bits of `mode` (one of the S_IF* values), for a switch over file types. */
export function fileType(mode: number): number {
  return mode & S_IFMT;
}

export function isDir(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

export function isRegular(mode: number): boolean {
  return (mode & S_IFMT) === S_IFREG;
}

export function isSymlink(mode: number): boolean {
  return (mode & S_IFMT) === S_IFLNK;
}

/** O_ACCMODE from open(2): the access-mode bits of the flags. Node's fs.constants does not export it. */
export const O_ACCMODE = constants.O_RDONLY | constants.O_WRONLY | constants.O_RDWR;

/** True when `flags` open for reading only (the access mode is O_RDONLY); O_CREAT or O_TRUNC may still be set. */
export function opensReadOnly(flags: number): boolean {
  return (flags & O_ACCMODE) === constants.O_RDONLY;
}

/** Flags that make an open more than a plain read: it may write, create or truncate the file. */
const MAY_CHANGE_FILE = constants.O_WRONLY | constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC;

/** True when an open with `flags` only reads an existing file: no write access, no O_CREAT, no O_TRUNC. */
export function isPlainRead(flags: number): boolean {
  return (flags & MAY_CHANGE_FILE) === 0;
}
