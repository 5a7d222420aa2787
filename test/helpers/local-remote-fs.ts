/**
 * A RemoteFs over a local directory, for unit tests of the caches and the VFS: counts every call (to prove
 * cache hits cost no round trip) and can hold a reply back (to race a slow reply against a mutation).
 * Integration tests use the real SFTP RemoteFs against the harness sshd instead.
 */
import { constants, type Stats } from 'node:fs';
import { link, lstat, mkdir, open, readdir, readFile, readlink, rename, rmdir, stat, statfs, symlink, truncate, unlink, chmod, chown, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { FsError, type ErrnoCode } from '../../fs/errors.js';
import type { RemoteFile, RemoteFs, SetAttr } from '../../fs/remote/types.js';
import type { Attr, DirEntry, StatFs } from '../../fs/types.js';

export type Op = keyof RemoteFs | 'file.read' | 'file.write' | 'file.ftruncate' | 'file.fstat' | 'file.fsync' | 'file.close';

export interface LocalRemoteFs extends RemoteFs {
  readonly root: string;
  readonly calls: Record<string, number>;
  /** Total calls of the named operations (all when none named). */
  count(...ops: Op[]): number;
  resetCounts(): void;
  /** Replies of `op` for `path` wait (after the server answered) until the returned function is called. */
  holdReply(op: Op, path: string): () => void;
  /** Makes file writes fail with `code` from now on (undefined: stop failing). */
  failWrites(code: ErrnoCode | undefined): void;
  close(): Promise<void>;
}

function toAttr(s: Stats): Attr {
  return { mode: s.mode, size: s.size, uid: s.uid, gid: s.gid, nlink: s.nlink, atimeMs: s.atimeMs, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs };
}

function mapError(err: unknown, path: string): FsError {
  const code = (err as NodeJS.ErrnoException).code;
  const known: ErrnoCode[] = ['ENOENT', 'EACCES', 'EPERM', 'EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EISDIR', 'ENOSPC', 'EINVAL', 'EBADF', 'ELOOP'];
  return new FsError(known.find((k) => k === code) ?? 'EIO', (err as Error).message, path);
}

export function createLocalRemoteFs(root: string): LocalRemoteFs {
  const calls: Record<string, number> = {};
  const holds = new Map<string, Promise<void>>();
  let writeFailure: ErrnoCode | undefined;
  const local = (path: string): string => join(root, path);

  async function call<T>(op: Op, path: string, run: () => Promise<T>): Promise<T> {
    calls[op] = (calls[op] ?? 0) + 1;
    let result: T;
    try {
      result = await run();
    } catch (err) {
      await releaseHold(op, path);
      throw err instanceof FsError ? err : mapError(err, path);
    }
    await releaseHold(op, path);
    return result;
  }

  async function releaseHold(op: Op, path: string): Promise<void> {
    const hold = holds.get(`${op}:${path}`);
    if (hold) await hold;
  }

  async function readFully(handle: FileHandle, target: Buffer, position: number): Promise<number> {
    let got = 0;
    while (got < target.length) {
      const { bytesRead } = await handle.read(target, got, target.length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got;
  }

  function wrapFile(path: string, handle: FileHandle): RemoteFile {
    return {
      path,
      read: (position, length) => call('file.read', path, async () => {
        const buf = Buffer.alloc(length);
        return buf.subarray(0, await readFully(handle, buf, position));
      }),
      readInto: (position, target) => call('file.read', path, () => readFully(handle, target, position)),
      write: (data, position) => call('file.write', path, async () => {
        if (writeFailure) throw new FsError(writeFailure, 'injected write failure', path);
        await handle.write(data, 0, data.length, position);
      }),
      fstat: () => call('file.fstat', path, async () => toAttr(await handle.stat())),
      ftruncate: (size) => call('file.ftruncate', path, () => handle.truncate(size)),
      fsync: () => call('file.fsync', path, () => handle.sync()),
      close: () => call('file.close', path, () => handle.close()),
    };
  }

  return {
    root,
    calls,
    count: (...ops) => Object.entries(calls).filter(([op]) => ops.length === 0 || ops.includes(op as Op)).reduce((sum, [, n]) => sum + n, 0),
    resetCounts: () => {
      for (const key of Object.keys(calls)) delete calls[key];
    },
    holdReply(op, path) {
      const key = `${op}:${path}`;
      let release!: () => void;
      holds.set(key, new Promise<void>((resolve) => { release = resolve; }));
      return () => {
        holds.delete(key);
        release();
      };
    },
    failWrites(code) {
      writeFailure = code;
    },
    lstat: (path) => call('lstat', path, async () => toAttr(await lstat(local(path)))),
    stat: (path) => call('stat', path, async () => toAttr(await stat(local(path)))),
    readdir: (path) => call('readdir', path, async () => {
      const names = await readdir(local(path));
      return Promise.all(names.map(async (name): Promise<DirEntry> => ({ name, attr: toAttr(await lstat(join(local(path), name))) })));
    }),
    readlink: (path) => call('readlink', path, () => readlink(local(path))),
    open: (path, flags, mode) => call('open', path, async () => wrapFile(path, await open(local(path), flags, mode ?? 0o644))),
    readFile: (path) => call('readFile', path, () => readFile(local(path))),
    mkdir: (path, mode) => call('mkdir', path, async () => { await mkdir(local(path), mode); }),
    rmdir: (path) => call('rmdir', path, () => rmdir(local(path))),
    unlink: (path) => call('unlink', path, () => unlink(local(path))),
    rename: (from, to) => call('rename', from, () => rename(local(from), local(to))),
    symlink: (target, path) => call('symlink', path, () => symlink(target, local(path))),
    link: (existing, path) => call('link', path, () => link(local(existing), local(path))),
    setattr: (path, attrs: SetAttr) => call('setattr', path, async () => {
      if (attrs.mode !== undefined) await chmod(local(path), attrs.mode);
      if (attrs.uid !== undefined || attrs.gid !== undefined) await chown(local(path), attrs.uid ?? -1, attrs.gid ?? -1);
      if (attrs.size !== undefined) await truncate(local(path), attrs.size);
      if (attrs.atimeMs !== undefined || attrs.mtimeMs !== undefined) {
        const now = Date.now();
        await utimes(local(path), (attrs.atimeMs ?? now) / 1000, (attrs.mtimeMs ?? now) / 1000);
      }
    }),
    statfs: (path) => call('statfs', path, async (): Promise<StatFs> => {
      const s = await statfs(local(path));
      return { bsize: s.bsize, frsize: s.bsize, blocks: s.blocks, bfree: s.bfree, bavail: s.bavail, files: s.files, ffree: s.ffree, favail: s.ffree, namemax: 255 };
    }),
    close: async () => undefined,
  };
}

export const O = constants;
