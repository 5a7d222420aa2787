/**
 * A VFS whose readdir of a chosen directory runs work of the test's between the VFS's answer and the mount's
 * use of it: how the directory-table tests report a change while a listing is on its way into the table.
 */
import type { DirEntry } from '../../fs/types.js';
import type { Vfs } from '../../fs/vfs/types.js';

/** Per directory, work to do inside its next readdir; it returns the entries the mount gets. */
export type DuringReaddir = Map<string, (entries: DirEntry[]) => Promise<DirEntry[]>>;

/** `vfs` with each readdir passed through `during` (an entry is used once), and `listed` receiving every path. */
export function hookReaddir(vfs: Vfs, during: DuringReaddir, listed: string[] = []): Vfs {
  return new Proxy(vfs, {
    get: (target, key, receiver) => key === 'readdir'
      ? async (path: string) => {
        listed.push(path);
        const entries = await target.readdir(path);
        const work = during.get(path);
        during.delete(path);
        return work ? work(entries) : entries;
      }
      : Reflect.get(target, key, receiver),
  });
}
