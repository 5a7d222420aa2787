/**
 * MountOptions (the `-o` spellings) → the FUSE adapter's options: one translation, used by `devmount mount`
 * and by the private mount `serve user@host:path` makes for php-cgi.
 */
import type { FuseAdapterOptions } from '../fs/fuse/adapter.js';
import type { Attr } from '../fs/vfs/types.js';
import type { MountOptions } from './mount-options.js';

export interface FuseMountTarget {
  readonly mountpoint: string;
  readonly fsname: string;
  readonly allowOther: boolean;
  readonly debug?: boolean;
  readonly log?: FuseAdapterOptions['log'];
}

export function fuseAdapterOptions(options: MountOptions, remoteRoot: Attr, target: FuseMountTarget): FuseAdapterOptions {
  return {
    ...target,
    readOnly: options.readOnly,
    attrTimeout: options.attrTimeout,
    entryTimeout: options.entryTimeout,
    // With cache=no nothing tells the kernel of a change: its copy must expire on its own (libfuse's 1 s).
    cacheTimeouts: options.cache ? { attr: options.cacheTimeout, entry: options.dcacheTimeout } : undefined,
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
