/**
 * A bulk-listing entry (fs/bulk TreeEntry) as the Attr an SFTP READDIR reply would have carried, so primed
 * listings and later SFTP replies agree: the cache compares size+mtime to notice server-side changes, and a
 * spurious difference would fire change events (live reload) for files nobody touched.
 */
import type { TreeEntry } from '../bulk/index.js';
import { S_IFDIR, S_IFLNK, S_IFREG } from '../posix.js';
import type { Attr } from '../types.js';

const TYPE_BITS: Readonly<Record<'file' | 'dir' | 'symlink', number>> = Object.freeze({
  file: S_IFREG,
  dir: S_IFDIR,
  symlink: S_IFLNK,
});

/** null for 'other' (fifo, socket, device): find's %y letter is not kept in TreeEntry, so the type bits are unknown. */
export function attrOfTreeEntry(entry: TreeEntry): Attr | null {
  if (entry.type === 'other') return null;
  // SFTP v3 carries whole seconds (draft-ietf-secsh-filexfer-02 §5): truncate find's finer mtime the same way.
  const mtimeMs = Math.floor(entry.mtimeMs / 1000) * 1000;
  return Object.freeze({
    mode: TYPE_BITS[entry.type] | entry.mode,
    size: entry.size,
    uid: entry.uid,
    gid: entry.gid,
    // find's format has no link count; 1 is what SFTP stat replies report too (fs/sftp/wire.ts toAttr), and
    // find(1) itself treats a directory link count < 2 as "unknown", so it does not skip subdirectories.
    nlink: 1,
    atimeMs: mtimeMs,
    mtimeMs,
    ctimeMs: mtimeMs,
  });
}
