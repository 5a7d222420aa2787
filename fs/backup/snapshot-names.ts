/**
 * Snapshot directory names: UTC timestamps in a form that sorts chronologically as text and has no ':'
 * (rsync and scp read "a:b" as host:path): 2026-11-23T050306Z.
 */
const NAME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
export const PARTIAL_PREFIX = '.partial-';
export const LATEST = 'latest';
export const LOCK_FILE = '.devmount-backup.lock';
export const TEMP_DIR = '.devmount-tmp';

export function snapshotName(date: Date): string {
  const iso = date.toISOString(); // 2026-11-23T05:03:06.123Z
  return `${iso.slice(0, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

export function parseSnapshotName(name: string): Date | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls over (month 13 → next year): only a name that formats back to itself is a real time.
  return Number.isNaN(date.getTime()) || snapshotName(date) !== name ? undefined : date;
}

/**
 * The name for a new snapshot: now, but always later than every existing one, so two runs within one second
 * (or a clock set back) never collide or sort before an older snapshot.
 */
export function nextSnapshotName(now: Date, existing: readonly string[]): string {
  let candidate = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const newest = existing.map(parseSnapshotName).filter((d): d is Date => d !== undefined)
    .reduce<number>((max, d) => Math.max(max, d.getTime()), -Infinity);
  if (candidate.getTime() <= newest) candidate = new Date(newest + 1000);
  return snapshotName(candidate);
}
