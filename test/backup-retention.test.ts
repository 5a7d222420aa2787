import { describe, expect, it } from 'vitest';
import { snapshotsToPrune } from '../fs/backup/retention.js';
import { nextSnapshotName, parseSnapshotName, snapshotName } from '../fs/backup/snapshot-names.js';

const at = (iso: string) => ({ name: snapshotName(new Date(iso)), date: new Date(iso) });

describe('snapshot names', () => {
  it('are UTC timestamps without colons that sort chronologically and parse back', () => {
    const name = snapshotName(new Date('2026-11-23T05:03:06.789Z'));
    expect(name).toBe('2026-11-23T050306Z');
    expect(parseSnapshotName(name)?.toISOString()).toBe('2026-11-23T05:03:06.000Z');
    expect(parseSnapshotName('latest')).toBeUndefined();
    expect(parseSnapshotName('2026-13-45T250000Z')).toBeUndefined();
  });

  it('never collide with or sort before an existing snapshot (two runs in one second, clock set back)', () => {
    const now = new Date('2026-11-23T05:03:06.100Z');
    expect(nextSnapshotName(now, ['2026-11-23T050306Z'])).toBe('2026-11-23T050307Z');
    expect(nextSnapshotName(now, ['2027-01-01T000000Z'])).toBe('2027-01-01T000001Z');
    expect(nextSnapshotName(now, [])).toBe('2026-11-23T050306Z');
  });
});

describe('retention', () => {
  // Two snapshots a day for 70 days, newest first in time order below.
  const snapshots = Array.from({ length: 140 }, (_, i) => at(new Date(Date.UTC(2026, 8, 1, 6 + (i % 2) * 12) + Math.floor(i / 2) * 86_400_000).toISOString()));
  const keptWith = (policy: Parameters<typeof snapshotsToPrune>[1]) => {
    const pruned = new Set(snapshotsToPrune(snapshots, policy));
    return snapshots.filter((s) => !pruned.has(s.name)).map((s) => s.name);
  };

  it('keeps everything without a policy', () => {
    expect(snapshotsToPrune(snapshots, {})).toEqual([]);
  });

  it('--keep N keeps the newest N', () => {
    expect(keptWith({ keepLast: 3 })).toEqual(snapshots.slice(-3).map((s) => s.name));
  });

  it('--keep-daily D keeps the newest snapshot of each of the last D days', () => {
    const kept = keptWith({ keepDaily: 5 });
    expect(kept).toHaveLength(5);
    for (const name of kept) expect(name.endsWith('T180000Z')).toBe(true);
  });

  it('--keep-weekly and --keep-monthly bucket by ISO week and month; rules combine as a union', () => {
    const weekly = keptWith({ keepWeekly: 4 });
    expect(weekly).toHaveLength(4);
    const monthly = keptWith({ keepMonthly: 12 });
    // September, October, November 2026 have snapshots (70 days from 1 Sep).
    expect(monthly.map((n) => n.slice(0, 7))).toEqual(['2026-09', '2026-10', '2026-11']);
    const union = keptWith({ keepLast: 2, keepDaily: 2, keepMonthly: 3 });
    expect(union).toEqual([...new Set([...monthly, ...keptWith({ keepDaily: 2 }), ...keptWith({ keepLast: 2 })])].sort());
  });

  it('always keeps the newest snapshot', () => {
    expect(snapshotsToPrune([at('2026-01-01T00:00:00Z')], { keepLast: 1 })).toEqual([]);
  });
});
