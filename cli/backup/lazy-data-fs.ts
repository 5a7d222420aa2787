/**
 * A RemoteFs whose file data travels over extra SFTP connections that are opened only when first needed
 * (bench:backup "no change"): a run that finds nothing to copy lists the tree over the metadata
 * connection's exec channel and hard-links locally, so each data connection it opened up front was a full
 * SSH handshake (TCP, KEX, auth, channel, SFTP init: ~10 round trips) for nothing.
 *
 * Path operations always go to the metadata connection; open() and readFile() go round robin over the data
 * connections once they are up. `warmUp()` starts opening them early (the engine calls it as soon as it knows
 * files must be copied), so the handshakes overlap the rest of the planning. If they cannot be opened, the
 * metadata connection carries the files too: slower, but the run goes on (it already authenticated once).
 */
import type { RemoteFile, RemoteFs, SetAttr } from '../../fs/remote/types.js';
import type { Attr, DirEntry, StatFs } from '../../fs/types.js';

export interface ClosableRemoteFs extends RemoteFs {
  close(): Promise<void>;
}

export interface LazyDataFs extends RemoteFs {
  /** Starts opening the data connections if that has not started yet; never throws. */
  warmUp(): void;
  /** Closes the data connections (waiting for any still being opened); the metadata one is the caller's. */
  closeData(): Promise<void>;
}

/** `openData` opens every data connection; it may reject (the metadata connection is then used for files). */
export function createLazyDataFs(meta: RemoteFs, openData: () => Promise<ClosableRemoteFs[]>): LazyDataFs {
  // Settled once: the data connections, or [] when there are none or opening failed.
  let data: Promise<ClosableRemoteFs[]> | null = null;
  let next = 0;
  const connections = (): Promise<ClosableRemoteFs[]> => {
    // A failure is not retried on every open(): falling back to `meta` keeps the run going.
    data ??= openData().catch(() => []);
    return data;
  };
  const forFile = async (): Promise<RemoteFs> => {
    const conns = await connections();
    if (conns.length === 0) return meta;
    const conn = conns[next % conns.length] as RemoteFs;
    next += 1;
    return conn;
  };
  return {
    lstat: (path: string): Promise<Attr> => meta.lstat(path),
    stat: (path: string): Promise<Attr> => meta.stat(path),
    readdir: (path: string): Promise<DirEntry[]> => meta.readdir(path),
    readlink: (path: string): Promise<string> => meta.readlink(path),
    open: async (path: string, flags: number, mode?: number): Promise<RemoteFile> => (await forFile()).open(path, flags, mode),
    readFile: async (path: string): Promise<Buffer> => (await forFile()).readFile(path),
    mkdir: (path: string, mode: number): Promise<void> => meta.mkdir(path, mode),
    rmdir: (path: string): Promise<void> => meta.rmdir(path),
    unlink: (path: string): Promise<void> => meta.unlink(path),
    rename: (from: string, to: string): Promise<void> => meta.rename(from, to),
    symlink: (target: string, path: string): Promise<void> => meta.symlink(target, path),
    link: (existing: string, path: string): Promise<void> => meta.link(existing, path),
    setattr: (path: string, attrs: SetAttr): Promise<void> => meta.setattr(path, attrs),
    statfs: (path: string): Promise<StatFs> => meta.statfs(path),
    warmUp: () => { void connections(); },
    closeData: async () => {
      if (data === null) return;
      await Promise.allSettled((await data).map((c) => c.close()));
    },
  };
}
