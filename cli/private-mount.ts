/**
 * A private FUSE mount of the VFS for `devmount serve user@host:/path` when PHP or CGI scripts must run:
 * php-cgi is another process and needs a real path it can open. The mount lives in a fresh 0700
 * temporary directory, is served by this same process, and is removed when the server stops. This does not
 * deadlock because the dev server never touches the mount itself (it reads the VFS directly, asynchronously);
 * only php-cgi does, and this process keeps answering FUSE while php-cgi waits.
 * Chosen over a synced cache directory: no copy of the whole site, no sync lag, writes made by scripts
 * (uploads, caches) go straight to the server as they would on the real host.
 */
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { WatchedClock } from '../fs/cache/watched-clock.js';
import { mountVfs, type FuseAdapterOptions, type FuseMount } from '../fs/fuse/adapter.js';
import type { Vfs } from '../fs/vfs/types.js';
import { fuseAdapterOptions } from './fuse-mount-options.js';
import type { MountOptions } from './mount-options.js';

export interface PrivateMount {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * The mount options of the private mount: the serve's own, with default_permissions, and every file shown as
 * owned by this user unless uid=/gid= say otherwise.
 * Why: without default_permissions the kernel sends every access(2) to the file system (fuse_permission() in
 * the kernel's fs/fuse/dir.c asks the daemon with FUSE_ACCESS), and PHP calls access(2) for each is_readable(),
 * is_writable() and is_executable(): 205 of the 437 requests that reached JavaScript per WordPress front page,
 * each a hand-off to the thread that also carries the page's database round trips. With it the kernel answers
 * from the attributes it holds. The owner is this user because the adapter's own answer was "it exists" (the
 * server enforces permissions on the writes themselves): with the owner bits checked, a site file owned by
 * another server account (www-data) is not refused locally when the server would allow it through a group;
 * only php-cgi, running as this user, uses the mount (0700, no allow_other).
 */
export function privateMountOptions(options: MountOptions): MountOptions {
  const uid = options.uid ?? process.getuid?.();
  const gid = options.gid ?? process.getgid?.();
  return Object.freeze({ ...options, defaultPermissions: true, uid, gid });
}

/** `ttlClock`: the caches' TTL clock (MountStackParts.clock), so the mount's fast-files table follows it. */
export async function mountPrivately(vfs: Vfs, remoteRoot: string, options: MountOptions, description: string, log: Logger, ttlClock?: WatchedClock): Promise<PrivateMount> {
  const dir = await mkdtemp(join(tmpdir(), 'devmount-serve-')); // mode 0700 (mkdtemp(3))
  const root = await vfs.getattr('/');
  const adapterOptions = fuseAdapterOptions(privateMountOptions(options), root, {
    mountpoint: dir,
    remoteRoot,
    fsname: description,
    allowOther: false,
    log: log.child({ layer: 'fuse' }),
    ...(ttlClock ? { ttlClock } : {}),
  });
  let mount;
  try {
    mount = await mountSelfRemoving(vfs, adapterOptions, log);
  } catch (err) {
    await rmdir(dir).catch(() => undefined); // best effort: the mount error is what the user needs to see
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    path: dir,
    close() {
      closing ??= (async () => {
        // A php-cgi worker may still hold a file open: detach lazily (umount -l) rather than leave it mounted.
        await mount.unmount().catch(() => mount.unmount({ lazy: true })).catch((err: unknown) => {
          log.warn({ err: (err as Error).message, mountpoint: dir }, 'could not unmount the private PHP mount');
        });
        await rmdir(dir).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not remove the private mount directory'));
      })();
      return closing;
    },
  };
}

/**
 * The private mount with libfuse's auto_unmount (mount.fuse3(8)): fusermount3 unmounts it when this process dies,
 * even by SIGKILL, which no closer sees — a user's /tmp would otherwise keep a dead mount ("Transport endpoint is
 * not connected") per killed server. Without fusermount3 (auto_unmount needs it) the mount is made without it.
 */
async function mountSelfRemoving(vfs: Vfs, options: FuseAdapterOptions, log: Logger): Promise<FuseMount> {
  const extraOptions = options.extraOptions ?? [];
  if (extraOptions.includes('auto_unmount')) return mountVfs(vfs, options);
  try {
    return await mountVfs(vfs, { ...options, extraOptions: [...extraOptions, 'auto_unmount'] });
  } catch (err) {
    log.info({ err: (err as Error).message }, 'private PHP mount: auto_unmount refused (is fusermount3 installed?); mounting without it');
    return mountVfs(vfs, options);
  }
}
