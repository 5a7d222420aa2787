/**
 * POSIX path helpers for paths from the mount root (cache keys, change events, prefetch subtrees): absolute,
 * normalised, no trailing '/'. At the bottom of fs/ so that every layer, from the remote watcher up, can use them.
 */
import { posix } from 'node:path';

/** '/a/b/../c/' → '/a/c'; '' or '.' → '/'. Every cache key goes through this so one file has one key. */
export function normalizePath(path: string): string {
  // Fast path: FUSE and the dev server already pass normalised paths; this check is far cheaper than normalize().
  if (path.charCodeAt(0) === 0x2f && !path.includes('//') && !path.includes('/.') && (path.length === 1 || !path.endsWith('/'))) return path;
  const normal = posix.normalize(posix.join('/', path));
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

export function parentOf(path: string): string {
  if (path === '/') return '/';
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

export function childOf(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** `rel` (a path relative to `root`, '' for `root` itself) as a path from the mount root. */
export function joinUnder(root: string, rel: string): string {
  return rel === '' ? root : childOf(root, rel);
}

/** The inverse of joinUnder: `path` (at or below `root`) relative to `root`, '' for `root` itself. */
export function relativeTo(root: string, path: string): string {
  return path === root ? '' : path.slice(root === '/' ? 1 : root.length + 1);
}

/** True when `path` is `root` or below it. */
export function isWithin(path: string, root: string): boolean {
  if (root === '/') return true;
  return path === root || path.startsWith(`${root}/`);
}

/** `path` and every ancestor up to '/', nearest first. */
export function* selfAndAncestors(path: string): Generator<string> {
  let current = path;
  for (;;) {
    yield current;
    if (current === '/') return;
    current = parentOf(current);
  }
}
