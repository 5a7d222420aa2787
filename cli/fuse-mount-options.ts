/**
 * MountOptions (the `-o` spellings) → the FUSE adapter's options: one translation, used by `devmount mount`
 * and by the private mount `serve user@host:path` makes for php-cgi.
 */
import type { FuseAdapterOptions } from '../fs/fuse/adapter.js';
import type { Attr } from '../fs/types.js';
import type { MountOptions } from './mount-options.js';

export interface FuseMountTarget {
  readonly mountpoint: string;
  /** The remote root as the server names it (absolute): transform_symlinks makes targets relative to it. */
  readonly remoteRoot: string;
  readonly fsname: string;
  readonly allowOther: boolean;
  readonly debug?: boolean;
  readonly log?: FuseAdapterOptions['log'];
  /** The caches' TTL clock (MountStackParts.clock), which the fast-files table follows. */
  readonly ttlClock?: FuseAdapterOptions['ttlClock'];
}

/**
 * The libfuse / kernel options each MountOptions field stands for (fuse(8), mount(8)): one entry per option, so
 * the table is all that changes when the FUSE layer does.
 */
const LIBFUSE_OPTIONS: ReadonlyArray<(o: MountOptions) => readonly string[]> = Object.freeze([
  (o) => (o.defaultPermissions ? ['default_permissions'] : []),
  (o) => (o.kernelCache ? ['kernel_cache'] : []),
  (o) => (o.directIo ? ['direct_io'] : []),
  (o) => (o.maxRead !== undefined ? [`max_read=${o.maxRead}`] : []),
  (o) => o.mountFlags,
]);

export function libfuseOptionsFor(options: MountOptions): string[] {
  return LIBFUSE_OPTIONS.flatMap((entry) => entry(options));
}

export function fuseAdapterOptions(options: MountOptions, remoteRoot: Attr, target: FuseMountTarget): FuseAdapterOptions {
  const { remoteRoot: remoteRootPath, ...adapterTarget } = target;
  return {
    ...adapterTarget,
    fsname: options.fsname ?? adapterTarget.fsname,
    ...(options.subtype !== undefined ? { subtype: options.subtype } : {}),
    extraOptions: libfuseOptionsFor(options),
    disableHardlink: options.disableHardlink,
    readOnly: options.readOnly,
    symlinks: Object.freeze({ contain: options.containSymlinks, transform: options.transformSymlinks, remoteRoot: remoteRootPath }),
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
