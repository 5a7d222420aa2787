/**
 * Which snapshots a retention policy keeps, as restic's `forget --keep-*` and rsnapshot's retain levels: the
 * newest N; the newest snapshot of each of the last D days / W ISO weeks / M months that have one. A snapshot
 * kept by any rule stays. With no rule at all, everything stays.
 */
import type { RetentionPolicy } from './types.js';

export interface DatedSnapshot {
  readonly name: string;
  readonly date: Date;
}

function dayKey(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function monthKey(d: Date): string {
  return d.toISOString().slice(0, 7);
}

/** ISO 8601 week (weeks start on Monday; week 1 holds the year's first Thursday). */
function weekKey(d: Date): string {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dayNum = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - dayNum);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

export function hasRetention(policy: RetentionPolicy): boolean {
  return [policy.keepLast, policy.keepDaily, policy.keepWeekly, policy.keepMonthly].some((n) => n !== undefined);
}

/** Returns the names to delete. The newest snapshot is always kept. */
export function snapshotsToPrune(snapshots: readonly DatedSnapshot[], policy: RetentionPolicy): string[] {
  if (!hasRetention(policy) || snapshots.length === 0) return [];
  const newestFirst = [...snapshots].sort((a, b) => b.date.getTime() - a.date.getTime());
  const keep = new Set<string>([newestFirst[0]!.name]);
  newestFirst.slice(0, policy.keepLast ?? 0).forEach((s) => keep.add(s.name));
  const byBucket = (count: number | undefined, key: (d: Date) => string) => {
    if (!count) return;
    const seen = new Set<string>();
    for (const s of newestFirst) {
      const k = key(s.date);
      if (seen.has(k)) continue;
      if (seen.size >= count) break;
      seen.add(k);
      keep.add(s.name);
    }
  };
  byBucket(policy.keepDaily, dayKey);
  byBucket(policy.keepWeekly, weekKey);
  byBucket(policy.keepMonthly, monthKey);
  return newestFirst.filter((s) => !keep.has(s.name)).map((s) => s.name);
}
