/**
 * Which filesystem a directory sits on, read from /proc/self/mountinfo (proc(5)): inotify only sees changes
 * made through this kernel, so a directory on FUSE (sshfs, devmount) or a network filesystem must be polled
 * to notice edits made on the server side. Async on purpose: a sync read here could deadlock when the caller
 * itself serves the FUSE mount.
 */
import { readFile } from 'node:fs/promises';

const NETWORK_FS = /^(fuse(\..*)?|fuseblk|sshfs|nfs\d?|cifs|smb\d?|smbfs|9p|afs|ceph|glusterfs|davfs|virtiofs|lustre|gpfs)$/;

/** The fs type of the mount holding `absPath` (already realpath'd), or null when mountinfo is unreadable. */
export async function filesystemTypeOf(absPath: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile('/proc/self/mountinfo', 'utf8');
  } catch {
    // Not Linux, or /proc not mounted: the caller falls back to native events.
    return null;
  }
  let best = '';
  let bestType: string | null = null;
  for (const line of text.split('\n')) {
    // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue" (proc(5))
    const dash = line.indexOf(' - ');
    if (dash === -1) continue;
    const left = line.slice(0, dash).split(' ');
    const mountPoint = unescapeMountinfo(left[4] ?? '');
    const fsType = line.slice(dash + 3).split(' ')[0] ?? '';
    const inside = absPath === mountPoint || absPath.startsWith(mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`);
    if (inside && mountPoint.length >= best.length) {
      best = mountPoint;
      bestType = fsType;
    }
  }
  return bestType;
}

export function isNetworkFilesystem(fsType: string | null): boolean {
  return fsType !== null && NETWORK_FS.test(fsType);
}

/** mountinfo escapes space, tab, newline and backslash as octal (\040 …). */
function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}
