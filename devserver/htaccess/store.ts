/**
 * Loads, compiles and caches .htaccess files through the FileSource, and merges them from the site root down to
 * a directory. Cached until FileSource.watch reports a change to an .htaccess file (or an unknown change), so an
 * edited rule applies to the next request without re-reading every file on every request.
 * Warnings for unsupported directives are emitted once per file, line and message for the server's lifetime.
 */
import type { FileSource } from '../file-source.js';
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

export function createHtaccessStore(source: FileSource, onWarning: (w: ParseWarning) => void): HtaccessStore {
  const reported = new Set<string>();
  const warn = (w: ParseWarning): void => {
    const key = `${w.file}\0${w.line}\0${w.message}`;
    if (reported.has(key)) return;
    reported.add(key);
    onWarning(w);
  };
  // Both maps hold promises so concurrent requests share one read. Invalidated together on any .htaccess change
  // (merged entries depend on every ancestor, and .htaccess edits are rare enough that exactness is not worth it).
  const perFile = new Map<string, Promise<DirectoryConfig>>();
  const merged = new Map<string, Promise<DirectoryConfig>>();
  const unwatch = source.watch((changes) => {
    if (changes.some((c) => c.kind === 'unknown' || c.path.endsWith(`/${HTACCESS_NAME}`))) {
      perFile.clear();
      merged.clear();
    }
  });

  function loadOne(directory: string): Promise<DirectoryConfig> {
    let entry = perFile.get(directory);
    if (entry === undefined) {
      entry = (async () => {
        const path = `${directory}${HTACCESS_NAME}`;
        const stat = await source.stat(path);
        if (stat?.kind !== 'file') return EMPTY_CONFIG;
        const text = (await source.readFile(path)).toString('utf8');
        return compileHtaccess(parseHtaccess(text, path, warn), directory, warn);
      })();
      perFile.set(directory, entry);
      // A failed read is not cached: the next request tries again.
      entry.catch(() => perFile.delete(directory));
    }
    return entry;
  }

  return {
    configFor(directory: string): Promise<DirectoryConfig> {
      let entry = merged.get(directory);
      if (entry === undefined) {
        entry = (async () => {
          let config = EMPTY_CONFIG;
          for (const dir of ancestors(directory)) {
            const own = await loadOne(dir);
            if (own !== EMPTY_CONFIG) config = mergeConfigs(config, own);
          }
          return config;
        })();
        merged.set(directory, entry);
        entry.catch(() => merged.delete(directory));
      }
      return entry;
    },
    close(): void {
      unwatch();
    },
  };
}
