/**
 * What is mounted where (from /proc/self/mounts), and how to unmount a FUSE mount safely: always through
 * execFile with the path as one argument, never through a shell (fuse-native's own `Fuse.unmount` builds a
 * shell string from the path).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface MountEntry {
  readonly source: string;
  readonly mountpoint: string;
  readonly fstype: string;
  readonly options: string;
}

/** /proc/mounts escapes space, tab, newline and backslash as octal (\040 …): see proc(5), getmntent(3). */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

export function parseMounts(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.split(' ');
    if (fields.length < 4) continue;
    entries.push({
      source: unescapeMountField(fields[0] as string),
      fstype: fields[2] as string,
      mountpoint: unescapeMountField(fields[1] as string),
      options: fields[3] as string,
    });
  }
  return entries;
}

export async function readMounts(): Promise<MountEntry[]> {
  return parseMounts(await readFile('/proc/self/mounts', 'utf8'));
}

/** The mount whose mount point is exactly `path` (absolute, resolved), if any. */
export async function findMount(path: string): Promise<MountEntry | undefined> {
  const mounts = await readMounts();
  // The last entry wins: mounts stacked on the same directory are listed in mount order.
  return mounts.filter((m) => m.mountpoint === path).pop();
}

export function isFuseMount(entry: MountEntry): boolean {
  return entry.fstype === 'fuse' || entry.fstype.startsWith('fuse.');
}

export interface UnmountOptions {
  /** Detach even when busy (umount -l / fusermount3 -uz): for stale "Transport endpoint is not connected" mounts. */
  readonly lazy?: boolean;
}

/**
 * Unmounts `path`: fusermount3 -u (works for the mounting user without root), then fusermount -u (FUSE 2 hosts),
 * then umount(8) when root. Rejects with the last tool's message when everything failed.
 */
export async function unmountPath(path: string, options: UnmountOptions = {}): Promise<void> {
  const lazyFlag = options.lazy ? ['-z'] : [];
  const attempts: Array<[string, string[]]> = [
    ['fusermount3', ['-u', ...lazyFlag, '--', path]],
    ['fusermount', ['-u', ...lazyFlag, '--', path]],
  ];
  if (process.getuid?.() === 0) attempts.push(['umount', [...(options.lazy ? ['-l'] : []), '--', path]]);
  let lastError: unknown;
  for (const [command, args] of attempts) {
    try {
      await execFileAsync(command, args, { timeout: 30_000 });
      return;
    } catch (err) {
      // Try the next tool: fusermount3 may be missing (FUSE 2 host) or refuse (busy); the last error is reported.
      lastError = err;
    }
  }
  const stderr = (lastError as { stderr?: string } | undefined)?.stderr?.trim();
  throw new Error(stderr || (lastError instanceof Error ? lastError.message : String(lastError)));
}
