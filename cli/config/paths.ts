/**
 * Where devmount keeps per-user files, by the XDG Base Directory Specification
 * (https://specifications.freedesktop.org/basedir-spec/latest/): config under $XDG_CONFIG_HOME (default
 * ~/.config), logs and state under $XDG_STATE_HOME (default ~/.local/state). A relative XDG_* value is invalid
 * per the spec and ignored. Pure functions of the environment, so tests pass their own.
 */
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

export function homeDir(env: Env = process.env): string {
  const home = env.HOME;
  return home !== undefined && isAbsolute(home) ? home : homedir();
}

function xdgDir(env: Env, variable: string, fallback: readonly string[]): string {
  const value = env[variable];
  return value !== undefined && isAbsolute(value) ? value : join(homeDir(env), ...fallback);
}

export function configHome(env: Env = process.env): string {
  return xdgDir(env, 'XDG_CONFIG_HOME', ['.config']);
}

export function stateHome(env: Env = process.env): string {
  return xdgDir(env, 'XDG_STATE_HOME', ['.local', 'state']);
}

export function cacheHome(env: Env = process.env): string {
  return xdgDir(env, 'XDG_CACHE_HOME', ['.cache']);
}

/** `$XDG_CACHE_HOME/devmount/`: the disk caches of file contents, one directory per remote. */
export function devmountCacheDir(env: Env = process.env): string {
  return join(cacheHome(env), 'devmount');
}

/** `$XDG_CONFIG_HOME/devmount/config.json`. */
export function defaultConfigPath(env: Env = process.env): string {
  return join(configHome(env), 'devmount', 'config.json');
}

/** `$XDG_STATE_HOME/devmount/`: the `up` log and the records of dev servers started by `up`. */
export function devmountStateDir(env: Env = process.env): string {
  return join(stateHome(env), 'devmount');
}

/** `~` and `~/…` → the home directory, as a shell would expand them; anything else is returned unchanged. */
export function expandTilde(path: string, env: Env = process.env): string {
  if (path === '~') return homeDir(env);
  if (path.startsWith('~/')) return join(homeDir(env), path.slice(2));
  return path;
}
