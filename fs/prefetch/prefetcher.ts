/**
 * Decides when to list a whole subtree and runs the listing in the background, streaming it into the cache
 * with `prime()`. The kernel serialises FUSE lookups (libfuse 2 negotiates no parallel directory
 * operations), so a cold walk over a 20 ms link costs one round trip per name unless each lookup is answered
 * from a listing already cached: one `find -printf` over an exec channel lists the tree in about one round
 * trip; servers without a shell get a READDIR walk with many directories in flight instead.
 *
 * When: a readdir misses a directory that has no fresh listing and no listing on its way, or a second name is
 * found in such a directory. Lookups before that just go to the server: one name is not a walk (a `cat` or a
 * `dd` of one file), nor is a name that does not exist yet (the file a `dd` or an editor is about to create),
 * and a whole-tree listing streaming in beside a large read or write took a fifth of its throughput on 2 cores;
 * a walk (find, ls -R, git status, an editor's tree) lists or finds more names at once.
 * The subtree listed is the highest ancestor that was listed completely before (so a re-walk after the TTL
 * costs one listing, not one per directory), else the directory itself. A subtree that outgrew
 * `maxEntriesPerJob` is never listed whole again; misses below it list their own, smaller subtrees.
 *
 * Correctness rests on the cache: `prime` stores a directory only if no mutation touched it since the job
 * started (generation guard), and primed listings expire with the directory TTL like READDIR replies.
 *
 * State (single JS thread): `jobs` running now; `completeRoots` (root → when its complete listing ended);
 * `tooBig` (roots whose listing stopped at the entry cap); `foundOnce` (directories where one name was found
 * with no listing: the next one found starts it).
 */
import type { CachedRemoteFs, ListedFile } from '../cache/cached-remote-fs.js';
import { childOf, isWithin, joinUnder, parentOf, relativeTo, selfAndAncestors } from '../paths.js';
import { runFindListing } from '../bulk/find-listing.js';
import { WorkQueue, type RemoteShell, type TreeEntry } from '../bulk/index.js';
import { isFsError } from '../errors.js';
import { isDir } from '../posix.js';
import { ConnectError } from '../ssh/types.js';
import { resolvePrefetchOptions, type PrefetchOptions } from './options.js';
import { NO_TRACING, type OperationTracer } from '../trace.js';
import { SmallFileFetch } from './small-files.js';
import { inStartOrder } from './start-order.js';
import { TreePrimer } from './tree-primer.js';

/** Where the one-round-trip listing runs; absent → READDIR walk only. */
export interface PrefetchShell {
  readonly shell: RemoteShell;
  /** Absolute server path of the RemoteFs root '/'. */
  readonly serverRoot: string;
}

export interface PrefetchLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface PrefetchStats {
  /** Small files stored from tar streams, and their bytes. */
  readonly files: number;
  readonly fileBytes: number;
  readonly jobs: number;
  readonly findJobs: number;
  readonly walkJobs: number;
  readonly truncatedJobs: number;
  readonly failedJobs: number;
  readonly primedDirs: number;
  readonly entries: number;
  readonly waits: number;
}

class Truncated extends Error {}

/** Why a listing is awaited: a readdir starts one; a lookup only joins one (see noteFound). */
export type ListingCause = 'lookup' | 'readdir';
/** Bound on `directoryFetches`: past it the map starts over (a directory may then be streamed once more). */
const MAX_DIRECTORY_FETCHES = 1024;
/** Bound on `foundOnce`: past it the set starts over (a directory then waits for one more name found). */
const MAX_FOUND_ONCE = 10_000;

/** Thrown out of onEntry to stop find mid-stream (runFindListing then closes the channel). */
const TRUNCATED = new Truncated('prefetch entry cap reached');

/**
 * A subtree listed completely: when, and whether its small files come in one tar stream (small-files.ts):
 * 'pending' (listed with find, counting reads), the stream once started, or 'none'. Which files the stream
 * carries is read from the cache's listings when it starts, not kept from the find output: a copy of every
 * small file's entry would cost as much memory again as the listings themselves, for as long as the subtree
 * stays listed, and only the files still listed fresh could be stored by the stream anyway (primeData).
 */
interface ListedRoot {
  readonly listedAt: number;
  reads: number;
  content: 'pending' | 'none' | SmallFileFetch;
}

