/**
 * Loads, compiles and caches .htaccess files through the FileSource, and merges them from the site root down to
 * a directory. Apache reads .htaccess on every request, and applications count on it: WordPress writes .htaccess
 * and at once requests a pretty URL from itself (wp_install_maybe_enable_pretty_permalinks()), while the PHP
 * request that wrote it is still running and before any batched watcher event can arrive. So a rule written a
 * moment ago must apply to the next request. How a cached chain is known to be fresh is chosen at construction:
 *
 * - watched (a local directory with inotify, FileSource DirectoryWatch): every directory of a cached chain is
 *   watched on its own, and an event for its .htaccess, or for an entry renamed in it (a subdirectory created,
 *   removed or moved), drops the chains through it before the next request is read (local.ts says why the order
 *   holds). A cached chain then costs no fs call at all. A directory that cannot be watched (the watch limit, an
 *   error) leaves its chains to the checked way.
 * - checked (remote sources, polling, FUSE): each request stats the .htaccess of each directory level and uses a
 *   cached file only while its size and mtime match. Concurrent requests share one stat per file, one that
 *   started after they arrived (a stat already under way may predate the write they must see).
 *
 * Warnings for unsupported directives are emitted once per file, line and message for the server's lifetime.
 */
import type { DirectoryWatch, FileSource, SourceStat } from '../file-source.js';
import { compileHtaccess, EMPTY_CONFIG, mergeConfigs, type DirectoryConfig } from './config.js';
import { parseHtaccess, type ParseWarning } from './parser.js';

export const HTACCESS_NAME = '.htaccess';

/**
 * Directories watched at most (one inotify watch each). Chains through further directories are checked per
 * request instead. Far above what a site's requests touch (WordPress: a few hundred directories).
 */
const MAX_WATCHED_DIRECTORIES = 4096;

export interface HtaccessStore {
  /** The merged configuration that applies to files in `directory` (site path with a trailing slash). */
  configFor(directory: string): Promise<DirectoryConfig>;
  close(): void;
}

export interface HtaccessStoreOptions {
  /** Prompt per-directory events (LocalFileSource.directoryWatch()), or null: stat every level per request. */
  readonly directoryWatch?: DirectoryWatch | null;
}

function ancestors(directory: string): string[] {
  const dirs = ['/'];
  const parts = directory.split('/').filter((p) => p !== '');
  let current = '/';
  for (const part of parts) {
    current += `${part}/`;
    dirs.push(current);
  }
  return dirs;
}

/** What identifies one version of an .htaccess file: absent, or its size and mtime. */
function signatureOf(stat: SourceStat | null): string {
  return stat?.kind === 'file' ? `${stat.size}:${stat.mtimeMs}` : '-';
}

