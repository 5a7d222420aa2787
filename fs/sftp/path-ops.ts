/**
 * The path operations, as session Operations. Each one turns SFTP's coarse status into the errno a local
 * file system would give. OpenSSH's sftp-server speaks SFTP v3 (draft-ietf-secsh-filexfer-02), whose status
 * codes cannot say EEXIST, ENOTEMPTY, EISDIR or ENOTDIR: it answers SSH_FX_FAILURE for the first three and
 * SSH_FX_NO_SUCH_FILE for ENOTDIR (errno_to_portable() in sftp-server.c). So on FAILURE / NO_SUCH_FILE an
 * operation looks at the names involved with LSTAT and derives the errno (sshfs does the same for rmdir).
 *
 * Guarded operations (not idempotent) run again after a connection loss with `afterLoss` set; the first try
 * may have landed before the drop. The rules, one per operation:
 *  - mkdir:   EEXIST on the retry and the name is a directory now → success.
 *  - rmdir:   ENOENT on the retry → success.
 *  - unlink:  ENOENT on the retry → success.
 *  - rename:  ENOENT on the retry, `from` is gone and `to` exists → success.
 *  - symlink: EEXIST on the retry and the name is a symlink to the same target → success.
 *  - link:    EEXIST on the retry and the name has the attributes of `existing` → success (v3 has no inode numbers).
 *  - O_EXCL create: EEXIST on the retry and the name is an empty regular file → open it without O_EXCL.
 * Each rule can, in a race with another client doing the same thing at the same moment, report success for
 * their change; the alternative is reporting failure for ours, which breaks every `mkdir -p` after a drop.
 */
import type { Attributes, FileEntry, SFTPWrapper } from 'ssh2';
import { posix } from 'node:path';
import { FsError, type ErrnoCode } from '../errors.js';
import { isDir, isRegular, isSymlink } from '../posix.js';
import type { SetAttr } from '../remote/types.js';
import type { Attr, DirEntry, StatFs } from '../types.js';
import type { Attempt, Operation } from './session.js';
import { SFTP_STATUS, isAmbiguous, isConnectionLoss, rethrowMapped, sftpStatusOf } from './status.js';
import { SFTP_OPEN, hasExtension, toAttr, wire } from './wire.js';
import type { OpenedHandle } from './file.js';

/** Maps a caller path ('/' = the remote root) to the server path; '..' cannot climb above the root. */
export function remotePathOf(root: string, path: string): string {
  const inside = posix.normalize(`/${path}`);
  return inside === '/' ? root : posix.join(root, inside);
}

/** LSTAT that answers "what is there now": attributes, or null when nothing is. Connection losses propagate. */
async function probe(sftp: SFTPWrapper, remote: string): Promise<Attributes | null> {
  try {
    return await wire.lstat(sftp, remote);
  } catch (err) {
    if (isConnectionLoss(err)) throw err;
    return null; // NO_SUCH_FILE, or a parent that is not a directory: either way nothing is there
  }
}

/** `cause`: the server's refusal this errno was worked out from; its SSH_FX_* status stays on the error (for logs). */
function fsError(code: ErrnoCode, path: string, what: string, cause?: unknown): FsError {
  return new FsError(code, `${code}: ${what} ${path}`, path, sftpStatusOf(cause));
}

/** ENOENT, or ENOTDIR when a parent component is not a directory (sftp-server folds ENOTDIR into NO_SUCH_FILE). */
async function missingOrNotDir(sftp: SFTPWrapper, remote: string, path: string, what: string, cause: unknown): Promise<FsError> {
  const parent = posix.dirname(remote);
  if (parent !== remote) {
    const p = await probe(sftp, parent);
    if (p && !isDir(p.mode)) return fsError('ENOTDIR', path, what, cause);
  }
  return fsError('ENOENT', path, what, cause);
}

export interface PathOpsContext {
  readonly root: string;
}

type Op<T> = Operation<T>;

export function lstatOp(ctx: PathOpsContext, path: string, follow: boolean): Op<Attr> {
  const remote = remotePathOf(ctx.root, path);
  return {
    name: follow ? 'stat' : 'lstat',
    path,
    policy: 'idempotent',
    async run({ conn }) {
      try {
        return toAttr(follow ? await wire.stat(conn.sftp, remote) : await wire.lstat(conn.sftp, remote));
      } catch (err) {
        if (sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) throw await missingOrNotDir(conn.sftp, remote, path, 'stat', err);
        return rethrowMapped(err, path);
      }
    },
  };
}

