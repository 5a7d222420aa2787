/**
 * The fallback listing for servers without a shell: a READDIR walk with many directories in flight (as sshfs
 * keeps up to 32 READDIRs outstanding), using the attributes each READDIR reply carries, so no per-file stat.
 * Symlink targets cost one READLINK each, also pipelined.
 */
import { fileType, S_IFDIR, S_IFLNK, S_IFREG } from '../posix.js';
import type { Attr } from '../types.js';
import { WorkQueue } from './work-queue.js';
import type { EntryType, ListProblem, TreeEntry, TreeSource } from './types.js';

export const DEFAULT_WALK_CONCURRENCY = 32;

function typeOf(mode: number): EntryType {
  switch (fileType(mode)) {
    case S_IFREG: return 'file';
    case S_IFDIR: return 'dir';
    case S_IFLNK: return 'symlink';
    default: return 'other';
  }
}

export function entryFromAttr(path: string, attr: Attr, linkTarget?: string): TreeEntry {
  const type = typeOf(attr.mode);
  return {
    path,
    type,
    mode: attr.mode & 0o7777,
    size: attr.size,
    mtimeMs: attr.mtimeMs,
    uid: attr.uid,
    gid: attr.gid,
    ...(type === 'symlink' ? { linkTarget: linkTarget ?? '' } : {}),
  };
}

/** `root` is a RemoteFs path ('/' = the remote root). Paths in entries are relative to it. */
export async function walkWithReaddir(
  source: TreeSource,
  root: string,
  onEntry: (entry: TreeEntry) => void,
  concurrency = DEFAULT_WALK_CONCURRENCY,
): Promise<ListProblem[]> {
  const fs = source.fs;
  const problems: ListProblem[] = [];
  const base = root.endsWith('/') ? root : `${root}/`;
  const remotePath = (rel: string) => (rel === '' ? root : `${base}${rel}`);
  // The root follows a symlink, as `find -H` does: /var/www is often a link to the real tree.
  const rootAttr = await fs.stat(root);
  onEntry(entryFromAttr('', rootAttr));
  if (typeOf(rootAttr.mode) !== 'dir') return problems;

  const queue = new WorkQueue(concurrency);
  const listDir = (rel: string, mustSucceed: boolean) => async () => {
    let list;
    try {
      list = await fs.readdir(remotePath(rel));
    } catch (err) {
      if (mustSucceed) throw err;
      problems.push({ path: rel, message: (err as Error).message });
      return;
    }
    for (const item of list) {
      if (item.name === '.' || item.name === '..') continue;
      const childRel = rel === '' ? item.name : `${rel}/${item.name}`;
      const type = typeOf(item.attr.mode);
      if (type === 'dir') {
        onEntry(entryFromAttr(childRel, item.attr));
        queue.add(listDir(childRel, false));
      } else if (type === 'symlink') {
        queue.add(async () => {
          try {
            onEntry(entryFromAttr(childRel, item.attr, await fs.readlink(remotePath(childRel))));
          } catch (err) {
            problems.push({ path: childRel, message: (err as Error).message });
          }
        });
      } else {
        onEntry(entryFromAttr(childRel, item.attr));
      }
    }
  };
  queue.add(listDir('', true));
  await queue.drain();
  return problems;
}
