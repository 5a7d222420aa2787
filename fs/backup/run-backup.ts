/**
 * One backup run: lock DEST, list the remote tree in one round trip, build DEST/.partial-<ts>/ from the
 * previous snapshot (hard links for unchanged files) and the server (everything else), then rename it to
 * DEST/<ts>/, point DEST/latest at it and prune by the retention policy.
 *
 * runBackup reads as its phases, in order (each waits for the one before):
 *   lockDestination → findSnapshots → preparePartial → receiveListing → selectListed →
 *   createDirectories (0700, so the run can write into them whatever the server's modes) →
 *   planFiles (keep / link / copy, plan.ts) → [dry run: reportDryRun] → transferFiles (transfer.ts) →
 *   dumpDatabase → applyDirectoryMetadata (deepest first: creating entries changes a directory's mtime) →
 *   verifySnapshot (--verify) → rename into place → recordSnapshot (latest, manifest) → pruneSnapshots.
 * A file that vanished or cannot be read is reported and counted and the run goes on; a local write failure
 * or a lost connection is fatal and leaves the partial snapshot for the next run.
 */
import { chmod, mkdir, rename, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { listTree } from '../bulk/list-tree.js';
import type { TreeEntry, TreeListing } from '../bulk/types.js';
import { WorkQueue } from '../bulk/work-queue.js';
import { FsError } from '../errors.js';
import { compareWithServer } from './checksum.js';
import { DATABASE_DUMP_NAME, DatabaseCommandError } from './database.js';
import { placeDatabaseDump, type DatabaseDumper } from './database-snapshot.js';
import { removeStaleEntries, utimesSeconds } from './local-tree.js';
import { readManifest, writeManifest } from './manifest.js';
import { asLocalFsError } from './local-error.js';
import { acquireLock, type Lock } from './lock.js';
import { planFiles, prefetchPrevious, selectEntries, type Plan, type PreviousPrefetch, type Selection } from './plan.js';
import { snapshotsToPrune, type DatedSnapshot } from './retention.js';
import { PARTIAL_PREFIX, TEMP_DIR, nextSnapshotName, parseSnapshotName } from './snapshot-names.js';
import { listPartials, listSnapshots, removeTree, setLatest } from './store.js';
import { createTally, type Tally } from './tally.js';
import { transferFiles } from './transfer.js';
import {
  BackupInterruptedError, type BackupEvent, type BackupOptions, type BackupSource, type BackupSummary,
} from './types.js';

/** What every phase of one run reads: resolved once. */
interface Run {
  readonly source: BackupSource;
  readonly options: BackupOptions;
  /** DEST, absolute. */
  readonly dest: string;
  readonly emit: (event: BackupEvent) => void;
  readonly aborted: () => boolean;
  readonly startedMs: number;
}

/** DEST as this run finds and prepares it. */
interface Store {
  readonly snapshots: readonly DatedSnapshot[];
  /** The new snapshot's name, and its final directory. */
  readonly name: string;
  readonly finalDir: string;
  readonly tempDir: string;
  readonly previousDir: string | null;
  /** The newest interrupted run's directory name, taken over as this run's partial snapshot. */
  readonly reused: string | null;
  /** Older interrupted runs: removed. */
  readonly older: readonly string[];
  /** Where this run builds its snapshot; null in a dry run. */
  readonly partialDir: string | null;
}

export async function runBackup(source: BackupSource, options: BackupOptions): Promise<BackupSummary> {
  const run: Run = Object.freeze({
    source, options, dest: resolve(options.dest), startedMs: performance.now(),
    emit: (event: BackupEvent) => options.onEvent?.(event),
    aborted: () => options.signal?.aborted === true,
  });
  // The remote listing goes out first: its round trips and the server's find overlap the local set-up, and
  // while it streams, the previous snapshot's copy of each listed file is looked up (prefetchPrevious), so a
  // run with nothing to copy has little left to do locally once the listing ends (bench:backup).
  const prefetch = prefetchPrevious();
  const listingDone = listTree({ fs: source.fs, shell: source.shell, serverRoot: source.serverRoot }, '/', { onEntry: prefetch.onEntry });
  // Awaited below; until then a failure must not count as unhandled (the lock may fail first).
  listingDone.catch(() => undefined);
  const lock = await lockDestination(run, prefetch);
  let partialDir: string | null = null;
  try {
    const store = await findSnapshots(run, prefetch);
    partialDir = store.partialDir;
    await preparePartial(run, store);
    const listing = await receiveListing(run, listingDone, store.partialDir);
    const tally = createTally(run.emit);
    const selection = selectListed(run, listing, tally);
    const levels = depthLevels(selection.dirs);
    await createDirectories(store, selection, levels);
    const plans = await planFiles(source, selection.files, {
      reusedPartial: store.reused ? store.partialDir : null,
      previousDir: store.previousDir,
      mtimePrecisionMs: listing.mtimePrecisionMs,
      checksum: options.checksum,
    }, prefetch);
    if (store.partialDir && plans.some((p) => p.action === 'copy')) source.prepareCopies?.();
    const prune = snapshotsToPrune([...store.snapshots, { name: store.name, date: parseSnapshotName(store.name) as Date }], options.retention);
    if (!store.partialDir) return reportDryRun(run, store, plans, prune, tally);
    const partial = store.partialDir;
    const tempPath = tempPaths(store.tempDir);
    await transferFiles(source, options, { partial, previousDir: store.previousDir, tempPath, listMethod: listing.method },
      plans, selection.symlinks, tally, run.aborted);
    if (run.aborted()) throw new BackupInterruptedError(partial);
    if (options.database) await dumpDatabase(run, options.database, partial, store.previousDir, tempPath(), tally);
    await applyDirectoryMetadata(partial, levels);
    if (options.verify) await verifySnapshot(source, partial, plans, tally);
    await rename(partial, store.finalDir);
    partialDir = null;
    await recordSnapshot(run, store, selection.dirs, tally);
    await pruneSnapshots(run, prune);
    return finish(run, { ...tally.counts, snapshot: store.finalDir, pruned: prune.map((p) => join(run.dest, p)), dryRun: false });
  } catch (err) {
    if (run.aborted() && !(err instanceof BackupInterruptedError)) throw new BackupInterruptedError(partialDir);
    throw asLocalFsError(err, `backup directory ${run.dest}`);
  } finally {
    prefetch.setPrevious(null, null); // no-op after the real call; otherwise lets queued lstats finish as no-ops
    await lock?.release();
  }
}

/** DEST created and locked (no lock in a dry run, which writes nothing). */
async function lockDestination(run: Run, prefetch: PreviousPrefetch): Promise<Lock | undefined> {
  try {
    if (!run.options.dryRun) await mkdir(run.dest, { recursive: true });
    return run.options.dryRun ? undefined : await acquireLock(run.dest);
  } catch (err) {
    prefetch.setPrevious(null, null);
    throw asLocalFsError(err, `backup directory ${run.dest}`);
  }
}

function isMissingDir(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** The snapshots and interrupted runs in DEST, the previous snapshot (released to the prefetch) and the new name. */
async function findSnapshots(run: Run, prefetch: PreviousPrefetch): Promise<Store> {
  const { dest, options } = run;
  // A dry run into a DEST that does not exist yet sees an empty one.
  const orEmpty = <T>(err: unknown): T[] => { if (options.dryRun && isMissingDir(err)) return []; throw err; };
  const snapshots = await listSnapshots(dest).catch(orEmpty<DatedSnapshot>);
  const partials = await listPartials(dest).catch(orEmpty<string>);
  const previous = snapshots.at(-1)?.name ?? null;
  const previousDir = previous ? join(dest, previous) : null;
  const manifest = previous ? await readManifest(dest, previous) : null;
  prefetch.setPrevious(previousDir, manifest);
  const name = nextSnapshotName(options.now?.() ?? new Date(), [...snapshots.map((s) => s.name), ...partials.map((p) => p.slice(PARTIAL_PREFIX.length))]);
  return Object.freeze({
    snapshots, name, previousDir,
    finalDir: join(dest, name),
    tempDir: join(dest, TEMP_DIR),
    reused: partials.at(-1) ?? null,
    older: partials.slice(0, -1),
    partialDir: options.dryRun ? null : join(dest, `${PARTIAL_PREFIX}${name}`),
  });
}

/** The partial snapshot (the newest interrupted run's, renamed, or a new one) and an empty temp directory. */
async function preparePartial(run: Run, store: Store): Promise<void> {
  const { dest } = run;
  // Nothing to link from: every file is fetched, so the data connections may start opening now.
  if (!store.previousDir && !store.reused && !run.options.dryRun) run.source.prepareCopies?.();
  if (store.partialDir) {
    if (store.reused) {
      await rename(join(dest, store.reused), store.partialDir);
      for (const older of store.older) await removeTree(join(dest, older));
    } else {
      await mkdir(store.partialDir, { mode: 0o700 });
    }
    await removeTree(store.tempDir);
    await mkdir(store.tempDir, { mode: 0o700 });
  }
  run.emit({ event: 'start', source: run.source.label, dest, snapshot: store.finalDir, previous: store.previousDir,
    reusedPartial: store.reused ? join(dest, store.reused) : null, dryRun: run.options.dryRun });
}

/** The listing started at the beginning of the run; its root must be a directory. */
async function receiveListing(run: Run, listingDone: Promise<TreeListing>, partialDir: string | null): Promise<TreeListing> {
  const listing = await listingDone;
  if (run.aborted()) throw new BackupInterruptedError(partialDir);
  const root = listing.entries.find((e) => e.path === '');
  if (!root || root.type !== 'dir') throw new FsError('ENOTDIR', `${run.source.label} is not a directory`);
  return listing;
}

/** What the listing holds that this run places: problems and refused paths booked as failures, then 'listed'. */
function selectListed(run: Run, listing: TreeListing, tally: Tally): Selection {
  const { options } = run;
  for (const problem of listing.problems) tally.fail(problem.path, 'failed', `cannot list: ${problem.message}`);
  // The dump's name at the snapshot root is ours: a server file of that name is not copied over it.
  const excludes = options.database ? [...options.excludes, `/${DATABASE_DUMP_NAME}`] : options.excludes;
  const selection = selectEntries(listing, excludes);
  const { dirs, files, symlinks, excluded, others, unsafe } = selection;
  tally.skip(others);
  for (const { path, why } of unsafe) tally.fail(path, 'failed', `refused: ${why}`);
  run.emit({ event: 'listed', method: listing.method, files: files.length, dirs: dirs.length, symlinks: symlinks.length,
    bytes: files.reduce((n, f) => n + f.size, 0), excluded });
  return selection;
}

/** A reused partial run cleared of what the server no longer lists, then the directories, a depth level at a time (parents first). */
async function createDirectories(store: Store, selection: Selection, levels: readonly TreeEntry[][]): Promise<void> {
  const base = store.partialDir;
  if (!base) return;
  if (store.reused) {
    const wanted = new Map<string, TreeEntry>();
    for (const e of [...selection.dirs, ...selection.files, ...selection.symlinks]) wanted.set(e.path, e);
    await removeStaleEntries(base, '', wanted);
  }
  for (const level of levels) {
    await inParallel(level.filter((d) => d.path !== ''), (d) => mkdir(join(base, d.path), { mode: 0o700 })
      .catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; }));
  }
}