interface Job {
  readonly root: string;
  /** Set right after the job starts; never rejects. */
  done: Promise<void>;
  /** Directories primed by this job so far (waiters check it before waiting). */
  readonly primed: Set<string>;
  readonly waiters: Map<string, Array<() => void>>;
}

function serverPathOf(serverRoot: string, path: string): string {
  if (path === '/') return serverRoot;
  return serverRoot.endsWith('/') ? `${serverRoot}${path.slice(1)}` : `${serverRoot}${path}`;
}

/**
 * Path order starting at the file being read, then wrapping around: readers that walk a tree (git's index is
 * sorted by path, `cat dir/*`, grep -r) go on from where they are, so the stream brings next what they read next.
 */
function inReadingOrder(files: ListedFile[], fromRel: string, maxBytes: number): TreeEntry[] {
  const sorted = files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const start = Math.max(0, sorted.findIndex((f) => f.path >= fromRel));
  // The byte budget is spent in reading order, so the files read next are the ones that fit.
  const chosen: TreeEntry[] = [];
  let bytes = 0;
  for (let i = 0; i < sorted.length; i++) {
    const { path, size, mtimeMs } = sorted[(start + i) % sorted.length] as ListedFile;
    if (bytes + size > maxBytes) break;
    // The tar stream needs path, size and mtime; owner and mode are not compared (fetchWithTar).
    chosen.push({ path, type: 'file', mode: 0, size, mtimeMs, uid: 0, gid: 0 });
    bytes += size;
  }
  return chosen;
}

export class Prefetcher {
  private readonly options: PrefetchOptions;
  private readonly jobs = new Set<Job>();
  private readonly completeRoots = new Map<string, ListedRoot>();
  private readonly tooBig = new Set<string>();
  private readonly fetches = new Set<SmallFileFetch>();
  /** Streams of one directory started by a read far behind a running stream (directoryFetch). */
  private readonly directoryFetches = new Map<string, SmallFileFetch>();
  private readonly foundOnce = new Set<string>();
  /** Null once the server showed it has no usable shell/find: every later job walks with READDIR. */
  private shell: PrefetchShell | null;
  /** Set once a find listing produced entries: from then on an empty result means a missing directory, not a missing find. */
  private findWorks = false;
  /** Set by listNow until streamNow/releaseContent: reads start no tar stream of their own meanwhile. */
  private holdContent = false;
  private closed = false;
  private readonly counters = { files: 0, fileBytes: 0, jobs: 0, findJobs: 0, walkJobs: 0, truncatedJobs: 0, failedJobs: 0, primedDirs: 0, entries: 0, waits: 0 };

  constructor(
    private readonly cache: CachedRemoteFs,
    shell: PrefetchShell | undefined,
    overrides: Partial<PrefetchOptions> = {},
    private readonly log?: PrefetchLogger,
    /** Times the waits of a caller for a listing or a tar stream (fs/trace.ts). */
    private readonly tracer: OperationTracer = NO_TRACING,
  ) {
    this.options = resolvePrefetchOptions(overrides);
    this.shell = shell ?? null;
  }

  /**
   * Called before a lookup in `dir` (or a readdir of it) would go to the server: joins a listing that covers
   * `dir` (a readdir starts one; see the file comment for when lookups do) and resolves once `dir` is primed,
   * the listing ended, or `waitMs` passed.
   */
  async awaitListing(dir: string, cause: ListingCause): Promise<void> {
    if (this.closed || this.cache.hasFreshListing(dir)) return;
    if (cause === 'lookup' && !this.coveringJob(dir)) return;
    this.foundOnce.delete(dir);
    // Two rounds: when a running job stops at its cap before reaching `dir`, one smaller job for `dir` follows.
    for (let round = 0; round < 2; round++) {
      const job = this.coveringJob(dir) ?? this.start(dir);
      if (!job) return;
      // find completes a directory only when it leaves its subtree, so the job's own root comes last: a lookup
      // there asks the server at once (one round trip, and a READDIR reply is cached too) instead of waiting.
      if (job.primed.has(dir) || (dir === job.root && round === 0)) return;
      this.counters.waits += 1;
      await this.tracer.time('listing-wait', dir, () => this.waitFor(job, dir), { root: job.root });
      if (this.cache.hasFreshListing(dir) || job.primed.has(dir)) return;
    }
  }

