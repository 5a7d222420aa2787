/**
 * FileSource over the devmount VFS, in the same process: the dev server reads a remote tree through the
 * VFS caches with no kernel round trip. Change events come from the VFS itself (writes through
 * this process or its FUSE mount) and from the remote watcher (edits made on the server by anyone else).
 *
 * While the server is unreachable the VFS would wait up to its op timeout; a browser should not. Every
 * call here has its own, shorter deadline and fails with ETIMEDOUT, which the server answers with a
 * "remote unreachable" page; what the caching layer above already holds keeps being served.
 */
import { constants } from 'node:fs';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import { FsError, isFsError } from '../../fs/errors.js';
import { fileType, S_IFDIR, S_IFLNK, S_IFREG } from '../../fs/posix.js';
import type { Vfs } from '../../fs/vfs/types.js';
import type { Attr, ChangeEvent } from '../../fs/types.js';
import type { FileSource, SourceChange, SourceEntry, SourceStat } from '../file-source.js';

export interface VfsSourceOptions {
  /** Shown in the banner and logs: "user@host:/var/www/site". */
  readonly description: string;
  /** The remote root as the server names it (absolute): absolute symlink targets inside it stay in the site. */
  readonly remoteRootAbs?: string;
  /**
   * Where the same tree is visible as local files (a FUSE mount of this VFS), for php-cgi and CGI; a promise
   * while the mount is still being made (the source reads through the VFS meanwhile; localPath waits for it).
   */
  readonly localRoot?: string | Promise<string | undefined>;
  /** Deadline for one VFS call made for a request. */
  readonly requestTimeoutMs: number;
  /**
   * With no change feed from the server, report everything changed this often, so caches above revalidate
   * and nothing served is older than the VFS cache TTL. 0 when a remote watcher feeds us.
   * cli/remote-serve.ts passes 0 always: with watching off it turns the dev server's cache off instead, since
   * a periodic "everything changed" would also reload every open browser tab.
   */
  readonly revalidateEveryMs: number;
}

const READ_CHUNK = 256 * 1024;
const MAX_SYMLINK_HOPS = 40; // Linux's limit before ELOOP (path_resolution(7))

function kindOf(mode: number): SourceStat['kind'] {
  switch (fileType(mode)) {
    case S_IFREG: return 'file';
    case S_IFDIR: return 'directory';
    case S_IFLNK: return 'symlink';
    default: return 'other';
  }
}

function toSourceStat(attr: Attr): SourceStat {
  return { kind: kindOf(attr.mode), size: attr.size, mtimeMs: attr.mtimeMs, mode: attr.mode };
}

function toSourceChange(event: ChangeEvent): SourceChange {
  const kind = event.kind === 'create' || event.kind === 'delete' || event.kind === 'modify' ? event.kind : 'unknown';
  return { path: event.path, kind };
}

export interface VfsFileSource extends FileSource {
  /** Feeds change events detected on the server (remote watcher) to watchers of this source. */
  notifyRemoteChanges(changes: readonly ChangeEvent[]): void;
}