/** Dry run: report what would happen, touch nothing. */
function reportDryRun(run: Run, store: Store, plans: readonly Plan[], prune: readonly string[], tally: Tally): BackupSummary {
  for (const plan of plans) tally.file(plan.action, plan.entry.path, plan.entry.size, plan.entry.size);
  for (const p of prune) run.emit({ event: 'prune', snapshot: join(run.dest, p) });
  return finish(run, { ...tally.counts, snapshot: store.finalDir, pruned: prune.map((p) => join(run.dest, p)), dryRun: true });
}

/** Temporary file names below the temp directory: a counter, unique within the run. */
function tempPaths(tempDir: string): () => string {
  let counter = 0;
  return () => join(tempDir, String(counter++));
}

/** The site's database dump (fs/backup/database.ts): a failed dump command is booked, the run goes on. */
async function dumpDatabase(run: Run, database: DatabaseDumper, partial: string, previousDir: string | null, tempFile: string, tally: Tally): Promise<void> {
  try {
    const placed = await placeDatabaseDump(database, tempFile, partial, previousDir, run.options.signal);
    tally.file(placed.action, DATABASE_DUMP_NAME, placed.size, placed.size);
  } catch (err) {
    if (run.aborted()) throw new BackupInterruptedError(partial);
    if (!(err instanceof DatabaseCommandError)) throw err;
    tally.fail(DATABASE_DUMP_NAME, 'failed', err.message);
  }
}