  /** A lookup in `dir` found a name the cache could not answer: the second one found starts a listing (a walk). */
  noteFound(dir: string): void {
    if (this.closed || this.cache.hasFreshListing(dir) || this.coveringJob(dir)) return;
    if (!this.foundOnce.has(dir)) {
      if (this.foundOnce.size >= MAX_FOUND_ONCE) this.foundOnce.clear();
      this.foundOnce.add(dir);
      return;
    }
    this.foundOnce.delete(dir);
    this.start(dir);
  }

  stats(): PrefetchStats {
    return Object.freeze({ ...this.counters });
  }

  /**
   * Called before a read-only open. Under a subtree listed with find, the Nth such open starts one tar stream
   * of the subtree's small files; while it runs, an open of a file it carries waits for that file.
   */
  async beforeRead(path: string): Promise<void> {
    if (this.closed || !this.shell) return;
    let found: { root: string; listed: ListedRoot } | undefined;
    for (const ancestor of selfAndAncestors(parentOf(path))) {
      const listed = this.completeRoots.get(ancestor);
      if (listed) found = { root: ancestor, listed };
    }
    if (!found) return;
    const { root, listed } = found;
    if (listed.content === 'none') return;
    if (listed.content === 'pending') {
      if (this.holdContent) return; // the start-up stream (streamNow) picks the files and their order
      listed.reads += 1;
      if (listed.reads < this.options.readsBeforeContent) return;
      const files = inReadingOrder(this.cache.listedFiles(root, this.perFileBytes()), relativeTo(root, path), this.options.maxContentBytes);
      if (!this.startFetch(root, listed, files)) return;
    }
    if (typeof listed.content === 'string') return; // 'none', or still counting reads
    const fetch = listed.content;
    if (fetch.isFarBehind(path, this.options.maxWaitAheadBytes)) {
      // The application went somewhere the stream reaches only later: its directory comes in a stream of its own.
      const dir = parentOf(path);
      const own = this.directoryFetch(dir, path);
      if (own?.carries(path)) await this.tracer.time('tar-wait', path, () => own.waitFor(path, this.options.waitMs, this.options.maxWaitAheadBytes), { root: dir });
      return;
    }
    if (fetch.carries(path)) await this.tracer.time('tar-wait', path, () => fetch.waitFor(path, this.options.waitMs, this.options.maxWaitAheadBytes), { root });
  }

  /**
   * The tar stream of the small files directly in `dir` not in memory yet, from `path` on (reading order), started
   * by the first read there that a running stream would serve only much later; at most one per directory (per
   * run) and `maxJobs` at once. Undefined when none may start (the read then goes over SFTP).
   */
  private directoryFetch(dir: string, path: string): SmallFileFetch | undefined {
    const running = this.directoryFetches.get(dir);
    if (running || !this.shell || this.fetches.size > this.options.maxJobs) return running;
    const files = this.cache.listedFiles(dir, this.perFileBytes())
      .filter((f) => !f.path.includes('/') && this.cache.freshEntry(joinUnder(dir, f.path))?.content === undefined);
    // The file asked for first, then what an application opens first (its next includes, most likely).
    const chosen = inStartOrder(files, [relativeTo(dir, path)], this.options.maxContentBytes, () => false);
    if (chosen.length === 0) return undefined;
    const fetch = new SmallFileFetch(this.cache, this.shell.shell, dir, serverPathOf(this.shell.serverRoot, dir), chosen);
    if (this.directoryFetches.size >= MAX_DIRECTORY_FETCHES) this.directoryFetches.clear();
    this.directoryFetches.set(dir, fetch);
    this.track(dir, fetch);
    return fetch;
  }

  /**
   * Start-up (fs/prefetch/warm-start.ts): lists `root` in one bulk listing now (or joins the one running) and
   * resolves once it ended. Until streamNow or releaseContent, reads do not start a tar stream of their own
   * under it: the start-up stream chooses its files after the disk cache had its turn.
   */
  async listNow(root: string): Promise<boolean> {
    if (this.closed) return false;
    this.holdContent = true;
    const job = this.coveringJob(root) ?? this.start(root);
    await job?.done;
    return this.completeRoots.has(root);
  }

