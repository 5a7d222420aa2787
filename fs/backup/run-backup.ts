/**
 * One backup run: lock DEST, list the remote tree in one round trip, build DEST/.partial-<ts>/ from the
 * previous snapshot (hard links for unchanged files) and the server (everything else), then rename it to
 * DEST/<ts>/, point DEST/latest at it and prune by the retention policy.
 *
 * Phases, in order (each waits for the one before):
 *   1. directories created (0700, so the run can write into them whatever the server's modes);
 *   2. every file classified — keep (already complete in a reused partial), link, or copy — by lstat of the
 *      partial snapshot and, for the previous one, its manifest (fs/backup/manifest.ts) or lstat, looked up
 *      while the listing streams in; with --checksum, link candidates are confirmed by SHA-256 on both sides;
 *   3. files linked or copied, `concurrency` in flight; symlinks created;
 *   4. directory modes and mtimes applied, deepest first (creating entries changes a directory's mtime);
 *   5. --verify, rename into place, `latest`, the manifest of the new snapshot, retention.
 * A file that vanished or cannot be read is reported and counted and the run goes on; a local write failure
 * or a lost connection is fatal and leaves the partial snapshot for the next run.
 */
import { link, lutimes, mkdir, rename, symlink, unlink, chmod, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { listTree } from '../bulk/list-tree.js';
import type { RemoteShell, TreeEntry, TreeListing } from '../bulk/types.js';
import { WorkQueue } from '../bulk/work-queue.js';
import { FsError, isFsError } from '../errors.js';
import { createRemoteHasher, localSha256 } from './checksum.js';
import { createExcludeFilter } from './exclude.js';
import { DATABASE_DUMP_NAME, DatabaseCommandError } from './database.js';
import { placeDatabaseDump } from './database-snapshot.js';
import { fetchFile, placeFile } from './fetch-file.js';
import { fetchWithTar } from './tar-fetch.js';
import { realDirectories, unsafeListingPath } from './safe-paths.js';
import { fileMetaOf, lstatOrNull, removeStaleEntries, sameFileMeta, utimesSeconds } from './local-tree.js';
import { readManifest, writeManifest, type LocalFileMeta, type PreviousManifest } from './manifest.js';
import { asLocalFsError } from './local-error.js';
import { acquireLock, type Lock } from './lock.js';
import { snapshotsToPrune } from './retention.js';
import { PARTIAL_PREFIX, TEMP_DIR, nextSnapshotName, parseSnapshotName } from './snapshot-names.js';
import { listPartials, listSnapshots, removeTree, setLatest } from './store.js';
import {
  BackupInterruptedError, type BackupEvent, type BackupOptions, type BackupSource, type BackupSummary, type FileAction,
} from './types.js';

/** Per-file remote errors: the file is reported and skipped. Anything else (connection lost for good …) stops the run. */
const PER_FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'EINVAL']);
/** Below this many files to copy, SFTP alone is as quick as starting a tar stream. */
const TAR_MIN_FILES = 32;
/**
 * Bigger files go over SFTP with pipelined reads on the data connections, in parallel with the stream: one
 * channel's 2 MiB window (ssh2 Channel.js MAX_WINDOW) caps a single stream near window/RTT, and the tar
 * reader holds each file in memory whole.
 */
const TAR_MAX_FILE_BYTES = 256 * 1024;

interface Plan {
  readonly entry: TreeEntry;
  action: FileAction;
  /** The local copy's metadata when it is kept or linked (for the manifest). */
  local?: LocalFileMeta;
}

