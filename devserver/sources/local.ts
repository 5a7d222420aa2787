/**
 * FileSource over a local directory (or a directory on a FUSE/network mount). Every call is async
 * (fs/promises): a sync call could deadlock when the directory is a FUSE mount served by this process.
 *
 * Watching is chosen once, at open: chokidar with native events (inotify), or polling when the directory is
 * on a FUSE/network filesystem (inotify does not see server-side changes there) or when the caller forces it
 * (--poll MS). `openLocalSource` resolves only once the watcher is ready, so no change after start-up is missed
 * by the caches that subscribe to it.
 */
import { createReadStream, watch as watchDirectory } from 'node:fs';
import { lstat, readFile, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import type { DirectoryWatch, FileSource, SourceChange, SourceEntry, SourceStat } from '../file-source.js';
import { filesystemTypeOf, isNetworkFilesystem } from './fs-type.js';

export interface LocalSourceOptions {
  /** 'auto': poll on FUSE/network filesystems, native events elsewhere; a number forces polling every N ms. */
  readonly watch: 'auto' | 'off' | { readonly pollMs: number };
  /** Directories never watched (chokidar `ignored`): huge, and not site content a browser reloads for. */
  readonly ignoredNames?: readonly string[];
}

export interface WatchMode {
  readonly kind: 'native' | 'poll' | 'off';
  readonly pollMs?: number;
  readonly fsType: string | null;
}

const AUTO_POLL_MS = 1000;
const BATCH_MS = 30;

export class LocalFileSource implements FileSource {
  readonly description: string;
  readonly watchMode: WatchMode;
  private readonly root: string;
  private readonly listeners = new Set<(changes: readonly SourceChange[]) => void>();
  private watcher: FSWatcher | null = null;
  private pending: SourceChange[] = [];
  private batchTimer: NodeJS.Timeout | null = null;

  private constructor(root: string, watchMode: WatchMode) {
    this.root = root;
    this.description = root;
    this.watchMode = Object.freeze(watchMode);
  }

  static async open(dir: string, options: LocalSourceOptions): Promise<LocalFileSource> {
    const root = await realpath(path.resolve(dir));
    const rootStat = await stat(root);
    if (!rootStat.isDirectory()) {
      throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    }
    const fsType = await filesystemTypeOf(root);
    const watchMode: WatchMode = options.watch === 'off' ? { kind: 'off', fsType }
      : typeof options.watch === 'object' ? { kind: 'poll', pollMs: options.watch.pollMs, fsType }
        : isNetworkFilesystem(fsType) ? { kind: 'poll', pollMs: AUTO_POLL_MS, fsType }
          : { kind: 'native', fsType };
    const source = new LocalFileSource(root, watchMode);
    if (watchMode.kind !== 'off') await source.startWatcher(options.ignoredNames ?? ['.git', 'node_modules']);
    return source;
  }

  private abs(sitePath: string): string {
    // sitePath is already traversal-checked (request-target.ts); join keeps it under root.
    return path.join(this.root, sitePath);
  }

  async stat(sitePath: string): Promise<SourceStat | null> {
    try {
      return toSourceStat(await stat(this.abs(sitePath)));
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
  }

  async lookupError(sitePath: string): Promise<string | null> {
    try {
      await stat(this.abs(sitePath));
      return null;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException | null)?.code;
      return typeof code === 'string' ? code : 'EIO';
    }
  }

  async realpath(sitePath: string): Promise<string | null> {
    let real: string;
    try {
      real = await realpath(this.abs(sitePath));
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    if (real === this.root) return '/';
    if (!real.startsWith(`${this.root}/`)) return null;
    return real.slice(this.root.length);
  }

  readFile(sitePath: string): Promise<Buffer> {
    return readFile(this.abs(sitePath));
  }

  createReadStream(sitePath: string, range?: { start: number; end: number }): Readable {
    return createReadStream(this.abs(sitePath), range ? { start: range.start, end: range.end } : undefined);
  }

  async readdir(sitePath: string): Promise<SourceEntry[]> {
    const dir = this.abs(sitePath);
    const names = await readdir(dir);
    const entries = await Promise.all(names.map(async (name): Promise<SourceEntry | null> => {
      try {
        const s = await lstat(path.join(dir, name));
        // Follow symlinks for the listing's size/kind; a dangling link is listed as 'symlink'.
        if (s.isSymbolicLink()) {
          const target = await stat(path.join(dir, name)).catch(() => null);
          return { name, stat: target ? toSourceStat(target) : toSourceStat(s) };
        }
        return { name, stat: toSourceStat(s) };
      } catch (err) {
        // Deleted between readdir and lstat: leave it out of the listing.
        if (isMissing(err)) return null;
        throw err;
      }
    }));
    return entries.filter((e): e is SourceEntry => e !== null);
  }

  async localPath(sitePath: string): Promise<string | null> {
    return this.abs(sitePath);
  }

  /**
   * One directory watched with inotify (fs.watch), for a cache that must learn of a change before the next request
   * can ask: the kernel queues the event during the writer's own write(2), before the writer can send a request
   * to us, and libuv hands it to JavaScript without the batching and stat that chokidar's feed adds. Only with
   * native watching: fs.watch calls inotify_add_watch synchronously, which on a FUSE mount served by this process
   * would deadlock, and inotify does not see changes made on a network filesystem's server.
   */
  directoryWatch(): DirectoryWatch | null {
    if (this.watchMode.kind !== 'native') return null;
    return (sitePath, onEvent) => {
      const watcher = watchDirectory(this.abs(sitePath), { persistent: false }, (kind, name) => {
        onEvent(kind === 'rename' ? 'rename' : 'change', typeof name === 'string' ? name : null);
      });
      // A watch error (the directory removed under it, the inotify queue overflowing) reads as "anything may have
      // changed"; the owner closes the watch and sets up a new one when it needs it.
      watcher.on('error', () => onEvent('rename', null));
      return () => watcher.close();
    };
  }

  watch(listener: (changes: readonly SourceChange[]) => void): () => void {
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  async close(): Promise<void> {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.listeners.clear();
    await this.watcher?.close();
    this.watcher = null;
  }

  private async startWatcher(ignoredNames: readonly string[]): Promise<void> {
    const ignored = new Set(ignoredNames);
    const poll = this.watchMode.kind === 'poll';
    const watcher = chokidarWatch(this.root, {
      ignoreInitial: true,
      usePolling: poll,
      interval: this.watchMode.pollMs ?? AUTO_POLL_MS,
      binaryInterval: this.watchMode.pollMs ?? AUTO_POLL_MS,
      ignored: (p: string) => ignored.has(path.basename(p)),
    });
    const emit = (kind: SourceChange['kind']) => (absPath: string) => {
      const rel = path.relative(this.root, absPath).split(path.sep).join('/');
      this.queue({ path: rel ? `/${rel}` : '/', kind });
    };
    watcher.on('add', emit('create')).on('addDir', emit('create'))
      .on('change', emit('modify'))
      .on('unlink', emit('delete')).on('unlinkDir', emit('delete'))
      .on('error', () => {
        // A watch error (ENOSPC on inotify watches, a vanished dir) must not take the server down; the caches
        // are told everything may have changed.
        this.queue({ path: '/', kind: 'unknown' });
      });
    await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
    this.watcher = watcher;
  }

  // Events are delivered in small batches so a burst (git checkout) reaches listeners as a few calls.
  private queue(change: SourceChange): void {
    this.pending.push(change);
    if (this.batchTimer) return;
    this.batchTimer = setTimeout(() => {
      this.batchTimer = null;
      const batch = this.pending;
      this.pending = [];
      for (const listener of this.listeners) listener(batch);
    }, BATCH_MS);
  }
}

function toSourceStat(s: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean; size: number; mtimeMs: number; mode: number }): SourceStat {
  const kind = s.isFile() ? 'file' : s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symlink' : 'other';
  return { kind, size: s.size, mtimeMs: Math.floor(s.mtimeMs), mode: s.mode };
}

/** Lookups that end in a 404 (its log line says which, lookupError): EACCES too, as a path nobody may see. */
function isMissing(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG' || code === 'EACCES';
}
