/**
 * A Vfs over a local directory (node:fs/promises), for adapter tests that exercise the FUSE translation
 * alone. The integration tests run the real SFTP stack; this one isolates fs/fuse from it.
 */
import { open, lstat, readdir, readlink, readFile, mkdir, rmdir, unlink, rename, symlink, link, chmod, lchown, utimes, truncate, statfs, type FileHandle } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { FsError, type ErrnoCode } from '../fs/errors.js';
import type { Vfs, VfsStats } from '../fs/vfs/types.js';
import type { Attr, DirEntry } from '../fs/types.js';

function toAttr(s: Stats): Attr {
  return { mode: s.mode, size: s.size, uid: s.uid, gid: s.gid, nlink: s.nlink, atimeMs: s.atimeMs, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs };
}

async function wrap<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new FsError((code ?? 'EIO') as ErrnoCode, (err as Error).message);
  }
}

export function createLocalVfs(root: string): Vfs & { calls: Map<string, number> } {
  const handles = new Map<number, FileHandle>();
  let next = 0;
  const calls = new Map<string, number>();
  const count = (op: string) => calls.set(op, (calls.get(op) ?? 0) + 1);
  const at = (p: string) => join(root, p);
  const handle = (fh: number): FileHandle => {
    const h = handles.get(fh);
    if (!h) throw new FsError('EBADF');
    return h;
  };
  const readLocal = (fh: number, position: number, length: number) => wrap(async () => {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle(fh).read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  });
  return {
    calls,
    getattr: (p) => wrap(async () => { count('getattr'); return toAttr(await lstat(at(p))); }),
    readdir: (p) => wrap(async () => {
      count('readdir');
      const names = await readdir(at(p));
      return Promise.all(names.map(async (name): Promise<DirEntry> => ({ name, attr: toAttr(await lstat(join(at(p), name))) })));
    }),
    readlink: (p) => wrap(() => readlink(at(p))),
    open: (p, flags) => wrap(async () => { count('open'); const fh = next++; handles.set(fh, await open(at(p), flags)); return fh; }),
    create: (p, mode, flags) => wrap(async () => { count('create'); const fh = next++; handles.set(fh, await open(at(p), flags ?? 'wx+', mode)); return fh; }),
    read: (fh, position, length) => readLocal(fh, position, length),
    readTransient: (fh, position, length) => readLocal(fh, position, length),
    write: (fh, data, position) => wrap(async () => {
      count('write');
      const { bytesWritten } = await handle(fh).write(data, 0, data.length, position);
      return bytesWritten;
    }),
    flush: async () => { count('flush'); },
    fsync: (fh) => wrap(() => handle(fh).sync()),
    ftruncate: (fh, size) => wrap(() => handle(fh).truncate(size)),
    release: (fh) => wrap(async () => { count('release'); const h = handle(fh); handles.delete(fh); await h.close(); }),
    readFile: (p) => wrap(() => readFile(at(p))),
    mkdir: (p, mode) => wrap(() => mkdir(at(p), mode).then(() => undefined)),
    rmdir: (p) => wrap(() => rmdir(at(p))),
    unlink: (p) => wrap(() => unlink(at(p))),
    rename: (a, b) => wrap(() => rename(at(a), at(b))),
    symlink: (target, p) => wrap(() => symlink(target, at(p))),
    link: (a, b) => wrap(() => link(at(a), at(b))),
    chmod: (p, mode) => wrap(() => chmod(at(p), mode)),
    chown: (p, uid, gid) => wrap(async () => { count('chown'); await lchown(at(p), uid, gid); }),
    utimens: (p, a, m) => wrap(() => utimes(at(p), a / 1000, m / 1000)),
    truncate: (p, size) => wrap(() => truncate(at(p), size)),
    statfs: (p) => wrap(async () => {
      const s = await statfs(at(p));
      return { bsize: s.bsize, frsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, favail: s.ffree, namemax: 255 };
    }),
    refresh: () => { count('refresh'); },
    onChange: () => () => undefined,
    stats: (): VfsStats => ({ state: 'connected', connectedSinceMs: Date.now(), reconnects: 0, inFlight: 0, cache: {} }),
    close: async () => {
      await Promise.all([...handles.values()].map((h) => h.close()));
      handles.clear();
    },
    // No cache here: nothing may be answered without asking this VFS.
    freshEntry: () => undefined,
    listingFreshForMs: () => 0,
    mirror: () => () => undefined,
  };
}