function isMissingDir(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

export async function runBackup(source: BackupSource, options: BackupOptions): Promise<BackupSummary> {
  const started = performance.now();
  const dest = resolve(options.dest);
  const emit = (event: BackupEvent) => options.onEvent?.(event);
  const aborted = () => options.signal?.aborted === true;
  const now = options.now ?? (() => new Date());

  // The remote listing goes out first: its round trips and the server's find overlap the local set-up, and
  // while it streams, the previous snapshot's copy of each listed file is looked up (prefetchPrevious), so a
  // run with nothing to copy has little left to do locally once the listing ends (bench:backup).
  const prefetch = prefetchPrevious();
  const listingDone = listTree({ fs: source.fs, shell: source.shell, serverRoot: source.serverRoot }, '/', { onEntry: prefetch.onEntry });
  // Awaited below; until then a failure must not count as unhandled (the lock may fail first).
  listingDone.catch(() => undefined);

  let lock: Lock | undefined;
  try {
    if (!options.dryRun) await mkdir(dest, { recursive: true });
    lock = options.dryRun ? undefined : await acquireLock(dest);
  } catch (err) {
    prefetch.setPrevious(null, null);
    throw asLocalFsError(err, `backup directory ${dest}`);
  }
  let partialDir: string | null = null;
  try {
    const snapshots = await listSnapshots(dest).catch((err) => { if (options.dryRun && isMissingDir(err)) return []; throw err; });
    const partials = await listPartials(dest).catch((err) => { if (options.dryRun && isMissingDir(err)) return []; throw err; });
    const previous = snapshots.at(-1)?.name ?? null;
    const previousDir = previous ? join(dest, previous) : null;
    const manifest = previous ? await readManifest(dest, previous) : null;
    prefetch.setPrevious(previousDir, manifest);
    const name = nextSnapshotName(now(), [...snapshots.map((s) => s.name), ...partials.map((p) => p.slice(PARTIAL_PREFIX.length))]);
    const finalDir = join(dest, name);
    const tempDir = join(dest, TEMP_DIR);
    const reused = partials.at(-1) ?? null;
    // Nothing to link from: every file is fetched, so the data connections may start opening now.
    if (!previousDir && !reused && !options.dryRun) source.prepareCopies?.();
    partialDir = options.dryRun ? null : join(dest, `${PARTIAL_PREFIX}${name}`);
    if (partialDir) {
      if (reused) {
        await rename(join(dest, reused), partialDir);
        for (const older of partials.slice(0, -1)) await removeTree(join(dest, older));
      } else {
        await mkdir(partialDir, { mode: 0o700 });
      }
      await removeTree(tempDir);
      await mkdir(tempDir, { mode: 0o700 });
    }
    emit({ event: 'start', source: source.label, dest, snapshot: finalDir, previous: previousDir,
      reusedPartial: reused ? join(dest, reused) : null, dryRun: options.dryRun });

    const listing = await listingDone;
    if (aborted()) throw new BackupInterruptedError(partialDir);
    const root = listing.entries.find((e) => e.path === '');
    if (!root || root.type !== 'dir') throw new FsError('ENOTDIR', `${source.label} is not a directory`);

    const counts = { copied: 0, linked: 0, skipped: 0, failed: 0, vanished: 0, bytes: 0 };
    const failedPaths = new Set<string>();
    const fail = (path: string, kind: 'vanished' | 'failed', message: string) => {
      counts.failed += 1;
      failedPaths.add(path);
      if (kind === 'vanished') counts.vanished += 1;
      emit({ event: 'error', path, kind, message });
    };
    for (const problem of listing.problems) fail(problem.path, 'failed', `cannot list: ${problem.message}`);

    // The dump's name at the snapshot root is ours: a server file of that name is not copied over it.
    const excludes = options.database ? [...options.excludes, `/${DATABASE_DUMP_NAME}`] : options.excludes;
    const { dirs, files, symlinks, excluded, others, unsafe } = selectEntries(listing, excludes);
    counts.skipped += others;
    for (const { path, why } of unsafe) fail(path, 'failed', `refused: ${why}`);
    const bytesTotal = files.reduce((n, f) => n + f.size, 0);
    emit({ event: 'listed', method: listing.method, files: files.length, dirs: dirs.length, symlinks: symlinks.length,
      bytes: bytesTotal, excluded });

    const wanted = new Map<string, TreeEntry>();
    for (const e of [...dirs, ...files, ...symlinks]) wanted.set(e.path, e);
    if (partialDir && reused) await removeStaleEntries(partialDir, '', wanted);

    // Phase 1: directories, a depth level at a time (parents exist before their children).
    const levels = depthLevels(dirs);
    if (partialDir) {
      const base = partialDir;
      for (const level of levels) {
        await inParallel(level.filter((d) => d.path !== ''), (d) => mkdir(join(base, d.path), { mode: 0o700 })
          .catch((err: NodeJS.ErrnoException) => { if (err.code !== 'EEXIST') throw err; }));
      }
    }

    // Phase 2: classify.
    const precision = listing.mtimePrecisionMs;
    const plans: Plan[] = files.map((entry) => ({ entry, action: 'copy' as FileAction }));
    const classify = new WorkQueue(256);
    const linkIfSame = (plan: Plan, known: LocalFileMeta | null) => {
      if (known && sameFileMeta(known, plan.entry, precision)) { plan.action = 'link'; plan.local = known; }
    };
    for (const plan of plans) {
      // Most files are known from the manifest or were lstat'ed while the listing arrived: decided here, no job.
      const known = partialDir && reused ? undefined : previousDir ? prefetch.settled(plan.entry.path) : null;
      if (known !== undefined) {
        linkIfSame(plan, known);
        continue;
      }
      classify.add(async () => {
        if (partialDir && reused) {
          const st = await lstatOrNull(join(partialDir, plan.entry.path));
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
    prefetch.clear();
    if (previousDir) {
      // Linking follows the previous snapshot's directories: only through real ones (safe-paths.ts).
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
    if (options.checksum && previousDir) {
      const candidates = plans.filter((p) => p.action === 'link');
      const hasher = createRemoteHasher(source.fs, '/', source.shell, source.serverRoot);
      const remoteHashes = await hasher.hash(candidates.map((p) => p.entry.path));
      const compare = new WorkQueue(8);
      for (const plan of candidates) {
        compare.add(async () => {
          const remote = remoteHashes.get(plan.entry.path);
          if (remote === undefined || remote !== await localSha256(join(previousDir, plan.entry.path))) plan.action = 'copy';
        });
      }
      await compare.drain();
    }

    if (partialDir && plans.some((p) => p.action === 'copy')) source.prepareCopies?.();

    const snapshotsAfter = [...snapshots, { name, date: parseSnapshotName(name) as Date }];
    const prune = snapshotsToPrune(snapshotsAfter, options.retention);
    if (!partialDir) {
      // Dry run: report what would happen, touch nothing.
      for (const plan of plans) {
        if (plan.action === 'copy') { counts.copied += 1; counts.bytes += plan.entry.size; }
        else if (plan.action === 'link') counts.linked += 1;
        else counts.skipped += 1;
        emit({ event: 'file', action: plan.action, path: plan.entry.path, size: plan.entry.size });
      }
      for (const p of prune) emit({ event: 'prune', snapshot: join(dest, p) });
      return finish({ ...counts, snapshot: finalDir, pruned: prune.map((p) => join(dest, p)), dryRun: true });
    }
    const partial: string = partialDir;

    // Phase 3: link and copy.
    let filesDone = 0;
    const progress = () => options.onProgress?.({ filesDone, filesTotal: plans.length, bytesDone: counts.bytes, bytesTotal });
    let tempCounter = 0;
    // Every file that ends up in the snapshot, as it is on disk: the next run's manifest.
    const inSnapshot = new Map<string, LocalFileMeta>();
    const copy = async (entry: TreeEntry, target: string) => {
      try {
        const fetched = await fetchFile(source.fs, `/${entry.path}`, entry, join(tempDir, String(tempCounter++)), target);
        inSnapshot.set(entry.path, { size: fetched, mode: entry.mode, mtimeMs: entry.mtimeMs });
        counts.bytes += fetched;
        counts.copied += 1;
        emit({ event: 'file', action: 'copy', path: entry.path, size: entry.size });
      } catch (err) {
        if (!isFsError(err) || !PER_FILE_ERRORS.has(err.code)) throw err;
        fail(entry.path, err.code === 'ENOENT' ? 'vanished' : 'failed', err.message);
      }
    };
    const work = new WorkQueue(options.concurrency);
    // Small files to copy go through one tar stream when the server has a shell (fs/backup/tar-fetch.ts);
    // links, big files and whatever tar could not deliver go through the SFTP queue meanwhile.
    const tarPlans = source.shell && listing.method === 'find'
      ? plans.filter((p) => p.action === 'copy' && p.entry.size <= TAR_MAX_FILE_BYTES) : [];
    const viaTar = new Set(tarPlans.length >= TAR_MIN_FILES ? tarPlans : []);
    const tarDone = viaTar.size === 0 ? Promise.resolve<TreeEntry[]>([]) : fetchWithTar(source.shell as RemoteShell, source.serverRoot,
      [...viaTar].map((p) => p.entry), {
        aborted,
        place: async (entry, data) => {
          await placeFile(data, entry, join(tempDir, String(tempCounter++)), join(partial, entry.path));
          inSnapshot.set(entry.path, { size: data.length, mode: entry.mode, mtimeMs: entry.mtimeMs });
          counts.copied += 1;
          counts.bytes += data.length;
          emit({ event: 'file', action: 'copy', path: entry.path, size: entry.size });
          filesDone += 1;
          progress();
        },
      });
    for (const plan of plans) {
      if (viaTar.has(plan)) continue;
      work.add(async () => {
        if (aborted()) return;
        const target = join(partial, plan.entry.path);
        if (plan.action === 'keep') {
          if (plan.local) inSnapshot.set(plan.entry.path, plan.local);
          counts.skipped += 1;
          emit({ event: 'file', action: 'keep', path: plan.entry.path, size: plan.entry.size });
        } else if (plan.action === 'link' && previousDir && await linkInto(join(previousDir, plan.entry.path), target)) {
          if (plan.local) inSnapshot.set(plan.entry.path, plan.local);
          counts.linked += 1;
          emit({ event: 'file', action: 'link', path: plan.entry.path, size: plan.entry.size });
        } else {
          await copy(plan.entry, target);
        }
        filesDone += 1;
        progress();
      });
    }
    for (const entry of symlinks) {
      work.add(async () => {
        if (aborted()) return;
        const target = join(partial, entry.path);
        const st = await lstatOrNull(target);
        if (st) await removeTree(target);
        await symlink(entry.linkTarget ?? '', target);
        await lutimes(target, utimesSeconds(entry.mtimeMs), utimesSeconds(entry.mtimeMs));
      });
    }
    for (const entry of await tarDone) {
      work.add(async () => {
        if (aborted()) return;
        await copy(entry, join(partial, entry.path));
        filesDone += 1;
        progress();
      });
    }
    await work.drain();
    if (aborted()) throw new BackupInterruptedError(partial);
    if (options.database) {
      try {
        const placed = await placeDatabaseDump(options.database, join(tempDir, String(tempCounter++)), partial, previousDir, options.signal);
        if (placed.action === 'link') counts.linked += 1;
        else { counts.copied += 1; counts.bytes += placed.size; }
        emit({ event: 'file', action: placed.action, path: DATABASE_DUMP_NAME, size: placed.size });
      } catch (err) {
        if (aborted()) throw new BackupInterruptedError(partial);
        if (!(err instanceof DatabaseCommandError)) throw err;
        fail(DATABASE_DUMP_NAME, 'failed', err.message);
      }
    }

    // Phase 4: directory metadata, deepest level first: a parent's mode may take away the search permission
    // its children's chmod needs (chmod and utimes of an entry do not change its parent's mtime).
    for (const level of [...levels].reverse()) {
      await inParallel(level, async (dir) => {
        const target = dir.path === '' ? partial : join(partial, dir.path);
        await chmod(target, dir.mode);
        await utimes(target, utimesSeconds(dir.mtimeMs), utimesSeconds(dir.mtimeMs));
      });
    }

    // Phase 5: verify, publish, prune.
    if (options.verify) {
      const fetched = plans.filter((p) => !failedPaths.has(p.entry.path)).map((p) => p.entry.path);
      const hasher = createRemoteHasher(source.fs, '/', source.shell, source.serverRoot);
      const remoteHashes = await hasher.hash(fetched);
      const verifyQueue = new WorkQueue(8);
      for (const path of fetched) {
        verifyQueue.add(async () => {
          const local = await localSha256(join(partial, path)).catch(() => undefined);
          const remote = remoteHashes.get(path);
          if (remote === undefined) fail(path, 'vanished', 'verify: cannot read the file on the server any more');
          else if (local !== remote) fail(path, 'failed', 'verify: the snapshot copy differs from the server (changed during the run?)');
        });
      }
      await verifyQueue.drain();
    }
    await rename(partial, finalDir);
    partialDir = null;
    await setLatest(dest, name);
    if (failedPaths.size > 0) for (const path of failedPaths) inSnapshot.delete(path);
    await writeManifest(dest, name, new Map(dirs.map((d) => [d.path, d.mtimeMs])), inSnapshot).catch(() => {
      // Only speed depends on it: without a manifest naming this snapshot, the next run lstats every file.
    });
    await removeTree(tempDir);
    for (const p of prune) {
      await removeTree(join(dest, p));
      emit({ event: 'prune', snapshot: join(dest, p) });
    }
    return finish({ ...counts, snapshot: finalDir, pruned: prune.map((p) => join(dest, p)), dryRun: false });

    function finish(s: Omit<BackupSummary, 'seconds'>): BackupSummary {
      const summary: BackupSummary = { ...s, seconds: Math.round(performance.now() - started) / 1000 };
      emit({ event: 'summary', ...summary });
      return summary;
    }
  } catch (err) {
    if (aborted() && !(err instanceof BackupInterruptedError)) throw new BackupInterruptedError(partialDir);
    throw asLocalFsError(err, `backup directory ${dest}`);
  } finally {
    prefetch.setPrevious(null, null); // no-op after the real call; otherwise lets queued lstats finish as no-ops
    await lock?.release();
  }
}

/** What is known of a previous-snapshot file: its metadata, null (no such file), or undefined (ask lstat). */
type Known = LocalFileMeta | null | undefined;

interface PreviousPrefetch {
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
function prefetchPrevious(): PreviousPrefetch {
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

interface Selection {
  readonly dirs: TreeEntry[];
  readonly files: TreeEntry[];
  readonly symlinks: TreeEntry[];
  readonly excluded: number;
  readonly others: number;
  /** Entries refused because placing them could leave the snapshot (safe-paths.ts). */
  readonly unsafe: Array<{ readonly path: string; readonly why: string }>;
}

/** Sorted by path (a parent sorts before its children), with excluded entries and their subtrees removed. */
function selectEntries(listing: TreeListing, excludes: readonly string[]): Selection {
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

/** Hard-links the previous snapshot's copy; false when that is impossible (EMLINK: too many links; gone meanwhile). */
async function linkInto(existing: string, target: string): Promise<boolean> {
  try {
    await link(existing, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      // A stale file of a reused partial run: replace it (never write into it: its inode may be shared).
      await unlink(target);
      return linkInto(existing, target);
    }
    if (code === 'EMLINK' || code === 'ENOENT') return false;
    throw err;
  }
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
