/**
 * File contents of a subtree's small files in one stream: `tar -c` over an exec channel (fs/backup
 * tar-fetch.ts, rsync's trick), stored in the cache's data cache. `git status` on a fresh mount re-reads
 * every tracked file (the index's inode and ctime never match a FUSE mount's), one after the other: over
 * SFTP that is OPEN+READ+CLOSE per file, seconds per thousand files at 20 ms RTT; from one stream it is
 * the transfer time of the bytes. Files are requested in path order, the order git's index reads them.
 */
import { fetchWithTar } from '../backup/tar-fetch.js';
import type { RemoteShell, TreeEntry } from '../bulk/index.js';
import type { CachedRemoteFs } from '../cache/cached-remote-fs.js';
import { childOf } from '../cache/paths.js';

export class SmallFileFetch {
  /** Absolute paths stored so far. */
  private readonly placed = new Set<string>();
  private readonly waiters = new Map<string, Array<() => void>>();
  private finished = false;
  readonly done: Promise<void>;
  files = 0;
  bytes = 0;

  /** `files` are relative to `root`; `serverRoot` is the server path of `root`. */
  constructor(
    private readonly cache: CachedRemoteFs,
    shell: RemoteShell,
    private readonly root: string,
    serverRoot: string,
    files: readonly TreeEntry[],
    private readonly wanted: ReadonlySet<string>,
  ) {
    const startedAt = cache.generation();
    this.done = fetchWithTar(shell, serverRoot, files, {
      place: async (entry, data) => {
        const path = this.absolute(entry.path);
        // The listing's mtime was truncated to seconds like every SFTP reply (tree-entry-attr.ts).
        if (this.cache.primeData(path, { size: entry.size, mtimeMs: Math.floor(entry.mtimeMs / 1000) * 1000 }, data, startedAt)) {
          this.files += 1;
          this.bytes += data.length;
        }
        this.settle(path);
      },
      aborted: () => false,
    }).then(() => undefined).finally(() => {
      this.finished = true;
      for (const list of this.waiters.values()) for (const wake of list) wake();
      this.waiters.clear();
    });
  }

  /** True when this stream will deliver (or has delivered) `path`. */
  covers(path: string): boolean {
    return this.wanted.has(path);
  }

  /** Resolves when `path` is stored, the stream ended, or `ms` passed. */
  waitFor(path: string, ms: number): Promise<void> {
    if (this.finished || this.placed.has(path) || !this.wanted.has(path)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      const wake = () => { clearTimeout(timer); resolve(); };
      const list = this.waiters.get(path);
      if (list) list.push(wake);
      else this.waiters.set(path, [wake]);
    });
  }

  private absolute(rel: string): string {
    return rel === '' ? this.root : childOf(this.root, rel);
  }

  private settle(path: string): void {
    this.placed.add(path);
    const list = this.waiters.get(path);
    if (!list) return;
    this.waiters.delete(path);
    for (const wake of list) wake();
  }
}