export function createVfsFileSource(vfs: Vfs, options: VfsSourceOptions): VfsFileSource {
  const opts = Object.freeze({ ...options });
  const listeners = new Set<(changes: readonly SourceChange[]) => void>();
  const emit = (changes: readonly SourceChange[]) => {
    for (const l of listeners) l(changes);
  };
  const unsubscribeVfs = vfs.onChange((event) => emit([toSourceChange(event)]));
  const revalidateTimer = opts.revalidateEveryMs > 0
    ? setInterval(() => emit([{ path: '/', kind: 'unknown' }]), opts.revalidateEveryMs)
    : null;
  revalidateTimer?.unref();

  /** Runs one VFS call under the request deadline. */
  const withDeadline = <T>(what: string, path: string, call: () => Promise<T>): Promise<T> => new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new FsError('ETIMEDOUT', `remote did not answer ${what} within ${opts.requestTimeoutMs} ms`, path)), opts.requestTimeoutMs);
    call().then(
      (value) => { clearTimeout(timer); resolve(value); },
      (err: unknown) => { clearTimeout(timer); reject(err); },
    );
  });

  /** Resolves symlinks component by component inside the site; null when it leaves the site or is missing. */
  const resolveInside = async (path: string): Promise<string | null> => {
    const pending = path.split('/').filter(Boolean);
    let resolved = '/';
    let hops = 0;
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (name === '.') continue;
      if (name === '..') {
        if (resolved === '/') return null; // above the site root
        resolved = posix.dirname(resolved);
        continue;
      }
      const candidate = posix.join(resolved, name);
      let attr: Attr;
      try {
        attr = await withDeadline('lstat', candidate, () => vfs.getattr(candidate));
      } catch (err) {
        if (isFsError(err, 'ENOENT') || isFsError(err, 'ENOTDIR')) return null;
        throw err;
      }
      if (kindOf(attr.mode) !== 'symlink') {
        resolved = candidate;
        continue;
      }
      if (++hops > MAX_SYMLINK_HOPS) throw new FsError('ELOOP', undefined, path);
      const target = await withDeadline('readlink', candidate, () => vfs.readlink(candidate));
      let rest: string[];
      if (target.startsWith('/')) {
        const root = opts.remoteRootAbs;
        if (!root || (target !== root && !target.startsWith(`${root}/`))) return null; // points outside the site
        rest = target.slice(root.length).split('/').filter(Boolean);
        resolved = '/';
      } else {
        rest = target.split('/').filter(Boolean);
      }
      pending.unshift(...rest);
    }
    return resolved;
  };

  const statFollowing = async (path: string): Promise<SourceStat | null> => {
    const real = await resolveInside(path);
    if (real === null) return null;
    try {
      return toSourceStat(await withDeadline('stat', real, () => vfs.getattr(real)));
    } catch (err) {
      if (isFsError(err, 'ENOENT') || isFsError(err, 'ENOTDIR')) return null;
      throw err;
    }
  };

  /** The errno of looking `path` up the way statFollowing does; null when it resolves inside the site. */
  const lookupError = async (path: string): Promise<string | null> => {
    try {
      const real = await resolveInside(path);
      if (real === null) return 'ENOENT';
      await withDeadline('stat', real, () => vfs.getattr(real));
      return null;
    } catch (err) {
      return isFsError(err) ? err.code : 'EIO';
    }
  };

  return {
    description: opts.description,
    stat: statFollowing,
    lookupError,
    realpath: resolveInside,
    readFile: (path) => withDeadline('read', path, () => vfs.readFile(path)),
    createReadStream(path, range) {
      async function* chunks(): AsyncGenerator<Buffer> {
        const fh = await withDeadline('open', path, () => vfs.open(path, constants.O_RDONLY));
        try {
          let position = range?.start ?? 0;
          const end = range ? range.end + 1 : Number.POSITIVE_INFINITY; // range.end is inclusive
          while (position < end) {
            const want = Math.min(READ_CHUNK, end - position);
            const at = position;
            const data = await withDeadline('read', path, () => vfs.read(fh, at, want));
            if (data.length === 0) return;
            position += data.length;
            yield data;
          }
        } finally {
          await vfs.release(fh);
        }
      }
      return Readable.from(chunks(), { objectMode: false });
    },
    async readdir(path) {
      const entries = await withDeadline('readdir', path, () => vfs.readdir(path));
      return entries
        .filter((e) => e.name !== '.' && e.name !== '..')
        .map((e): SourceEntry => ({ name: e.name, stat: toSourceStat(e.attr) }));
    },
    async localPath(path) {
      const root = await opts.localRoot;
      return root ? posix.join(root, path) : null;
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    notifyRemoteChanges(changes) {
      // The VFS caches first, so a request made because of this event cannot read what it replaced.
      for (const change of changes) vfs.refresh(change.path);
      emit(changes.map(toSourceChange));
    },
    async close() {
      unsubscribeVfs();
      if (revalidateTimer) clearInterval(revalidateTimer);
      listeners.clear();
    },
  };
}