/**
 * READDIR pipelined: `inFlight` requests outstanding on one handle. OpenSSH serves a channel's requests in
 * order, each READDIR returning the next batch (or EOF), so batches concatenated in request order are the
 * listing; the surplus requests past the end answer EOF (as sshfs does, up to 32 in flight).
 */
export function readdirOp(ctx: PathOpsContext, path: string, inFlight: number): Op<DirEntry[]> {
  const remote = remotePathOf(ctx.root, path);
  return {
    name: 'readdir',
    path,
    policy: 'idempotent',
    async run({ conn }) {
      const sftp = conn.sftp;
      let handle: Buffer;
      try {
        handle = await wire.opendir(sftp, remote);
      } catch (err) {
        if (isAmbiguous(err)) {
          const there = await probe(sftp, remote);
          if (there && !isDir(there.mode)) throw fsError('ENOTDIR', path, 'readdir', err);
          if (!there) throw await missingOrNotDir(sftp, remote, path, 'readdir', err);
        }
        return rethrowMapped(err, path);
      }
      const requests: Promise<FileEntry[] | null>[] = [];
      const entries: DirEntry[] = [];
      let next = 0;
      try {
        for (let i = 0; i < Math.max(1, inFlight); i++) requests.push(wire.readdirBatch(sftp, handle));
        for (;;) {
          const batch = await requests[next++];
          if (!batch) break;
          for (const e of batch) entries.push({ name: e.filename, attr: toAttr(e.attrs, e.longname) });
          requests.push(wire.readdirBatch(sftp, handle));
        }
      } catch (err) {
        return rethrowMapped(err, path);
      } finally {
        // Let the surplus requests answer (EOF) before closing, so none is left unobserved.
        await Promise.allSettled(requests.slice(next));
        // The listing is complete either way; a failed CLOSE only leaks a handle the server frees at disconnect.
        await wire.close(sftp, handle).catch(() => undefined);
      }
      return entries;
    },
  };
}

export function readlinkOp(ctx: PathOpsContext, path: string): Op<string> {
  const remote = remotePathOf(ctx.root, path);
  return {
    name: 'readlink',
    path,
    policy: 'idempotent',
    async run({ conn }) {
      try {
        return await wire.readlink(conn.sftp, remote);
      } catch (err) {
        if (sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) throw await missingOrNotDir(conn.sftp, remote, path, 'readlink', err);
        return rethrowMapped(err, path); // BAD_MESSAGE = EINVAL: not a symlink, as readlink(2)
      }
    },
  };
}

export interface OpenResult extends OpenedHandle {
  readonly limits: { readonly maxReadLength: number; readonly maxWriteLength: number };
}

export function openOp(ctx: PathOpsContext, path: string, sftpFlags: number, mode: number | undefined): Op<OpenResult> {
  const remote = remotePathOf(ctx.root, path);
  const exclusive = (sftpFlags & SFTP_OPEN.EXCL) !== 0;
  const creating = (sftpFlags & SFTP_OPEN.CREAT) !== 0;
  const attrs = creating && mode !== undefined ? { mode: mode & 0o7777 } : {};
  return {
    name: 'open',
    path,
    // Re-opening with O_CREAT or O_TRUNC gives the same result (nobody has the file yet); only O_EXCL is not idempotent.
    policy: exclusive ? 'guarded' : 'idempotent',
    async run({ conn, epoch, afterLoss }: Attempt) {
      const sftp = conn.sftp;
      const opened = (handle: Buffer): OpenResult => ({ handle, epoch, limits: conn.limits });
      try {
        return opened(await wire.open(sftp, remote, sftpFlags, attrs));
      } catch (err) {
        if (!isAmbiguous(err)) return rethrowMapped(err, path);
        const there = await probe(sftp, remote);
        if (there && exclusive && afterLoss && isRegular(there.mode) && there.size === 0) {
          // Our first O_EXCL create landed before the drop.
          return opened(await wire.open(sftp, remote, sftpFlags & ~(SFTP_OPEN.EXCL | SFTP_OPEN.TRUNC), {}).catch((e: unknown) => rethrowMapped(e, path)));
        }
        if (there && exclusive) throw fsError('EEXIST', path, 'open', err);
        if (there && isDir(there.mode) && (sftpFlags & SFTP_OPEN.WRITE)) throw fsError('EISDIR', path, 'open', err);
        if (!there) throw await missingOrNotDir(sftp, remote, path, 'open', err);
        return rethrowMapped(err, path);
      }
    },
  };
}

