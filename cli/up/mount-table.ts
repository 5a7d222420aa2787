/**
 * Which directories are mount points right now, and whether a mount there still answers.
 * Linux: /proc/self/mounts (proc(5); fields are space-separated with space, tab, newline and backslash written
 * as octal escapes such as \040). macOS: the output of mount(8), "SOURCE on PATH (TYPE, …)".
 * All async: a synchronous call on a dead FUSE mount would block this process.
 */
import { execFile } from 'node:child_process';
import { readFile, realpath, statfs } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { findLiveMount } from '../control/registry.js';

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

export type MountPointState = 'unmounted' | 'mounted' | 'stale';

// How long a mount may take to answer statfs before it counts as hung.
const PROBE_TIMEOUT_MS = 5_000;

/** Errors of a FUSE mount whose process is gone: the kernel aborted the connection (sshfs#202's leftover). */
const DEAD_MOUNT_ERRORS: ReadonlySet<string> = new Set(['ENOTCONN', 'ECONNABORTED']);

async function answersStatfs(path: string): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => { timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS); });
  // statfs, not stat: the kernel may answer stat of the mount root from its attribute cache after the daemon
  // died, but statfs always goes to the file system.
  const probe = statfs(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => !DEAD_MOUNT_ERRORS.has(err.code ?? ''),
  );
  try {
    return await Promise.race([probe, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether something is mounted on `mountpoint`, and whether it still works: a devmount daemon answering on its
 * control socket, or any other mount answering statfs, is 'mounted'; a mount with a dead or hung process is
 * 'stale' and must be unmounted before anything can be mounted there again.
 */
export async function mountPointState(mountpoint: string, points: ReadonlySet<string>): Promise<MountPointState> {
  const path = await canonicalPath(mountpoint);
  if (!points.has(path)) return 'unmounted';
  if (await findLiveMount(mountpoint) !== undefined || (path !== mountpoint && await findLiveMount(path) !== undefined)) return 'mounted';
  return await answersStatfs(path) ? 'mounted' : 'stale';
}

/** Waits (bounded: 5 s) until the mount table no longer lists `mountpoint`; false if it still does. */
export async function waitUntilUnmounted(mountpoint: string): Promise<boolean> {
  const path = await canonicalPath(mountpoint);
  for (let i = 0; i < 50; i++) {
    if (!(await mountPoints()).has(path)) return true;
    await new Promise((resolve) => { setTimeout(resolve, 100); });
  }
  return false;
}
