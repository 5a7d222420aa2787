/**
 * The FUSE adapter options of the tests that count who answered a request (the fast-files table on libfuse's
 * threads, or JavaScript): the kernel's own attribute and entry caches off (0 s), so every stat and open reaches
 * the file system.
 */
import type { FuseAdapterOptions } from '../../fs/fuse/adapter.js';

export function kernelCachesOffOptions(mountpoint: string, extra: Partial<FuseAdapterOptions> = {}): FuseAdapterOptions {
  return {
    mountpoint,
    fsname: 'tester@127.0.0.1:/site',
    readOnly: false,
    allowOther: false,
    attrTimeout: 0,
    entryTimeout: 0,
    opTimeoutMs: 30_000,
    ownership: { idmap: 'none', localUid: 0, localGid: 0 },
    ...extra,
  };
}