export function mkdirOp(ctx: PathOpsContext, path: string, mode: number): Op<void> {
  const remote = remotePathOf(ctx.root, path);
  return {
    name: 'mkdir',
    path,
    policy: 'guarded',
    async run({ conn, afterLoss }) {
      try {
        await wire.mkdir(conn.sftp, remote, mode & 0o7777);
      } catch (err) {
        if (!isAmbiguous(err)) return rethrowMapped(err, path);
        const there = await probe(conn.sftp, remote);
        if (there && afterLoss && isDir(there.mode)) return; // our first mkdir landed before the drop
        if (there) throw fsError('EEXIST', path, 'mkdir', err);
        if (sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) throw await missingOrNotDir(conn.sftp, remote, path, 'mkdir', err);
        return rethrowMapped(err, path);
      }
    },
  };
}

export function rmdirOp(ctx: PathOpsContext, path: string): Op<void> {
  const remote = remotePathOf(ctx.root, path);
  return {
    name: 'rmdir',
    path,
    policy: 'guarded',
    async run({ conn, afterLoss }) {
      try {
        await wire.rmdir(conn.sftp, remote);
      } catch (err) {
        if (!isAmbiguous(err)) return rethrowMapped(err, path);
        const there = await probe(conn.sftp, remote);
        if (!there && afterLoss) return; // our first rmdir landed before the drop
        if (!there) throw await missingOrNotDir(conn.sftp, remote, path, 'rmdir', err);
        if (!isDir(there.mode)) throw fsError('ENOTDIR', path, 'rmdir', err);
        // A directory that rmdir(2) refused: not empty (EBUSY for a mount point is the rare other case).
        throw fsError('ENOTEMPTY', path, 'rmdir', err);
      }
    },
  };
}

export function unlinkOp(ctx: PathOpsContext, path: string): Op<void> {
  const remote = remotePathOf(ctx.root, path);
  return {
    name: 'unlink',
    path,
    policy: 'guarded',
    async run({ conn, afterLoss }) {
      try {
        await wire.unlink(conn.sftp, remote);
      } catch (err) {
        if (!isAmbiguous(err)) return rethrowMapped(err, path);
        const there = await probe(conn.sftp, remote);
        if (!there && afterLoss) return; // our first unlink landed before the drop
        if (!there) throw await missingOrNotDir(conn.sftp, remote, path, 'unlink', err);
        if (isDir(there.mode)) throw fsError('EISDIR', path, 'unlink', err);
        return rethrowMapped(err, path);
      }
    },
  };
}

export function renameOp(ctx: PathOpsContext, from: string, to: string): Op<void> {
  const rFrom = remotePathOf(ctx.root, from);
  const rTo = remotePathOf(ctx.root, to);
  return {
    name: 'rename',
    path: from,
    policy: 'guarded',
    async run({ conn, afterLoss }) {
      const sftp = conn.sftp;
      try {
        // posix-rename@openssh.com is rename(2): replaces `to` atomically. Plain SSH_FXP_RENAME refuses an
        // existing target (draft-02 §6.5), so it is only the fallback for servers without the extension.
        if (hasExtension(sftp, 'posix-rename@openssh.com')) await wire.posixRename(sftp, rFrom, rTo);
        else await wire.rename(sftp, rFrom, rTo);
      } catch (err) {
        if (!isAmbiguous(err)) return rethrowMapped(err, from);
        const [src, dst] = await Promise.all([probe(sftp, rFrom), probe(sftp, rTo)]);
        if (!src && dst && afterLoss) return; // our first rename landed before the drop
        if (!src) throw await missingOrNotDir(sftp, rFrom, from, 'rename', err);
        if (dst && isDir(src.mode) && !isDir(dst.mode)) throw fsError('ENOTDIR', to, 'rename onto', err);
        if (dst && !isDir(src.mode) && isDir(dst.mode)) throw fsError('EISDIR', to, 'rename onto', err);
        if (dst && isDir(src.mode) && isDir(dst.mode)) throw fsError('ENOTEMPTY', to, 'rename onto', err);
        if (!dst && sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) throw await missingOrNotDir(sftp, rTo, to, 'rename to', err);
        return rethrowMapped(err, from);
      }
    },
  };
}

export function symlinkOp(ctx: PathOpsContext, target: string, path: string): Op<void> {
  const remote = remotePathOf(ctx.root, path);
  return {
    name: 'symlink',
    path,
    policy: 'guarded',
    async run({ conn, afterLoss }) {
      try {
        // `target` is stored verbatim (relative targets stay relative), as symlink(2).
        await wire.symlink(conn.sftp, target, remote);
      } catch (err) {
        if (!isAmbiguous(err)) return rethrowMapped(err, path);
        const there = await probe(conn.sftp, remote);
        if (there && afterLoss && isSymlink(there.mode) && (await wire.readlink(conn.sftp, remote).catch(() => null)) === target) return;
        if (there) throw fsError('EEXIST', path, 'symlink', err);
        throw await missingOrNotDir(conn.sftp, remote, path, 'symlink', err);
      }
    },
  };
}

