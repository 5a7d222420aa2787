/**
 * Ownership and permission mapping between the remote server and the local kernel, as sshfs(1) and
 * mount.fuse(8) define the options: `idmap=user` shows files owned by the remote user as owned by the local
 * user (and maps chown back); `uid=`/`gid=` show every file as owned by that id; `umask=` replaces the
 * permission bits with 0777 & ~umask (libfuse's `umask` option: fuse.c `set_mode`). Chosen once at mount time.
 */
import { fileType } from '../posix.js';
import type { Attr } from '../types.js';
import type { NativeStat } from './native.js';

export interface OwnershipOptions {
  readonly idmap: 'user' | 'none';
  /** The remote user's uid/gid (sshfs detects them from the remote directory's owner). Needed for idmap=user. */
  readonly remoteUid?: number | undefined;
  readonly remoteGid?: number | undefined;
  /** The local user's uid/gid (process.getuid()/getgid()). */
  readonly localUid: number;
  readonly localGid: number;
  readonly uid?: number | undefined;
  readonly gid?: number | undefined;
  readonly umask?: number | undefined;
}

export interface AttrMapper {
  toNative(attr: Attr): NativeStat;
  /** Local ids from chown(2) → the ids to set on the server. 0xffffffff (-1: "leave unchanged") passes through. */
  toRemoteIds(uid: number, gid: number): { uid: number; gid: number };
}

const UNCHANGED = 0xffff_ffff; // (uid_t)-1 from chown(2): do not change this id
/** st_blksize tells cp/cat how big their reads and writes should be: match the 128 KiB big_writes chunks. */
const PREFERRED_IO_SIZE = 128 * 1024;

export function createAttrMapper(options: OwnershipOptions): AttrMapper {
  const o = Object.freeze({ ...options });
  const mapUser = o.idmap === 'user' && o.remoteUid !== undefined;
  const mapGroup = o.idmap === 'user' && o.remoteGid !== undefined;
  const uidOf = (remote: number): number => {
    if (o.uid !== undefined) return o.uid;
    if (mapUser && remote === o.remoteUid) return o.localUid;
    return remote;
  };
  const gidOf = (remote: number): number => {
    if (o.gid !== undefined) return o.gid;
    if (mapGroup && remote === o.remoteGid) return o.localGid;
    return remote;
  };
  const modeOf = o.umask === undefined
    ? (mode: number) => mode
    : (mode: number) => fileType(mode) | (0o777 & ~(o.umask as number));
  return {
    toNative(attr) {
      return {
        mode: modeOf(attr.mode),
        uid: uidOf(attr.uid),
        gid: gidOf(attr.gid),
        size: attr.size,
        nlink: attr.nlink > 0 ? attr.nlink : 1,
        ino: 0, // libfuse 2's high-level API assigns its own inode numbers unless use_ino is set
        blksize: PREFERRED_IO_SIZE,
        blocks: Math.ceil(attr.size / 512),
        atime: attr.atimeMs,
        mtime: attr.mtimeMs,
        ctime: attr.ctimeMs,
      };
    },
    toRemoteIds(uid, gid) {
      return {
        uid: uid !== UNCHANGED && mapUser && uid === o.localUid ? (o.remoteUid as number) : uid,
        gid: gid !== UNCHANGED && mapGroup && gid === o.localGid ? (o.remoteGid as number) : gid,
      };
    },
  };
}
