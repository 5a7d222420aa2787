/**
 * From the validated file content to the frozen DevmountConfig: `~` expanded in mount points, serve defaults
 * filled in, mounts in file order. `~` inside `options` (IdentityFile=~/…) is left for the SSH layer, which
 * expands it as ssh_config(5) does, exactly as for `devmount mount -o`.
 */
import { resolve } from 'node:path';
import { expandTilde, type Env } from './paths.js';
import { SERVE_DEFAULTS, type DevmountConfig, type MountConfig } from './types.js';
import type { ConfigFile } from './validate.js';

export function resolveConfig(file: ConfigFile, path: string, env: Env = process.env): DevmountConfig {
  const mounts: MountConfig[] = Object.entries(file.mounts).map(([name, entry]) => Object.freeze({
    name,
    remote: entry.remote,
    mountpoint: resolve(expandTilde(entry.mountpoint, env)),
    port: entry.port,
    options: entry.options,
    serve: entry.serve === undefined ? undefined : Object.freeze({
      port: entry.serve.port ?? SERVE_DEFAULTS.port,
      php: entry.serve.php ?? SERVE_DEFAULTS.php,
    }),
  }));
  return Object.freeze({ path, mounts: Object.freeze(mounts) });
}