export function linkOp(ctx: PathOpsContext, existing: string, path: string): Op<void> {
  const rExisting = remotePathOf(ctx.root, existing);
  const remote = remotePathOf(ctx.root, path);
  return {
    name: 'link',
    path,
    policy: 'guarded',
    async run({ conn, afterLoss }) {
      const sftp = conn.sftp;
      if (!hasExtension(sftp, 'hardlink@openssh.com')) throw fsError('EOPNOTSUPP', path, 'link (server lacks hardlink@openssh.com)');
      try {
        await wire.hardlink(sftp, rExisting, remote);
      } catch (err) {
        if (!isAmbiguous(err)) return rethrowMapped(err, path);
        const [src, dst] = await Promise.all([probe(sftp, rExisting), probe(sftp, remote)]);
        const same = (a: Attributes, b: Attributes) =>
          a.mode === b.mode && a.size === b.size && a.mtime === b.mtime && a.uid === b.uid && a.gid === b.gid;
        if (src && dst && afterLoss && same(src, dst)) return; // our first link landed before the drop
        if (dst) throw fsError('EEXIST', path, 'link', err);
        if (!src) throw await missingOrNotDir(sftp, rExisting, existing, 'link from', err);
        throw await missingOrNotDir(sftp, remote, path, 'link', err);
      }
    },
  };
}

export function setattrOp(ctx: PathOpsContext, path: string, attrs: SetAttr): Op<void> {
  const remote = remotePathOf(ctx.root, path);
  return {
    name: 'setattr',
    path,
    policy: 'idempotent',
    async run({ conn }) {
      const sftp = conn.sftp;
      try {
        // SFTP v3 ATTRS carry uid+gid and atime+mtime only in pairs (draft-02 §5): fill the missing half.
        const needsCurrent =
          (attrs.uid === undefined) !== (attrs.gid === undefined) || (attrs.atimeMs === undefined) !== (attrs.mtimeMs === undefined);
        const current = needsCurrent ? await wire.stat(sftp, remote) : undefined;
        const seconds = (ms: number | undefined, fallback: number | undefined) =>
          ms !== undefined ? Math.floor(ms / 1000) : fallback;
        await wire.setstat(sftp, remote, {
          ...(attrs.size !== undefined ? { size: attrs.size } : {}),
          ...(attrs.mode !== undefined ? { mode: attrs.mode & 0o7777 } : {}),
          ...(attrs.uid !== undefined || attrs.gid !== undefined
            ? { uid: attrs.uid ?? current?.uid, gid: attrs.gid ?? current?.gid }
            : {}),
          ...(attrs.atimeMs !== undefined || attrs.mtimeMs !== undefined
            ? { atime: seconds(attrs.atimeMs, current?.atime), mtime: seconds(attrs.mtimeMs, current?.mtime) }
            : {}),
        });
      } catch (err) {
        if (sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) throw await missingOrNotDir(sftp, remote, path, 'setattr', err);
        if (sftpStatusOf(err) === SFTP_STATUS.PERMISSION_DENIED) throw fsError('EPERM', path, 'setattr', err); // chmod/chown/utimes(2) say EPERM
        return rethrowMapped(err, path);
      }
    },
  };
}

/** When the server lacks statvfs@openssh.com: a roomy file system, so `df` and free-space checks do not refuse to write. */
const FALLBACK_STATFS: StatFs = Object.freeze({
  bsize: 4096, frsize: 4096, blocks: 2 ** 28, bfree: 2 ** 27, bavail: 2 ** 27,
  files: 2 ** 24, ffree: 2 ** 23, favail: 2 ** 23, namemax: 255,
});

export function statfsOp(ctx: PathOpsContext, path: string): Op<StatFs> {
  const remote = remotePathOf(ctx.root, path);
  return {
    name: 'statfs',
    path,
    policy: 'idempotent',
    async run({ conn }) {
      if (!hasExtension(conn.sftp, 'statvfs@openssh.com')) return FALLBACK_STATFS;
      try {
        return await wire.statvfs(conn.sftp, remote);
      } catch (err) {
        return rethrowMapped(err, path);
      }
    },
  };
}
