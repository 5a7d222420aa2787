/**
 * listTree: every entry under a remote directory, in one exec round trip when the server has a shell and GNU
 * find, else by a pipelined READDIR walk. Entries stream to `onEntry` as they arrive (the mount's caches can
 * fill while the listing runs) and are also returned.
 */
import { isConnectErrorKind } from './connect-error.js';
import { runFindListing } from './find-listing.js';
import { DEFAULT_WALK_CONCURRENCY, walkWithReaddir } from './readdir-walk.js';
import type { ListMethod, TreeEntry, TreeListing, TreeSource } from './types.js';

export interface ListTreeOptions {
  readonly onEntry?: (entry: TreeEntry) => void;
  /** Skip the exec attempt (e.g. after a previous listing on the same server had to fall back). */
  readonly method?: ListMethod;
  /** Directories in flight for the READDIR walk. */
  readonly concurrency?: number;
}

function joinServerPath(serverRoot: string, root: string): string {
  const rel = root.replace(/^\/+/, '');
  if (rel === '') return serverRoot;
  if (serverRoot === '') return rel;
  return serverRoot.endsWith('/') ? `${serverRoot}${rel}` : `${serverRoot}/${rel}`;
}

/** `root` is a RemoteFs path ('/' = the remote root). */
export async function listTree(source: TreeSource, root: string, options: ListTreeOptions = {}): Promise<TreeListing> {
  const entries: TreeEntry[] = [];
  const collect = (entry: TreeEntry) => {
    entries.push(entry);
    options.onEntry?.(entry);
  };
  if (options.method !== 'readdir' && source.shell && source.serverRoot !== undefined) {
    try {
      const result = await runFindListing(source.shell, joinServerPath(source.serverRoot, root), collect);
      // No entries at all means the command was not GNU find, was replaced by ForceCommand, or the
      // directory is missing: the READDIR walk then either works or reports the real SFTP error.
      if (result.entries > 0) {
        return { method: 'find', mtimePrecisionMs: 1, entries, problems: result.problems };
      }
    } catch (err) {
      // Only a refused exec channel means "no shell here"; anything else (parse error mid-stream after entries
      // were delivered, lost connection) is a real failure the caller must see.
      if (!isConnectErrorKind(err, 'no-exec') || entries.length > 0) throw err;
    }
  }
  const problems = await walkWithReaddir(source, root, collect, options.concurrency ?? DEFAULT_WALK_CONCURRENCY);
  return { method: 'readdir', mtimePrecisionMs: 1000, entries, problems };
}
