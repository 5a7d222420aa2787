/**
 * Where a backup may put what a server lists, and where it may link from: never onto the client's own files.
 * A listing comes from the server (a `find` it runs, or READDIR replies), so a hostile server can name
 * `../../etc/passwd`, list a file below a name it also lists as a symlink (`d` → `/etc`, then `d/passwd`), or
 * list one name twice. The snapshot tree then has to be built only from paths whose every ancestor is a
 * directory of the same listing; a previous snapshot is linked from only through real directories (one made
 * before this rule may hold a symlink where the server now lists a directory). Symlinks themselves are
 * stored as they are, with their targets unchanged (a backup keeps links, as `rsync -a` and `tar` do);
 * devmount never follows them.
 */
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';

/** Why `path` (relative, as TreeEntry.path) may not be placed, or null: it must name a child of a listed directory. */
export function unsafeListingPath(path: string, listedDirs: ReadonlySet<string>, seen: ReadonlySet<string>): string | null {
  if (path === '') return null;
  const parts = path.split('/');
  if (parts.some((part) => part === '' || part === '.' || part === '..')) return 'not a plain relative path';
  if (seen.has(path)) return 'listed twice';
  const parent = parts.slice(0, -1).join('/');
  if (!listedDirs.has(parent)) return 'its parent is not a listed directory (a symlink or a file on the server?)';
  return null;
}

/** Whether directories below `root` are real directories all the way down (no symlink on the way); memoised. */
export function realDirectories(root: string): (relDir: string) => Promise<boolean> {
  const known = new Map<string, Promise<boolean>>([['', Promise.resolve(true)]]);
  const check = (relDir: string): Promise<boolean> => {
    let answer = known.get(relDir);
    if (answer === undefined) {
      const slash = relDir.lastIndexOf('/');
      const parent = slash < 0 ? '' : relDir.slice(0, slash);
      // lstat of a path whose ancestors are real directories follows no link at all.
      answer = check(parent).then(async (real) => real && (await lstat(join(root, relDir)).then((st) => st.isDirectory(), () => false)));
      known.set(relDir, answer);
    }
    return answer;
  };
  return check;
}
