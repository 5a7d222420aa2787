/**
 * What a backup run does with each listed entry, decided before anything is written: the listing sorted and
 * filtered (excludes, unsafe paths), and every file classified — keep (already complete in a reused partial
 * run), link (unchanged since the previous snapshot) or copy — by lstat of the partial snapshot and, for the
 * previous one, its manifest (fs/backup/manifest.ts) or lstat, looked up while the listing streams in
 * (prefetchPrevious); with --checksum, link candidates are confirmed by SHA-256 on both sides.
 */
import { join } from 'node:path';
import type { TreeEntry, TreeListing } from '../bulk/types.js';
import { WorkQueue } from '../bulk/work-queue.js';
import { compareWithServer } from './checksum.js';
import { createExcludeFilter } from './exclude.js';
import { fileMetaOf, lstatOrNull, sameFileMeta } from './local-tree.js';
import type { LocalFileMeta, PreviousManifest } from './manifest.js';
import { realDirectories, unsafeListingPath } from './safe-paths.js';
import type { BackupSource, FileAction } from './types.js';

export interface Plan {
  readonly entry: TreeEntry;
  action: FileAction;
  /** The local copy's metadata when it is kept or linked (for the manifest). */
  local?: LocalFileMeta;
}

/** What is known of a previous-snapshot file: its metadata, null (no such file), or undefined (ask lstat). */
type Known = LocalFileMeta | null | undefined;

export interface PreviousPrefetch {
  /** For listTree's onEntry: queues a look-up of each listed file's copy in the previous snapshot. */
  readonly onEntry: (entry: TreeEntry) => void;
  /** Releases the queued look-ups once the previous snapshot (null: none) and its manifest are known. */
  readonly setPrevious: (dir: string | null, manifest: PreviousManifest | null) => void;
  readonly stats: (path: string) => Promise<Known>;
  /** The answer if it is already known, else undefined. */
  readonly settled: (path: string) => Known;
  readonly clear: () => void;
}

/**
 * The previous snapshot's copy of each file, looked up while the listing is still arriving: from the
 * manifest (fs/backup/manifest.ts) where it can answer, else by lstat (the same call classification used to
 * make after the listing, only earlier, while the network is the bottleneck). An lstat error here is not
 * reported: classification then lstats the path itself and reports what it gets.
 */
export function prefetchPrevious(): PreviousPrefetch {
  let release: (previous: { dir: string | null; manifest: PreviousManifest | null }) => void = () => undefined;
  const previous = new Promise<{ dir: string | null; manifest: PreviousManifest | null }>((resolve) => { release = resolve; });
  let known: { dir: string | null; manifest: PreviousManifest | null } | undefined;
  void previous.then((p) => { known = p; });
  const queue = new WorkQueue(64);
  let results = new Map<string, Promise<Known>>();
  let done = new Map<string, LocalFileMeta | null>();
  return {
    onEntry: (entry) => {
      if (entry.type !== 'file') return;
      if (known && (known.dir === null || known.manifest?.lookup(entry.path) !== undefined)) return;
      results.set(entry.path, new Promise<Known>((resolve) => {
        queue.add(async () => {
          const { dir, manifest } = await previous;
          const fromManifest = manifest?.lookup(entry.path);
          if (dir === null || fromManifest !== undefined) { resolve(fromManifest); return; }
          const st = await lstatOrNull(join(dir, entry.path)).catch(() => undefined);
          const meta = st === undefined ? undefined : st && fileMetaOf(st);
          if (meta !== undefined) done.set(entry.path, meta);
          resolve(meta);
        });
      }));
    },
    setPrevious: (dir, manifest) => release({ dir, manifest }),
    stats: (path) => results.get(path) ?? Promise.resolve(known?.manifest?.lookup(path)),
    settled: (path) => {
      const fromManifest = known?.manifest?.lookup(path);
      return fromManifest !== undefined ? fromManifest : done.get(path);
    },
    clear: () => { results = new Map(); done = new Map(); },
  };
}

export interface Selection {
  readonly dirs: TreeEntry[];
  readonly files: TreeEntry[];
  readonly symlinks: TreeEntry[];
  readonly excluded: number;
  readonly others: number;
  /** Entries refused because placing them could leave the snapshot (safe-paths.ts). */
  readonly unsafe: Array<{ readonly path: string; readonly why: string }>;
}

