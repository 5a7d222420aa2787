/**
 * Which directories are mount points right now, and whether a mount there still answers.
 * Linux: /proc/self/mounts (proc(5); fields are space-separated with space, tab, newline and backslash written
 * as octal escapes such as \040). macOS: the output of mount(8), "SOURCE on PATH (TYPE, …)".
 * All async: a synchronous call on a dead FUSE mount would block this process.
 */
import { execFile } from 'node:child_process';
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8)));
}

export function parseProcMounts(text: string): Set<string> {
  const points = new Set<string>();
  for (const line of text.split('\n')) {
    const field = line.split(' ')[1];
    if (field !== undefined && field !== '') points.add(unescapeMountField(field));
  }
  return points;
}

export function parseMacMountOutput(text: string): Set<string> {
  const points = new Set<string>();
  for (const line of text.split('\n')) {
    const match = / on (.+) \([^()]*\)$/.exec(line);
    if (match?.[1] !== undefined) points.add(match[1]);
  }
  return points;
}

export async function mountPoints(): Promise<Set<string>> {
  if (process.platform === 'linux') return parseProcMounts(await readFile('/proc/self/mounts', 'utf8'));
  const { stdout } = await execFileAsync('mount', [], { encoding: 'utf8' });
  return parseMacMountOutput(stdout);
}

export type MountPointState = 'unmounted' | 'mounted' | 'stale';

// A mount whose server side is gone answers stat with ENOTCONN ("Transport endpoint is not connected", the
// sshfs#202 leftover); a hung one may not answer at all: treat no answer within this time as stale too.
const STAT_TIMEOUT_MS = 5_000;

/**
 * The path as the mount table spells it (symlinks resolved). Only the parent is resolved: the mount point
 * itself may be a dead mount that fails every lookup.
 */
export async function canonicalPath(path: string): Promise<string> {
  try {
    return join(await realpath(dirname(path)), basename(path));
  } catch {
    return path; // the parent does not exist yet: nothing can be mounted there
  }
}

export async function mountPointState(mountpoint: string, points: ReadonlySet<string>): Promise<MountPointState> {
  const path = await canonicalPath(mountpoint);
  if (!points.has(path)) return 'unmounted';
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'stale'>((resolve) => { timer = setTimeout(() => resolve('stale'), STAT_TIMEOUT_MS); });
  const probe = stat(path).then(
    () => 'mounted' as const,
    (err: NodeJS.ErrnoException) => (err.code === 'ENOTCONN' || err.code === 'EIO' ? 'stale' as const : 'mounted' as const),
  );
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