function isMissingDirectory(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

interface Loaded {
  readonly signature: string;
  readonly config: Promise<DirectoryConfig>;
}

interface Merged {
  /** The signatures of every ancestor's .htaccess the merge was made from, joined. */
  readonly signatures: string;
  readonly config: Promise<DirectoryConfig>;
}

/** A stat under way, and the one queued to start when it ends (shared by everyone who arrived meanwhile). */
interface StatFlight {
  readonly stat: Promise<SourceStat | null>;
  next: Promise<SourceStat | null> | null;
}

/** Deletes every key of `map` that starts with `prefix`. */
function forgetUnder<V>(map: Map<string, V>, prefix: string, onForget?: (value: V) => void): void {
  for (const [key, value] of map) {
    if (!key.startsWith(prefix)) continue;
    map.delete(key);
    onForget?.(value);
  }
}

export function createHtaccessStore(source: FileSource, onWarning: (w: ParseWarning) => void,
  options: HtaccessStoreOptions = {}): HtaccessStore {
  const directoryWatch = options.directoryWatch ?? null;
  const reported = new Set<string>();
  const warn = (w: ParseWarning): void => {
    const key = `${w.file}\0${w.line}\0${w.message}`;
    if (reported.has(key)) return;
    reported.add(key);
    onWarning(w);
  };
  // Checked: compiled files by directory, merged chains by directory, both keyed by the signatures they came from.
  const perFile = new Map<string, Loaded>();
  const merged = new Map<string, Merged>();
  const flights = new Map<string, StatFlight>();
  // Watched: chains trusted without a stat while every directory on them is watched (`watches`), dropped by an
  // event in any of them. Entries are set before their loading starts, so an event during the load drops them.
  const trusted = new Map<string, Promise<DirectoryConfig>>();
  const watches = new Map<string, () => void>();
  // The source's own (batched) feed stays as a backstop: a change the per-directory watches could not see.
  const unwatch = source.watch((changes) => {
    if (changes.some((c) => c.kind === 'unknown' || c.path.endsWith(`/${HTACCESS_NAME}`))) {
      perFile.clear();
      merged.clear();
      trusted.clear();
    }
  });

  /** One stat of `path` that starts after this call (see StatFlight). */
  function statFromNow(path: string): Promise<SourceStat | null> {
    const flight = flights.get(path);
    if (flight === undefined) return startStat(path);
    flight.next ??= flight.stat.then(() => startStat(path), () => startStat(path));
    return flight.next;
  }

  function startStat(path: string): Promise<SourceStat | null> {
    const flight: StatFlight = { stat: source.stat(path), next: null };
    flights.set(path, flight);
    const land = (): void => { if (flights.get(path) === flight) flights.delete(path); };
    flight.stat.then(land, land);
    return flight.stat;
  }

  function loadOne(directory: string, stat: SourceStat | null): Promise<DirectoryConfig> {
    const signature = signatureOf(stat);
    const cached = perFile.get(directory);
    if (cached !== undefined && cached.signature === signature) return cached.config;
    const config = (async () => {
      if (stat?.kind !== 'file') return EMPTY_CONFIG;
      const path = `${directory}${HTACCESS_NAME}`;
      const text = (await source.readFile(path)).toString('utf8');
      return compileHtaccess(parseHtaccess(text, path, warn), directory, warn);
    })();
    const entry = { signature, config };
    perFile.set(directory, entry);
    // A failed read is not cached: the next request tries again.
    config.catch(() => { if (perFile.get(directory) === entry) perFile.delete(directory); });
    return config;
  }

  async function checkedConfigFor(directory: string, dirs: readonly string[]): Promise<DirectoryConfig> {
    const stats = await Promise.all(dirs.map((dir) => statFromNow(`${dir}${HTACCESS_NAME}`)));
    const signatures = stats.map(signatureOf).join('|');
    const cached = merged.get(directory);
    if (cached !== undefined && cached.signatures === signatures) return cached.config;
    const config = (async () => {
      let result = EMPTY_CONFIG;
      for (let i = 0; i < dirs.length; i++) {
        const own = await loadOne(dirs[i] ?? '/', stats[i] ?? null);
        if (own !== EMPTY_CONFIG) result = mergeConfigs(result, own);
      }
      return result;
    })();
    const entry = { signatures, config };
    merged.set(directory, entry);
    config.catch(() => { if (merged.get(directory) === entry) merged.delete(directory); });
    return config;
  }

  /** An event in watched `directory`: drop what it may have changed. */
  function onDirectoryEvent(directory: string, kind: 'rename' | 'change', name: string | null): void {
    if (name === HTACCESS_NAME) {
      forgetUnder(trusted, directory);
      return;
    }
    if (kind === 'change' && name !== null) return;
    // An entry created, removed or renamed may be a directory on some chain (or, name unknown, anything was):
    // its chains are dropped and its watches closed, as they may now watch a directory no longer there.
    const prefix = name === null ? directory : `${directory}${name}/`;
    forgetUnder(trusted, prefix);
    forgetUnder(watches, prefix, (close) => close());
  }

  /** True when `directory` is watched now (or does not exist, so its nearest existing ancestor's watch reports it). */
  function cover(watch: DirectoryWatch, directory: string): boolean {
    if (watches.has(directory)) return true;
    if (watches.size >= MAX_WATCHED_DIRECTORIES) return false;
    try {
      watches.set(directory, watch(directory, (kind, name) => onDirectoryEvent(directory, kind, name)));
      return true;
    } catch (err) {
      // A directory that does not exist: the chain walks root first, so its parent is watched already and reports
      // the directory's creation. Any other error (EMFILE, ENOSPC for inotify watches): not covered.
      return isMissingDirectory(err);
    }
  }

  function watchedConfigFor(watch: DirectoryWatch, directory: string): Promise<DirectoryConfig> {
    const hit = trusted.get(directory);
    if (hit !== undefined) return hit;
    const dirs = ancestors(directory);
    if (!dirs.every((dir) => cover(watch, dir))) return checkedConfigFor(directory, dirs);
    const config = checkedConfigFor(directory, dirs);
    trusted.set(directory, config);
    config.catch(() => { if (trusted.get(directory) === config) trusted.delete(directory); });
    return config;
  }

  return {
    configFor(directory: string): Promise<DirectoryConfig> {
      return directoryWatch !== null ? watchedConfigFor(directoryWatch, directory) : checkedConfigFor(directory, ancestors(directory));
    },
    close(): void {
      unwatch();
      for (const close of watches.values()) close();
      watches.clear();
      trusted.clear();
    },
  };
}
