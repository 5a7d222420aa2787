/**
 * Promise wrappers around ssh2's callback SFTP client, plus attribute and flag conversion. Errors are the
 * raw ssh2 errors (with the SSH_FX_* `code`): mapping happens in the operations (fs/sftp/status.ts), because
 * connection losses must reach the session unchanged.
 */
import { constants as fsConstants } from 'node:fs';
import type { Attributes, FileEntry, InputAttributes, SFTPWrapper } from 'ssh2';
import { O_ACCMODE } from '../posix.js';
import type { Attr, StatFs } from '../types.js';
import { sendWrite } from './write-request.js';

/** SSH_FXF_* open flags, draft-ietf-secsh-filexfer-02 §6.3. */
export const SFTP_OPEN = Object.freeze({ READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 });

/**
 * open(2) flags → SFTP pflags. O_APPEND is deliberately NOT passed as SSH_FXF_APPEND: OpenSSH then opens
 * with O_APPEND, and Linux pwrite(2) on an O_APPEND descriptor ignores the offset (pwrite(2), BUGS). The
 * kernel/VFS already computes append offsets, and a replayed write after a reconnect must land at the same
 * offset to be idempotent; with APPEND it would be appended a second time.
 */
export function toSftpFlags(flags: number): number {
  const access = flags & O_ACCMODE;
  let out = 0;
  if (access === fsConstants.O_RDONLY || access === fsConstants.O_RDWR) out |= SFTP_OPEN.READ;
  if (access === fsConstants.O_WRONLY || access === fsConstants.O_RDWR) out |= SFTP_OPEN.WRITE;
  if (flags & fsConstants.O_CREAT) out |= SFTP_OPEN.CREAT;
  if (flags & fsConstants.O_TRUNC) out |= SFTP_OPEN.TRUNC;
  if (flags & fsConstants.O_EXCL) out |= SFTP_OPEN.EXCL;
  return out;
}

/** Flags for re-opening after a reconnect: never create, exclude or truncate a second time. */
export function reopenFlags(sftpFlags: number): number {
  return sftpFlags & ~(SFTP_OPEN.CREAT | SFTP_OPEN.EXCL | SFTP_OPEN.TRUNC);
}

/** SFTP v3 carries no nlink; OpenSSH's READDIR longname ("drwxr-xr-x    3 user group …") does. */
function nlinkFromLongname(longname: string | undefined): number | undefined {
  const m = longname ? /^\S+\s+(\d+)\s/.exec(longname) : null;
  return m ? Number(m[1]) : undefined;
}

/** SFTP v3 attributes carry seconds only (draft-02 §5): times become whole-second milliseconds. */
export function toAttr(a: Partial<Attributes>, longname?: string): Attr {
  const mtimeMs = (a.mtime ?? 0) * 1000;
  return Object.freeze({
    mode: a.mode ?? 0,
    size: a.size ?? 0,
    uid: a.uid ?? 0,
    gid: a.gid ?? 0,
    nlink: nlinkFromLongname(longname) ?? 1,
    atimeMs: (a.atime ?? 0) * 1000,
    mtimeMs,
    ctimeMs: mtimeMs, // v3 has no ctime; mtime is the closest honest value
  });
}

type Cb<T> = (err: Error | undefined | null, value: T) => void;

/**
 * ssh2 queues a request on a channel that is no longer open and never answers it (sendOrBuffer in
 * ssh2/lib/protocol/SFTP.js only writes while `outgoing.state === 'open'`, and the request table was already
 * flushed when the channel closed): fail such a request at once, as a connection loss.
 */
function channelOpen(s: SFTPWrapper): boolean {
  const outgoing = (s as unknown as { outgoing?: { state?: string } }).outgoing;
  return outgoing?.state === undefined || outgoing.state === 'open';
}

function call<T>(s: SFTPWrapper, fn: (cb: Cb<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (!channelOpen(s)) {
      reject(new Error('No response from server (SFTP channel is not open)'));
      return;
    }
    // ssh2 throws synchronously for caller mistakes and missing extensions: surface them as rejections.
    try {
      fn((err, value) => (err ? reject(err) : resolve(value)));
    } catch (err) {
      reject(err);
    }
  });
}

function callVoid(s: SFTPWrapper, fn: (cb: (err?: Error | null) => void) => void): Promise<void> {
  return call<void>(s, (cb) => fn((err) => cb(err, undefined)));
}

export function hasExtension(sftp: SFTPWrapper, name: string): boolean {
  const ext = (sftp as unknown as { _extensions?: Record<string, string> })._extensions;
  return Boolean(ext && ext[name] !== undefined);
}

