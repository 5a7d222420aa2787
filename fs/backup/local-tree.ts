/** Local-side helpers for a snapshot tree: metadata comparison and clearing stale entries from a reused partial run. */
import type { Stats } from 'node:fs';
import { chmod, lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { TreeEntry } from '../bulk/types.js';
import type { LocalFileMeta } from './manifest.js';
import { removeTree } from './store.js';

/**
 * Size, permission bits and mtime at the listing's precision (SFTP v3 carries whole seconds); local mtimes
 * were set with utimesSeconds(), so truncating them gives back the millisecond the listing had.
 */
export function sameFile(st: Stats, entry: TreeEntry, mtimePrecisionMs: number): boolean {
  const meta = fileMetaOf(st);
  return meta !== null && sameFileMeta(meta, entry, mtimePrecisionMs);
}

export function sameFileMeta(meta: LocalFileMeta, entry: TreeEntry, mtimePrecisionMs: number): boolean {
  return meta.size === entry.size
    && meta.mode === entry.mode
    && Math.floor(meta.mtimeMs / mtimePrecisionMs) === Math.floor(entry.mtimeMs / mtimePrecisionMs);
}

/** A regular file's metadata as the manifest records it; null for anything else. */
export function fileMetaOf(st: Stats): LocalFileMeta | null {
  return st.isFile() ? { size: st.size, mode: st.mode & 0o7777, mtimeMs: Math.floor(st.mtimeMs) } : null;
}

/**
 * A millisecond time as the seconds utimes(2) gets. Node passes a double and libuv splits it into
 * tv_sec/tv_nsec; at today's epoch a double resolves ~240 ns, so X.454 s can come back as X.453999996 and
 * truncate to the wrong millisecond. Half a microsecond more reads back as the intended millisecond under
 * both truncation and rounding.
 */
export function utimesSeconds(ms: number): number {
  return (ms + 0.0005) / 1000;
}

export async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw err;
  }
}

/**
 * Removes from a reused partial snapshot everything the new listing does not have with the same type, so the
 * tree ends up an exact copy. Directories get u+rwx on the way (a run interrupted while applying modes may
 * have left some read-only); their final modes are applied at the end of the run.
 */
export async function removeStaleEntries(dir: string, rel: string, wanted: ReadonlyMap<string, TreeEntry>): Promise<void> {
  const st = await lstat(dir);
  if ((st.mode & 0o700) !== 0o700) await chmod(dir, (st.mode & 0o7777) | 0o700);
  for (const item of await readdir(dir, { withFileTypes: true })) {
    const childRel = rel === '' ? item.name : `${rel}/${item.name}`;
    const childPath = join(dir, item.name);
    const entry = wanted.get(childRel);
    const localType = item.isDirectory() ? 'dir' : item.isSymbolicLink() ? 'symlink' : item.isFile() ? 'file' : 'other';
    if (!entry || entry.type !== localType) {
      await removeTree(childPath);
    } else if (localType === 'dir') {
      await removeStaleEntries(childPath, childRel, wanted);
    } else if (localType === 'symlink' && (await readlink(childPath)) !== entry.linkTarget) {
      await removeTree(childPath);
    }
  }
}