/** Sorted by path (a parent sorts before its children), with excluded entries and their subtrees removed. */
export function selectEntries(listing: TreeListing, excludes: readonly string[]): Selection {
  const filter = createExcludeFilter(excludes);
  const sorted = [...listing.entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const excludedDirs = new Set<string>();
  const out: Selection = { dirs: [], files: [], symlinks: [], excluded: 0, others: 0, unsafe: [] };
  let excluded = 0;
  let others = 0;
  const listedDirs = new Set<string>();
  const seen = new Set<string>();
  for (const entry of sorted) {
    const why = unsafeListingPath(entry.path, listedDirs, seen);
    seen.add(entry.path);
    if (why !== null) {
      out.unsafe.push({ path: entry.path, why });
      continue;
    }
    if (entry.type === 'dir') listedDirs.add(entry.path);
    const slash = entry.path.lastIndexOf('/');
    const parent = slash < 0 ? '' : entry.path.slice(0, slash);
    if ((entry.path !== '' && excludedDirs.has(parent)) || filter.excluded(entry.path, entry.type === 'dir')) {
      if (entry.type === 'dir') excludedDirs.add(entry.path);
      excluded += 1;
      continue;
    }
    if (entry.type === 'dir') out.dirs.push(entry);
    else if (entry.type === 'file') out.files.push(entry);
    else if (entry.type === 'symlink') out.symlinks.push(entry);
    else others += 1;
  }
  return { ...out, excluded, others };
}

/** Where the files of this run may come from besides the server. */
export interface PlanSources {
  /** The partial snapshot of an interrupted run, reused: its complete files are kept. */
  readonly reusedPartial: string | null;
  /** The previous complete snapshot: unchanged files are hard-linked from it. */
  readonly previousDir: string | null;
  readonly mtimePrecisionMs: number;
  readonly checksum: boolean;
}

/** Every file's action, in three phases: by metadata, then only through real directories, then (--checksum) by content. */
export async function planFiles(source: BackupSource, files: readonly TreeEntry[], from: PlanSources, prefetch: PreviousPrefetch): Promise<Plan[]> {
  const plans: Plan[] = files.map((entry) => ({ entry, action: 'copy' as FileAction }));
  await classifyByMetadata(plans, from, prefetch);
  prefetch.clear();
  if (from.previousDir) {
    await linkOnlyThroughRealDirectories(plans, from.previousDir);
    if (from.checksum) await confirmLinksByContent(source, plans, from.previousDir);
  }
  return plans;
}

async function classifyByMetadata(plans: readonly Plan[], from: PlanSources, prefetch: PreviousPrefetch): Promise<void> {
  const { reusedPartial, previousDir, mtimePrecisionMs: precision } = from;
  const classify = new WorkQueue(256);
  const linkIfSame = (plan: Plan, known: LocalFileMeta | null) => {
    if (known && sameFileMeta(known, plan.entry, precision)) { plan.action = 'link'; plan.local = known; }
  };
  for (const plan of plans) {
    // Most files are known from the manifest or were lstat'ed while the listing arrived: decided here, no job.
    const known = reusedPartial ? undefined : previousDir ? prefetch.settled(plan.entry.path) : null;
    if (known !== undefined) {
      linkIfSame(plan, known);
      continue;
    }
    classify.add(async () => {
      if (reusedPartial) {
        const st = await lstatOrNull(join(reusedPartial, plan.entry.path));
        const meta = st && fileMetaOf(st);
        if (meta && sameFileMeta(meta, plan.entry, precision)) { plan.action = 'keep'; plan.local = meta; return; }
      }
      if (previousDir) {
        const known = await prefetch.stats(plan.entry.path);
        if (known !== undefined) linkIfSame(plan, known);
        else {
          const st = await lstatOrNull(join(previousDir, plan.entry.path));
          linkIfSame(plan, st && fileMetaOf(st));
        }
      }
    });
  }
  await classify.drain();
}

/** Linking follows the previous snapshot's directories: only through real ones (safe-paths.ts). */
async function linkOnlyThroughRealDirectories(plans: readonly Plan[], previousDir: string): Promise<void> {
  const real = realDirectories(previousDir);
  const check = new WorkQueue(64);
  for (const plan of plans) {
    if (plan.action !== 'link') continue;
    const slash = plan.entry.path.lastIndexOf('/');
    check.add(async () => {
      if (!(await real(slash < 0 ? '' : plan.entry.path.slice(0, slash)))) plan.action = 'copy';
    });
  }
  await check.drain();
}

/** --checksum: a link candidate whose content differs from the server's (or cannot be hashed there) is copied. */
async function confirmLinksByContent(source: BackupSource, plans: readonly Plan[], previousDir: string): Promise<void> {
  const candidates = new Map(plans.filter((p) => p.action === 'link').map((p) => [p.entry.path, p]));
  await compareWithServer(source, previousDir, [...candidates.keys()], 'throw', (path, verdict) => {
    const plan = candidates.get(path);
    if (plan && verdict !== 'same') plan.action = 'copy';
  });
}