function statvfsToStatFs(st: unknown): StatFs {
  const v = st as Record<string, number | bigint | undefined>;
  const n = (key: string) => Number(v[key] ?? 0);
  return Object.freeze({
    bsize: n('f_bsize'), frsize: n('f_frsize'), blocks: n('f_blocks'), bfree: n('f_bfree'), bavail: n('f_bavail'),
    files: n('f_files'), ffree: n('f_ffree'), favail: n('f_favail'), namemax: n('f_namemax'),
  });
}

export const wire = Object.freeze({
  lstat: (s: SFTPWrapper, p: string) => call<Attributes>(s, (cb) => s.lstat(p, cb)),
  stat: (s: SFTPWrapper, p: string) => call<Attributes>(s, (cb) => s.stat(p, cb)),
  fstat: (s: SFTPWrapper, h: Buffer) => call<Attributes>(s, (cb) => s.fstat(h, cb)),
  open: (s: SFTPWrapper, p: string, flags: number, attrs: InputAttributes) =>
    call<Buffer>(s, (cb) => s.open(p, flags, attrs, cb)),
  close: (s: SFTPWrapper, h: Buffer) => callVoid(s, (cb) => s.close(h, cb)),
  opendir: (s: SFTPWrapper, p: string) => call<Buffer>(s, (cb) => s.opendir(p, cb)),
  /** One READDIR request: a batch of entries, or `null` at end of directory (SSH_FX_EOF). */
  readdirBatch: (s: SFTPWrapper, h: Buffer) =>
    new Promise<FileEntry[] | null>((resolve, reject) => {
      if (!channelOpen(s)) {
        reject(new Error('No response from server (SFTP channel is not open)'));
        return;
      }
      try {
        s.readdir(h, (err, list) => {
          if (err && (err as { code?: unknown }).code === 1) resolve(null);
          else if (err) reject(err);
          else resolve(list);
        });
      } catch (err) {
        reject(err);
      }
    }),
  /** One READ of at most `len` bytes into `buf` at `off`; 0 at end of file. */
  read: (s: SFTPWrapper, h: Buffer, buf: Buffer, off: number, len: number, position: number) =>
    call<number>(s, (cb) => s.read(h, buf, off, len, position, (err, n) => cb(err, n))),
  /** One WRITE of all of `buf` (at most the server's write limit), sent without a copy: `buf` must not change until it settles. */
  write: (s: SFTPWrapper, h: Buffer, buf: Buffer, position: number) =>
    callVoid(s, (cb) => sendWrite(s, h, buf, position, cb)),
  mkdir: (s: SFTPWrapper, p: string, mode: number) => callVoid(s, (cb) => s.mkdir(p, { mode }, cb)),
  rmdir: (s: SFTPWrapper, p: string) => callVoid(s, (cb) => s.rmdir(p, cb)),
  unlink: (s: SFTPWrapper, p: string) => callVoid(s, (cb) => s.unlink(p, cb)),
  posixRename: (s: SFTPWrapper, from: string, to: string) => callVoid(s, (cb) => s.ext_openssh_rename(from, to, cb)),
  rename: (s: SFTPWrapper, from: string, to: string) => callVoid(s, (cb) => s.rename(from, to, cb)),
  /** ssh2 swaps the arguments on the wire for OpenSSH servers (sftp-server.c reads SSH_FXP_SYMLINK as target, link). */
  symlink: (s: SFTPWrapper, target: string, linkPath: string) => callVoid(s, (cb) => s.symlink(target, linkPath, cb)),
  hardlink: (s: SFTPWrapper, existing: string, linkPath: string) => callVoid(s, (cb) => s.ext_openssh_hardlink(existing, linkPath, cb)),
  readlink: (s: SFTPWrapper, p: string) => call<string>(s, (cb) => s.readlink(p, cb)),
  realpath: (s: SFTPWrapper, p: string) => call<string>(s, (cb) => s.realpath(p, cb)),
  expandPath: (s: SFTPWrapper, p: string) => call<string>(s, (cb) => s.ext_openssh_expandPath(p, cb)),
  setstat: (s: SFTPWrapper, p: string, attrs: InputAttributes) => callVoid(s, (cb) => s.setstat(p, attrs, cb)),
  fsetstat: (s: SFTPWrapper, h: Buffer, attrs: InputAttributes) => callVoid(s, (cb) => s.fsetstat(h, attrs, cb)),
  fsync: (s: SFTPWrapper, h: Buffer) => callVoid(s, (cb) => s.ext_openssh_fsync(h, cb)),
  /** statvfs@openssh.com (OpenSSH PROTOCOL §4.4); ssh2 names the fields after struct statvfs (f_bsize …). */
  statvfs: (s: SFTPWrapper, p: string) =>
    call<StatFs>(s, (cb) => s.ext_openssh_statvfs(p, (err, st) => cb(err, err ? (undefined as unknown as StatFs) : statvfsToStatFs(st)))),
});
