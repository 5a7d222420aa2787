/**
 * `devmount unmount MOUNTPOINT`: asks the mount's own process to unmount and exit (so buffered writes are
 * flushed), or cleans up a dead mount ("Transport endpoint is not connected", sshfs#202) left by a process
 * that is gone. Also accepts a mount made by sshfs or anything else FUSE.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { findMount, isFuseMount, unmountPath } from '../../fs/fuse/mount-table.js';
import { sendControlRequest } from '../control/client.js';
import { findLiveMount } from '../control/registry.js';
import { UserError } from '../user-error.js';

/** Waits (bounded) until the kernel no longer lists the mount: the daemon unmounts before it answers, but be sure. */
async function waitUntilGone(mountpoint: string): Promise<boolean> {
  for (let i = 0; i < 50; i++) {
    if (!(await findMount(mountpoint))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export async function unmountCommand(mountpointArg: string, flags: { lazy?: boolean }): Promise<string> {
  const mountpoint = resolve(mountpointArg);
  const live = await findLiveMount(mountpoint);
  if (live) {
    const reply = await sendControlRequest(live.socketPath, { op: 'unmount' }, 60_000);
    if (reply.ok) {
      if (!(await waitUntilGone(mountpoint))) throw new UserError('failure', `${mountpoint} is still mounted after the mount process stopped`);
      return `unmounted ${mountpoint}`;
    }
    if (!flags.lazy) throw new UserError('failure', reply.error);
    // --lazy: detach even though busy; the daemon notices (its mount is gone) and exits after flushing.
  }
  const entry = await findMount(mountpoint);
  if (!entry) throw new UserError('mountpoint', `${mountpoint} is not mounted`);
  if (!isFuseMount(entry)) throw new UserError('mountpoint', `${mountpoint} is not a FUSE mount (${entry.fstype}): use umount`);
  try {
    await unmountPath(mountpoint, { lazy: live ? true : flags.lazy ?? false });
  } catch (err) {
    if (live || flags.lazy) throw new UserError('failure', `cannot unmount ${mountpoint}: ${(err as Error).message}`);
    // No process serves it (a crashed daemon, or sshfs killed): the mount is dead, detach it lazily.
    await unmountPath(mountpoint, { lazy: true }).catch((lazyErr: unknown) => {
      throw new UserError('failure', `cannot unmount ${mountpoint}: ${(lazyErr as Error).message}`);
    });
  }
  return live ? `detached ${mountpoint} (busy; it disappears once the last file is closed)` : `unmounted ${mountpoint} (no devmount process was serving it)`;
}

export function register(program: Command): void {
  program
    .command('unmount')
    .alias('umount')
    .description('unmount a devmount mount (flushes pending writes); also cleans up a dead mount')
    .argument('<mountpoint>', 'the mount point')
    .option('--lazy', 'detach even when busy (umount -l)')
    .action(async (mountpoint: string, flags: { lazy?: boolean }) => {
      const message = await unmountCommand(mountpoint, flags);
      process.stdout.write(`${message}\n`);
    });
}