/**
 * Directory modes and mtimes, deepest level first: a parent's mode may take away the search permission its
 * children's chmod needs (chmod and utimes of an entry do not change its parent's mtime).
 */
async function applyDirectoryMetadata(partial: string, levels: readonly TreeEntry[][]): Promise<void> {
  for (const level of [...levels].reverse()) {
    await inParallel(level, async (dir) => {
      const target = dir.path === '' ? partial : join(partial, dir.path);
      await chmod(target, dir.mode);
      await utimes(target, utimesSeconds(dir.mtimeMs), utimesSeconds(dir.mtimeMs));
    });
  }
}

/** --verify: every file placed is hashed again on both sides; a difference is booked as a failure. */
async function verifySnapshot(source: BackupSource, partial: string, plans: readonly Plan[], tally: Tally): Promise<void> {
  const placed = plans.filter((p) => !tally.failedPaths.has(p.entry.path)).map((p) => p.entry.path);
  await compareWithServer(source, partial, placed, 'differs', (path, verdict) => {
    if (verdict === 'gone') tally.fail(path, 'vanished', 'verify: cannot read the file on the server any more');
    else if (verdict === 'differs') tally.fail(path, 'failed', 'verify: the snapshot copy differs from the server (changed during the run?)');
  });
}

/** The published snapshot becomes `latest`, gets its manifest, and the temp directory goes. */
async function recordSnapshot(run: Run, store: Store, dirs: readonly TreeEntry[], tally: Tally): Promise<void> {
  await setLatest(run.dest, store.name);
  await writeManifest(run.dest, store.name, new Map(dirs.map((d) => [d.path, d.mtimeMs])), tally.manifestFiles()).catch(() => {
    // Only speed depends on it: without a manifest naming this snapshot, the next run lstats every file.
  });
  await removeTree(store.tempDir);
}

