/**
 * Where control sockets live: `${XDG_RUNTIME_DIR:-/tmp}/devmount-<uid>/`, mode 0700 and owned by us, so only
 * this user can talk to their mounts. One socket per mount point, named by a hash of its absolute path (Unix
 * socket paths are limited to 108 bytes, see unix(7)).
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

export function controlDir(env: NodeJS.ProcessEnv = process.env): string {
  const uid = process.getuid?.() ?? 0;
  return join(env.XDG_RUNTIME_DIR || '/tmp', `devmount-${uid}`);
}

export function socketPathFor(mountpoint: string, dir: string = controlDir()): string {
  const digest = createHash('sha256').update(mountpoint).digest('hex').slice(0, 24);
  return join(dir, `${digest}.sock`);
}

/** Creates the directory (0700) or checks an existing one is ours and private; throws otherwise. */
export async function ensureControlDir(dir: string = controlDir()): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const uid = process.getuid?.() ?? st.uid;
  if (!st.isDirectory() || st.uid !== uid) {
    throw new Error(`${dir} is not a directory owned by uid ${uid}: remove it so devmount can create its control directory`);
  }
  // A directory made by an older run with a looser umask is tightened rather than trusted.
  if ((st.mode & 0o077) !== 0) await chmod(dir, 0o700);
  return dir;
}
