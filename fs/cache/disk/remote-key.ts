/**
 * Which cache directory belongs to which remote. The key names the files a cache holds: user, host, port and
 * the server's absolute path of the root; two spellings of one remote (an ssh_config alias, `~/site` vs
 * `/home/u/site`) that resolve to the same key share one cache. The directory name is readable (host first)
 * and short; the full key is also written into the index, so a hash collision is caught as a foreign cache.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

export interface RemoteIdentity {
  readonly user: string;
  readonly host: string;
  readonly port: number;
  /** The server's absolute path of the root. */
  readonly root: string;
}

export function remoteKey(id: RemoteIdentity): string {
  return `${id.user}@${id.host}:${id.port}${id.root.startsWith('/') ? '' : '/'}${id.root}`;
}

/** `<cacheRoot>/<host>-<hash>`: the directory of one remote under the cache root. */
export function remoteCacheDir(cacheRoot: string, key: string, host: string): string {
  const readable = host.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'remote';
  return join(cacheRoot, `${readable}-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`);
}
