/**
 * File contents of a subtree's small files in one stream: `tar -c` over an exec channel (fs/bulk/
 * tar-fetch.ts, rsync's trick), stored in the cache's data cache. `git status` on a fresh mount re-reads
 * every tracked file (the index's inode and ctime never match a FUSE mount's), one after the other: over
 * SFTP that is OPEN+READ+CLOSE per file, seconds per thousand files at 20 ms RTT; from one stream it is
 * the transfer time of the bytes. Files are requested in path order, the order git's index reads them.
 */
import { fetchWithTar } from '../bulk/tar-fetch.js';
import type { RemoteShell, TreeEntry } from '../bulk/index.js';
import type { CacheControl } from '../cache/layer.js';
import { isWithin, joinUnder, relativeTo } from '../paths.js';

export class SmallFileFetch {
  /**
   * Paths (relative to `root`) the stream is still to deliver: one set, keyed by the entries' own strings, and
   * empty once the stream ends. The fetch stays referenced for as long as its subtree stays listed (so the
   * subtree is not streamed twice); sets of thousands of absolute paths would stay with it for nothing.
   */
  private readonly coming: Set<string>;
  /** Where each file ends in the stream (bytes from its start), to tell how far behind a file still is. */
  private readonly endsAt: Map<string, number>;
  /** Bytes of files the stream delivered so far. */
  private delivered = 0;
  /** Waiters by relative path. */
  private readonly waiters = new Map<string, Array<() => void>>();
  private finished = false;
  readonly done: Promise<void>;
  files = 0;
  bytes = 0;

  /** `files` are relative to `root`; `serverRoot` is the server path of `root`. */
  constructor(
    private readonly cache: CacheControl,
    shell: RemoteShell,
    private readonly root: string,
    serverRoot: string,
    files: readonly TreeEntry[],
  ) {
    this.coming = new Set(files.map((f) => f.path));
    let offset = 0;
    this.endsAt = new Map(files.map((f) => [f.path, (offset += f.size)]));
    const startedAt = cache.generation();
    this.done = fetchWithTar(shell, serverRoot, files, {
      place: async (entry, data) => {
        // The listing's mtime was truncated to seconds like every SFTP reply (tree-entry-attr.ts).
        if (this.cache.primeData(joinUnder(this.root, entry.path), { size: entry.size, mtimeMs: Math.floor(entry.mtimeMs / 1000) * 1000 }, data, startedAt)) {
          this.files += 1;
          this.bytes += data.length;
        }
        this.delivered = Math.max(this.delivered, this.endsAt.get(entry.path) ?? 0);
        this.settle(entry.path);
      },
      aborted: () => false,
    }).then(() => undefined).finally(() => {
      this.finished = true;
      this.coming.clear();
      this.endsAt.clear();
      for (const list of this.waiters.values()) for (const wake of list) wake();
      this.waiters.clear();
    });
  }

  /** True while `path` (absolute) is still to come in the stream: an open of it would wait. */
  carries(path: string): boolean {
    return !this.finished && isWithin(path, this.root) && path !== this.root && this.coming.has(relativeTo(this.root, path));
  }

  /**
   * Resolves when `path` (absolute) is stored, the stream ended, or `ms` passed; at once when the file is more
   * than `maxAheadBytes` behind what the stream delivered (the caller then reads it itself).
   */
  waitFor(path: string, ms: number, maxAheadBytes = Number.POSITIVE_INFINITY): Promise<void> {
    if (!this.carries(path) || this.isFarBehind(path, maxAheadBytes)) return Promise.resolve();
    const rel = relativeTo(this.root, path);
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      const wake = () => { clearTimeout(timer); resolve(); };
      const list = this.waiters.get(rel);
      if (list) list.push(wake);
      else this.waiters.set(rel, [wake]);
    });
  }

  /** True when the stream is still to bring `path` (absolute), more than `maxAheadBytes` after what it delivered. */
  isFarBehind(path: string, maxAheadBytes: number): boolean {
    if (this.finished || !isWithin(path, this.root) || path === this.root) return false;
    const ends = this.endsAt.get(relativeTo(this.root, path));
    return ends !== undefined && ends - this.delivered > maxAheadBytes;
  }

  private settle(rel: string): void {
    this.coming.delete(rel);
    const list = this.waiters.get(rel);
    if (!list) return;
    this.waiters.delete(rel);
    for (const wake of list) wake();
  }
}
