/**
 * --exclude / --exclude-from: gitignore syntax (gitignore(5)) through the `ignore` package. A directory is
 * tested with a trailing '/' so "cache/" patterns match it; an excluded directory excludes its subtree.
 */
import ignore, { type Ignore } from 'ignore';

export interface ExcludeFilter {
  excluded(path: string, isDir: boolean): boolean;
}

export function createExcludeFilter(patterns: readonly string[]): ExcludeFilter {
  if (patterns.length === 0) return { excluded: () => false };
  const ig: Ignore = ignore().add([...patterns]);
  return {
    excluded: (path, isDir) => path !== '' && ig.ignores(isDir ? `${path}/` : path),
  };
}

/** Lines of an --exclude-from file: blank lines and '#' comments are handled by `ignore` itself. */
export function parseExcludeFile(text: string): string[] {
  return text.split(/\r?\n/);
}
