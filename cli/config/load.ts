/**
 * Reads, validates and resolves the config file: `--config FILE` or `$XDG_CONFIG_HOME/devmount/config.json`.
 * Every problem becomes one line naming the file and where in it (line:column for bad JSON, the key path for a
 * bad value), exit code 2 (usage).
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UserError } from '../user-error.js';
import { JsonSyntaxError, parseJson } from './json-position.js';
import { defaultConfigPath, expandTilde, type Env } from './paths.js';
import { resolveConfig } from './resolve.js';
import type { DevmountConfig, MountConfig } from './types.js';
import { ConfigValidationError, validateConfig } from './validate.js';

/** `--config FILE` (with `~` expanded) or the default location. */
export function configPathFrom(option: string | undefined, env: Env = process.env): string {
  return option === undefined ? defaultConfigPath(env) : resolve(expandTilde(option, env));
}

/** Parses and validates config text; `path` is only used in messages. */
export function parseConfigText(text: string, path: string, env: Env = process.env): DevmountConfig {
  let raw: unknown;
  try {
    raw = parseJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new UserError('usage', `${path}:${err.line}:${err.column}: bad JSON: ${err.message.replace(/^line \d+, column \d+: /, '')}`);
    throw err;
  }
  try {
    return resolveConfig(validateConfig(raw), path, env);
  } catch (err) {
    if (err instanceof ConfigValidationError) throw new UserError('usage', `${path}: ${err.message}`);
    throw err;
  }
}

export async function loadConfig(option: string | undefined, env: Env = process.env): Promise<DevmountConfig> {
  const path = configPathFrom(option, env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new UserError('usage', `no config file at ${path}: create it with your mounts (see "Start at login" in the README) or pass --config FILE`);
    }
    if (code === 'EISDIR') throw new UserError('usage', `${path} is a directory, not a config file`);
    throw new UserError('usage', `cannot read ${path}: ${(err as Error).message}`);
  }
  return parseConfigText(text, path, env);
}

/**
 * The mounts named on the command line (all when none), in config order. An unknown name is a usage error that
 * lists the configured ones.
 */
export function selectMounts(config: DevmountConfig, names: readonly string[]): readonly MountConfig[] {
  if (names.length === 0) return config.mounts;
  const known = new Set(config.mounts.map((m) => m.name));
  const unknown = names.filter((n) => !known.has(n));
  if (unknown.length > 0) {
    const list = config.mounts.length === 0 ? 'none are configured' : `configured: ${config.mounts.map((m) => m.name).join(', ')}`;
    throw new UserError('usage', `no mount named ${unknown.map((n) => JSON.stringify(n)).join(', ')} in ${config.path} (${list})`);
  }
  const wanted = new Set(names);
  return config.mounts.filter((m) => wanted.has(m.name));
}
