/**
 * Checks made before connecting, so a bad mount point or a machine without FUSE fails at once with its own
 * exit code (README "Exit codes": 8 mount point, 9 FUSE) instead of after a connection, and nothing is mounted.
 */
import { open, opendir, stat } from 'node:fs/promises';
import { findMount } from '../fs/fuse/mount-table.js';
import { loadFuseNative } from '../fs/fuse/native.js';
import { UserError } from './user-error.js';

/** The mount point must exist, be a directory, not be mounted on, and be empty (libfuse 2 refuses otherwise). */
export async function checkMountpoint(mountpoint: string): Promise<void> {
  let st;
  try {
    st = await stat(mountpoint);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError('mountpoint', `mount point ${mountpoint} does not exist: create it first (mkdir -p ${mountpoint})`);
    if (code === 'ENOTCONN') {
      throw new UserError('mountpoint', `${mountpoint} is a dead mount ("Transport endpoint is not connected"): clean it up with devmount unmount ${mountpoint}`);
    }
    if (code === 'ENOTDIR') throw new UserError('mountpoint', `mount point ${mountpoint}: a parent is not a directory`);
    throw new UserError('mountpoint', `cannot use mount point ${mountpoint}: ${(err as Error).message}`);
  }
  if (!st.isDirectory()) throw new UserError('mountpoint', `mount point ${mountpoint} is not a directory: give an empty directory`);
  const mounted = await findMount(mountpoint);
  if (mounted) {
    throw new UserError('mountpoint', `${mountpoint} is already mounted (${mounted.source}, ${mounted.fstype}): unmount it first (devmount unmount ${mountpoint})`);
  }
  const dir = await opendir(mountpoint);
  try {
    if ((await dir.read()) !== null) {
      throw new UserError('mountpoint', `mount point ${mountpoint} is not empty: mounting would hide its files; use an empty directory`);
    }
  } finally {
    await dir.close();
  }
}

/** /dev/fuse must be openable and a FUSE binding loadable (native/fuse3, else fuse-native with libfuse.so.2). */
export async function checkFuseAvailable(device = '/dev/fuse'): Promise<void> {
  try {
    const fh = await open(device, 'r+');
    await fh.close();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new UserError('fuse', `FUSE is not available: cannot open ${device} (${code}); install fuse3 and load the module (modprobe fuse), or run where /dev/fuse is usable`);
  }
  try {
    loadFuseNative();
  } catch (err) {
    const first = (err instanceof Error ? err.message : String(err)).split('\n')[0];
    throw new UserError('fuse', `FUSE is not available: devmount's libfuse 3 binding was not built and fuse-native cannot load (${first}); reinstall with libfuse3-dev, pkg-config and a C compiler present (Debian: apt-get install libfuse3-dev pkg-config build-essential), or install libfuse2`);
  }
}