  /**
   * Start-up: streams the small files `choose` picks (and orders) among those listed under `root`, at once,
   * up to `maxBytes`. No-op unless `root` was listed with find (a shell with tar) and no stream ran there yet.
   */
  streamNow(root: string, maxBytes: number, choose: (files: ListedFile[], maxBytes: number) => TreeEntry[]): { files: number; bytes: number } | null {
    this.holdContent = false;
    const listed = this.completeRoots.get(root);
    if (this.closed || !this.shell || !listed || listed.content !== 'pending') return null;
    const files = choose(this.cache.listedFiles(root, this.perFileBytes()), maxBytes);
    if (!this.startFetch(root, listed, files)) return null;
    return { files: files.length, bytes: files.reduce((sum, f) => sum + f.size, 0) };
  }

  /** Start-up ended without a stream: reads start their own again. */
  releaseContent(): void {
    this.holdContent = false;
  }

  /** Largest file a tar stream carries: what a read-only open would keep in memory. */
  private perFileBytes(): number {
    return Math.min(this.cache.options.smallFileBytes, Math.floor(this.cache.options.dataCacheBytes / 8));
  }

  /** Starts the tar stream of `files` under `root`; false (and no stream ever again there) when there are none. */
  private startFetch(root: string, listed: ListedRoot, files: TreeEntry[]): boolean {
    if (!this.shell || files.length === 0) {
      listed.content = 'none';
      return false;
    }
    const fetch = new SmallFileFetch(this.cache, this.shell.shell, root, serverPathOf(this.shell.serverRoot, root), files);
    listed.content = fetch;
    this.track(root, fetch);
    return true;
  }

  /** Counts a stream's files when it ends and logs how it went; idle() waits for it meanwhile. */
  private track(root: string, fetch: SmallFileFetch): void {
    this.fetches.add(fetch);
    fetch.done.then(
      () => this.log?.debug({ root, files: fetch.files, bytes: fetch.bytes }, 'prefetched small files'),
      (err: unknown) => this.log?.warn({ root, err: (err as Error).message }, 'small-file prefetch failed; reading files one by one'),
    ).finally(() => {
      this.counters.files += fetch.files;
      this.counters.fileBytes += fetch.bytes;
      this.fetches.delete(fetch);
    });
  }

  /** Resolves when no listing is running (tests; a clean close). */
  async idle(): Promise<void> {
    while (this.jobs.size > 0 || this.fetches.size > 0) {
      await Promise.allSettled([...[...this.jobs].map((job) => job.done), ...[...this.fetches].map((f) => f.done)]);
    }
  }

  /** Stops starting jobs; running ones end with their channel. */
  close(): void {
    this.closed = true;
  }

  private coveringJob(dir: string): Job | undefined {
    for (const job of this.jobs) if (isWithin(dir, job.root)) return job;
    return undefined;
  }

  private start(dir: string): Job | undefined {
    if (this.jobs.size >= this.options.maxJobs) return undefined;
    const now = this.options.now();
    let root: string | undefined;
    for (const ancestor of selfAndAncestors(dir)) {
      const listedAt = this.completeRoots.get(ancestor)?.listedAt;
      if (listedAt === undefined) continue;
      // Listed completely just now and still not fresh: the name went missing for another reason (evicted,
      // invalidated by a mutation); one READDIR is cheaper than listing the subtree again.
      if (ancestor === dir && now - listedAt < this.options.minRelistMs) return undefined;
      // An ancestor whose listing is still fresh did not cover `dir` (a symlinked directory, which find does
      // not follow, or an entry evicted or refreshed since): list `dir` alone rather than the whole subtree.
      if (this.cache.hasFreshListing(ancestor)) continue;
      root = ancestor;
    }
    root ??= dir;
    if (this.tooBig.has(root) && root === dir) return undefined;
    const job: Job = { root, done: Promise.resolve(), primed: new Set(), waiters: new Map() };
    const done = this.run(job).finally(() => {
      this.jobs.delete(job);
      for (const list of job.waiters.values()) for (const wake of list) wake();
      job.waiters.clear();
    });
    job.done = done;
    this.jobs.add(job);
    this.counters.jobs += 1;
    return job;
  }

