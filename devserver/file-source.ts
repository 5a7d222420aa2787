/**
 * What the dev server reads through. Every middleware uses this interface, never node:fs directly, so the
 * same server runs over a local directory (sources/local.ts) or the devmount VFS in the same process
 * (sources/vfs.ts, no kernel round trip). Paths are POSIX, absolute from the site root, already decoded and
 * checked against traversal by the request-target parser.
 */
import type { Readable } from 'node:stream';

export interface SourceStat {
  readonly kind: 'file' | 'directory' | 'symlink' | 'other';
  readonly size: number;
  readonly mtimeMs: number;
  readonly mode: number;
}

export interface SourceEntry {
  readonly name: string;
  readonly stat: SourceStat;
}

export interface SourceChange {
  /** Site-root-relative path, '/a/b.css'. */
  readonly path: string;
  readonly kind: 'create' | 'modify' | 'delete' | 'unknown';
}

/**
 * Watches the entries of one directory (site path with a trailing slash) and calls `onEvent` for each change, at
 * once and unbatched: 'rename' when an entry appeared, vanished or was renamed, 'change' when its content or
 * attributes changed; name null when the entry is not known (and after a watch error). Throws ENOENT or ENOTDIR
 * when the directory does not exist. Returns the closer.
 */
export type DirectoryWatch = (path: string, onEvent: (kind: 'rename' | 'change', name: string | null) => void) => () => void;

export interface FileSource {
  /** Human description for the start-up banner and logs ("/home/me/site", "deploy@host:/var/www"). */
  readonly description: string;
  /** stat following symlinks inside the root; null when the path does not exist (ENOENT/ENOTDIR). */
  stat(path: string): Promise<SourceStat | null>;
  /**
   * Why `path` cannot be looked up, as an errno name (ENOENT, ENOTDIR, EACCES, ELOOP, ENAMETOOLONG …), or null
   * when it can: asked once a request ends in a 404, for the machine fields of its log line. Optional: a source
   * without it logs 404s without errno.
   */
  lookupError?(path: string): Promise<string | null>;
  /**
   * The path with every symlink resolved, still root-relative; null when it resolves outside the root
   * (the caller answers 403 unless --follow-symlinks) or does not exist.
   */
  realpath(path: string): Promise<string | null>;
  readFile(path: string): Promise<Buffer>;
  /** Inclusive byte range, as fs.createReadStream. */
  createReadStream(path: string, range?: { start: number; end: number }): Readable;
  readdir(path: string): Promise<SourceEntry[]>;
  /**
   * A real local filesystem path for this site path, when there is one (php-cgi and CGI scripts need a file
   * they can open): the directory itself for local sources, the FUSE mount path or a synced cache for the VFS.
   */
  localPath(path: string): Promise<string | null>;
  /** Change notifications (batched by the source as it likes); returns the unsubscriber. */
  watch(listener: (changes: readonly SourceChange[]) => void): () => void;
  close(): Promise<void>;
}
