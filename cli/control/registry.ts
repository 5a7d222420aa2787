/**
 * The registry of live mounts: every socket in the control directory whose daemon answers `status`. Sockets
 * nobody listens on any more (a daemon killed with SIGKILL) are removed on the way. `devmount status`,
 * `unmount`, `refresh` and `up/down` all find mounts here.
 */
import { readdir, rm } from 'node:fs/promises';
import { join, relative, isAbsolute } from 'node:path';
import { sendControlRequest, StaleSocketError } from './client.js';
import { controlDir, socketPathFor } from './paths.js';
import type { MountStatus } from './protocol.js';

export interface LiveMount extends MountStatus {
  readonly socketPath: string;
}

async function query(socketPath: string): Promise<LiveMount | undefined> {
  try {
    const reply = await sendControlRequest(socketPath, { op: 'status' }, 5_000);
    if (reply.ok && reply.status) return { ...reply.status, socketPath };
    return undefined;
  } catch (err) {
    if (err instanceof StaleSocketError) {
      await rm(socketPath, { force: true });
      return undefined;
    }
    // Alive but not answering in time (busy or hung): not listed, and its socket is left alone.
    return undefined;
  }
}

export async function listLiveMounts(dir: string = controlDir()): Promise<LiveMount[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []; // no mount ever ran for this user
    throw err;
  }
  const found = await Promise.all(names.filter((n) => n.endsWith('.sock')).map((n) => query(join(dir, n))));
  return found.filter((m): m is LiveMount => m !== undefined).sort((a, b) => a.mountpoint.localeCompare(b.mountpoint));
}

/** The live mount at exactly `mountpoint` (absolute), if its daemon answers. */
export async function findLiveMount(mountpoint: string, dir: string = controlDir()): Promise<LiveMount | undefined> {
  const mount = await query(socketPathFor(mountpoint, dir));
  return mount && mount.mountpoint === mountpoint ? mount : undefined;
}

/** The live mount whose tree contains `path` (absolute), and the path inside it ('/' for the mount root). */
export async function findMountContaining(path: string, dir: string = controlDir()): Promise<{ mount: LiveMount; inner: string } | undefined> {
  const mounts = await listLiveMounts(dir);
  let best: { mount: LiveMount; inner: string } | undefined;
  for (const mount of mounts) {
    const rel = relative(mount.mountpoint, path);
    if (rel.startsWith('..') || isAbsolute(rel)) continue;
    if (!best || mount.mountpoint.length > best.mount.mountpoint.length) {
      best = { mount, inner: rel === '' ? '/' : `/${rel.split('\\').join('/')}` };
    }
  }
  return best;
}
