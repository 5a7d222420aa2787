/**
 * Loads, compiles and caches .htaccess files through the FileSource, and merges them from the site root down to
 * a directory. A cached file is used while its size and mtime are unchanged (one stat per directory level and
 * request), so an edited rule applies to the very next request without re-reading every file on every request.
 * Warnings for unsupported directives are emitted once per file, line and message for the server's lifetime.
 */
import type { FileSource, SourceStat } from '../file-source.js';
import { compileHtaccess, EMPTY_CONFIG, mergeConfigs, type DirectoryConfig } from './config.js';
import { parseHtaccess, type ParseWarning } from './parser.js';

export const HTACCESS_NAME = '.htaccess';

export interface HtaccessStore {
  /** The merged configuration that applies to files in `directory` (site path with a trailing slash). */
  configFor(directory: string): Promise<DirectoryConfig>;
  close(): void;
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

interface Loaded {
  readonly signature: string;
  readonly config: Promise<DirectoryConfig>;
}

interface Merged {
  /** The signatures of every ancestor's .htaccess the merge was made from, joined. */
  readonly signatures: string;
  readonly config: Promise<DirectoryConfig>;
}

export function createHtaccessStore(source: FileSource, onWarning: (w: ParseWarning) => void): HtaccessStore {
  const reported = new Set<string>();
  const warn = (w: ParseWarning): void => {
    const key = `${w.file}\0${w.line}\0${w.message}`;
    if (reported.has(key)) return;
    reported.add(key);
    onWarning(w);
  };
  // Compiled files and merged chains are cached, but every request stats the .htaccess files of its directory
  // chain (through the uncached source) and uses a cached entry only when those stats still match, as Apache
  // reads them per request. The watcher alone is too late: WordPress writes .htaccess and at once requests a
  // pretty URL from itself (wp_install_maybe_enable_pretty_permalinks()), before the change event arrives.
  const perFile = new Map<string, Loaded>();
  const merged = new Map<string, Merged>();
  const unwatch = source.watch((changes) => {
    if (changes.some((c) => c.kind === 'unknown' || c.path.endsWith(`/${HTACCESS_NAME}`))) {
      perFile.clear();
      merged.clear();
    }
  });

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

  return {
    async configFor(directory: string): Promise<DirectoryConfig> {
      const dirs = ancestors(directory);
      const stats = await Promise.all(dirs.map((dir) => source.stat(`${dir}${HTACCESS_NAME}`)));
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
    },
    close(): void {
      unwatch();
    },
  };
}