  private waitFor(job: Job, dir: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.options.waitMs);
      const wake = () => { clearTimeout(timer); resolve(); };
      const list = job.waiters.get(dir);
      if (list) list.push(wake);
      else job.waiters.set(dir, [wake]);
    });
  }

  private primedOne(job: Job, dir: string): void {
    job.primed.add(dir);
    this.counters.primedDirs += 1;
    const list = job.waiters.get(dir);
    if (!list) return;
    job.waiters.delete(dir);
    for (const wake of list) wake();
  }

  /** Never rejects: a failed prefetch only means lookups go to the server one by one. */
  private async run(job: Job): Promise<void> {
    const startedAt = this.cache.generation();
    const began = this.options.now();
    try {
      const found = this.shell ? await this.runFind(job, this.shell, startedAt) : null;
      const complete = found ?? (await this.runWalk(job));
      if (complete) {
        // Only a find listing proves the server has a shell with the tools for a tar stream.
        this.completeRoots.set(job.root, { listedAt: this.options.now(), reads: 0, content: found === true ? 'pending' : 'none' });
        this.tooBig.delete(job.root);
      } else {
        this.counters.truncatedJobs += 1;
        this.tooBig.add(job.root);
        this.completeRoots.delete(job.root);
      }
      this.log?.debug({ root: job.root, dirs: job.primed.size, complete, ms: Math.round(this.options.now() - began) }, 'prefetched metadata');
    } catch (err) {
      this.counters.failedJobs += 1;
      this.log?.warn({ root: job.root, err: (err as Error).message }, 'metadata prefetch failed; looking names up one by one');
    }
  }

  /**
   * One exec round trip. Resolves true (complete), false (stopped at the cap), or null when the server
   * cannot run it (no shell, ForceCommand internal-sftp, no GNU find): the caller walks with READDIR.
   */
  private async runFind(job: Job, shell: PrefetchShell, startedAt: number): Promise<boolean | null> {
    let entries = 0;
    const primer = new TreePrimer((rel, list) => {
      const dir = joinUnder(job.root, rel);
      this.cache.prime(dir, list, startedAt);
      this.primedOne(job, dir);
    });
    try {
      const result = await runFindListing(shell.shell, serverPathOf(shell.serverRoot, job.root), (entry) => {
        entries += 1;
        if (entries > this.options.maxEntriesPerJob) throw TRUNCATED;
        primer.push(entry);
      });
      this.counters.entries += result.entries;
      if (result.entries === 0) {
        // Nothing at all: not GNU find (busybox, no -printf), or the directory is missing. Until find has
        // worked once we cannot tell which, so stop using it; the walk reports the real SFTP error either way.
        if (!this.findWorks) this.shell = null;
        return null;
      }
      this.findWorks = true;
      this.counters.findJobs += 1;
      primer.end(result.problems);
      return true;
    } catch (err) {
      primer.abandon();
      if (err === TRUNCATED) {
        this.counters.entries += entries - 1;
        this.counters.findJobs += 1;
        return false;
      }
      if (err instanceof ConnectError && err.kind === 'no-exec') {
        this.shell = null;
        return null;
      }
      throw err;
    }
  }

  /** The READDIR walk through the cache (each reply is stored there), many directories in flight. */
  private async runWalk(job: Job): Promise<boolean> {
    this.counters.walkJobs += 1;
    const queue = new WorkQueue(this.options.walkConcurrency);
    let entries = 0;
    let truncated = false;
    const list = (dir: string) => async () => {
      if (truncated) return;
      let items;
      try {
        items = await this.cache.readdir(dir);
      } catch (err) {
        // A directory removed or made unreadable while we walk is not the walk's failure: skip it.
        if (isFsError(err, 'ENOENT') || isFsError(err, 'EACCES') || isFsError(err, 'EPERM') || isFsError(err, 'ENOTDIR')) return;
        throw err;
      }
      entries += items.length;
      this.counters.entries += items.length;
      this.primedOne(job, dir);
      if (entries > this.options.maxEntriesPerJob) {
        truncated = true;
        queue.clear();
        return;
      }
      for (const item of items) {
        if (isDir(item.attr.mode)) queue.add(list(childOf(dir, item.name)));
      }
    };
    queue.add(list(job.root));
    await queue.drain();
    return !truncated;
  }
}
