/**
 * An in-process FUSE mount of a Vfs whose kernel attribute and entry timeouts are 300 s, for the tests that show
 * the kernel's and the binding's copies are invalidated rather than expired (fuse-kernel-cache,
 * fuse-native-dirs, fuse-negative-lookups): only asynchronous fs calls may touch it, since this process serves it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountVfs, type FuseMount } from '../../fs/fuse/adapter.js';
import { createSftpRemoteFs } from '../../fs/sftp/remote-fs.js';
import type { Vfs } from '../../fs/vfs/types.js';
import { createVfs } from '../../fs/vfs/vfs.js';
import { harnessConnector } from '../harness/connect.js';
import type { Sshd } from '../harness/sshd.js';

export const KERNEL_TIMEOUT_S = 300;
/** The caches' TTLs in these tests: as long as the kernel's, so only an invalidation can make a change seen. */
export const CACHE_TTL_MS = KERNEL_TIMEOUT_S * 1000;

/** A VFS over the test sshd's root whose attributes, listings and absent names stay fresh for CACHE_TTL_MS. */
export async function longCachedVfs(sshd: Sshd, now?: () => number): Promise<Vfs> {
  const sftp = await createSftpRemoteFs(harnessConnector(sshd), sshd.root);
  return createVfs(sftp, {
    cache: { attrTimeoutMs: CACHE_TTL_MS, dirTimeoutMs: CACHE_TTL_MS, negativeTimeoutMs: CACHE_TTL_MS, ...(now ? { now } : {}) },
  });
}

export interface LongKernelMount {
  readonly mount: FuseMount;
  readonly mountpoint: string;
  /** Unmounts and removes the mount point. */
  close(): Promise<void>;
}

export async function mountWithLongKernelTimeouts(vfs: Vfs, prefix: string): Promise<LongKernelMount> {
  const mountpoint = await mkdtemp(join(tmpdir(), prefix));
  const mount = await mountVfs(vfs, {
    mountpoint,
    fsname: 'tester@127.0.0.1:/site',
    readOnly: false,
    allowOther: false,
    attrTimeout: KERNEL_TIMEOUT_S,
    entryTimeout: KERNEL_TIMEOUT_S,
    opTimeoutMs: 30_000,
    ownership: { idmap: 'none', localUid: 0, localGid: 0 },
  });
  return {
    mount,
    mountpoint,
    async close() {
      await mount.unmount();
      await rm(mountpoint, { recursive: true, force: true });
    },
  };
}

/**
 * The kernel's invalidation is queued for the binding's own thread, so it lands a moment after the call that
 * queued it: polls `read` until it gives `want` or 2 s have passed, and returns the last value.
 */
export async function eventuallyEqual<T>(read: () => Promise<T>, want: T): Promise<T> {
  let last = await read();
  for (let i = 0; i < 40 && last !== want; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    last = await read();
  }
  return last;
}
