/**
 * The configured mounts as `devmount status` shows them: for each mount in the config file, whether it is
 * mounted, the connection state of its daemon, and the URL of the dev server `up` started. Exported for
 * cli/commands/status.ts, which lists live mounts itself and adds this section.
 */
import { access } from 'node:fs/promises';
import { loadConfig } from '../config/load.js';
import { defaultConfigPath } from '../config/paths.js';
import type { LiveMount } from '../control/registry.js';
import { canonicalPath, mountPointState, mountPoints } from './mount-table.js';
import { liveServeRecord } from './serve-records.js';

export interface ConfiguredMountStatus {
  readonly name: string;
  readonly remote: string;
  readonly mountpoint: string;
  readonly mounted: boolean;
  /**
   * The daemon's connection state when a devmount daemon answers for the mount point ('connected',
   * 'reconnecting', …); else 'unmounted', 'stale' (a dead mount), or 'mounted' (something else is mounted there).
   */
  readonly state: string;
  /** null when the mount has no dev server running (JSON keeps the key). */
  readonly serveUrl: string | null;
}

export interface ConfiguredStatus {
  readonly configPath: string;
  readonly mounts: readonly ConfiguredMountStatus[];
}

/**
 * Undefined when there is no config to show: no `--config` given and no file at the default location (people
 * who only use `devmount mount` have none). A config that exists but is invalid is an error (exit 2), as for `up`.
 */
export async function configuredMountStatus(configOption: string | undefined, live: readonly LiveMount[]): Promise<ConfiguredStatus | undefined> {
  if (configOption === undefined && !await access(defaultConfigPath()).then(() => true, () => false)) return undefined;
  const config = await loadConfig(configOption);
  const points = await mountPoints();
  const mounts = await Promise.all(config.mounts.map(async (mount): Promise<ConfiguredMountStatus> => {
    const canonical = await canonicalPath(mount.mountpoint);
    const daemon = live.find((m) => m.mountpoint === mount.mountpoint || m.mountpoint === canonical);
    const onDisk = await mountPointState(mount.mountpoint, points);
    const state = daemon !== undefined ? daemon.state : onDisk;
    const serve = await liveServeRecord(mount.name);
    return {
      name: mount.name,
      remote: mount.remote,
      mountpoint: mount.mountpoint,
      mounted: daemon !== undefined || onDisk !== 'unmounted',
      state,
      serveUrl: serve?.url ?? null,
    };
  }));
  return { configPath: config.path, mounts };
}

export function formatConfiguredTable({ configPath, mounts: rows }: ConfiguredStatus): string {
  if (rows.length === 0) return `\nno mounts configured in ${configPath}\n`;
  const table = [['NAME', 'MOUNTPOINT', 'REMOTE', 'STATE', 'SERVE']];
  for (const r of rows) table.push([r.name, r.mountpoint, r.remote, r.state, r.serveUrl ?? '-']);
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const lines = table.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  return `\nconfigured in ${configPath}:\n${lines.join('\n')}\n`;
}
