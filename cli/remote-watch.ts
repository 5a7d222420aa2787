/**
 * Starts the remote change watcher (fs/watch) a `remote_watch` setting asks for, over the SFTP pool's exec
 * channel: shared by `devmount mount -o remote_watch=…` and the dev server of `serve user@host:path` /
 * `mount --serve`.
 */
import type { WatchedClock } from '../fs/cache/watched-clock.js';
import type { SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import type { ChangeEvent } from '../fs/types.js';
import { startRemoteWatcher, type RemoteWatcher, type WatchMethod } from '../fs/watch/remote-watcher.js';
import type { RemoteWatchSetting } from './mount-options.js';

function toWatchMethod(setting: Exclude<RemoteWatchSetting, 'auto' | 'off'>): WatchMethod {
  return setting === 'poll' ? 'sftp-poll' : setting;
}

/**
 * null when the setting is 'off'. `clock`: the caches' TTL clock, stopped while the watcher is healthy (its
 * events then keep the caches right without TTLs, fs/cache/watched-clock.ts).
 */
export async function startConfiguredWatcher(
  remote: SftpRemoteFs,
  setting: RemoteWatchSetting,
  intervalMs: number,
  onChanges: (changes: readonly ChangeEvent[]) => void,
  clock?: WatchedClock,
): Promise<RemoteWatcher | null> {
  if (setting === 'off') return null;
  const watcher = await startRemoteWatcher(remote, {
    remoteRoot: remote.remoteRoot,
    intervalMs,
    ...(setting !== 'auto' ? { method: toWatchMethod(setting) } : {}),
  }, onChanges);
  if (clock) {
    clock.setWatched(watcher.healthy());
    watcher.onHealth((healthy) => clock.setWatched(healthy));
  }
  return watcher;
}