async function pruneSnapshots(run: Run, prune: readonly string[]): Promise<void> {
  for (const p of prune) {
    await removeTree(join(run.dest, p));
    run.emit({ event: 'prune', snapshot: join(run.dest, p) });
  }
}

function finish(run: Run, s: Omit<BackupSummary, 'seconds'>): BackupSummary {
  const summary: BackupSummary = { ...s, seconds: Math.round(performance.now() - run.startedMs) / 1000 };
  run.emit({ event: 'summary', ...summary });
  return summary;
}

/** Directories grouped by depth ('' is depth 0), shallowest first. */
function depthLevels(dirs: readonly TreeEntry[]): TreeEntry[][] {
  const levels: TreeEntry[][] = [];
  for (const dir of dirs) {
    const depth = dir.path === '' ? 0 : dir.path.split('/').length;
    (levels[depth] ??= []).push(dir);
  }
  return levels.filter((l) => l !== undefined);
}

/** Runs fn over items with at most 64 at once (local file system calls: the libuv pool has 4 threads anyway). */
async function inParallel<T>(items: readonly T[], fn: (item: T) => Promise<unknown>): Promise<void> {
  const queue = new WorkQueue(64);
  for (const item of items) queue.add(async () => { await fn(item); });
  await queue.drain();
}
