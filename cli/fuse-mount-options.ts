/**
 * MountOptions (the `-o` spellings) → the FUSE adapter's options: one translation, used by `devmount mount`
 * and by the private mount `serve user@host:path` makes for php-cgi.
 */
import type { FuseAdapterOptions } from '../fs/fuse/adapter.js';
import type { Attr } from '../fs/vfs/types.js';
import type { MountOptions } from './mount-options.js';

export interface FuseMountTarget {
  readonly mountpoint: string;
  /** The remote root as the server names it (absolute): transform_symlinks makes targets relative to it. */
  readonly remoteRoot: string;
  readonly fsname: string;
  readonly allowOther: boolean;
  readonly debug?: boolean;
  readonly log?: FuseAdapterOptions['log'];
}

export function fuseAdapterOptions(options: MountOptions, remoteRoot: Attr, target: FuseMountTarget): FuseAdapterOptions {
  const { remoteRoot: remoteRootPath, ...adapterTarget } = target;
  return {
    ...adapterTarget,
    readOnly: options.readOnly,
    symlinks: Object.freeze({ contain: options.containSymlinks, transform: options.transformSymlinks, remoteRoot: remoteRootPath }),
    attrTimeout: options.attrTimeout,
    entryTimeout: options.entryTimeout,
    opTimeoutMs: options.opTimeout * 1000,
    ownership: {
      idmap: options.idmap,
      // As sshfs's idmap=user does, the owner of the remote directory is taken to be the remote user.
      remoteUid: remoteRoot.uid,
      remoteGid: remoteRoot.gid,
      localUid: process.getuid?.() ?? 0,
      localGid: process.getgid?.() ?? 0,
      uid: options.uid,
      gid: options.gid,
      umask: options.umask,
    },
  };
}
