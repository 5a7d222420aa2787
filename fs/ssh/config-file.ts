/**
 * Reads ssh_config files (the user's, then the system's, as ssh(1) does; first value wins) and computes the
 * settings for one host with the `ssh-config` package. That package does not follow `Include`, so Include
 * lines are inlined here (ssh_config(5): relative paths are relative to ~/.ssh for the user file, /etc/ssh for
 * the system file; glob patterns allowed; nesting limited to 16 like OpenSSH's READCONF_MAX_DEPTH).
 */
import { readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import picomatch from 'picomatch';
import SSHConfig from 'ssh-config';
import { expandTilde } from './expand.js';
import { SshConfigError } from './types.js';

const MAX_INCLUDE_DEPTH = 16;

export const SYSTEM_CONFIG = '/etc/ssh/ssh_config';

/** Lower-cased directive name → value(s), first occurrence wins (repeatable ones such as IdentityFile are lists). */
export type HostConfig = Readonly<Record<string, string | string[]>>;

export interface ConfigSource {
  readonly file: string;
  /** Whether a missing file is an error (a file the user named) or just absent (the default locations). */
  readonly required: boolean;
  /** Directory relative Include paths are resolved against. */
  readonly includeBase: string;
}

/** The files ssh(1) reads: `-F file` alone, or ~/.ssh/config then /etc/ssh/ssh_config. */
export function configSources(explicitFile: string | undefined): ConfigSource[] {
  if (explicitFile !== undefined) {
    return [{ file: explicitFile, required: true, includeBase: join(homedir(), '.ssh') }];
  }
  return [
    { file: join(homedir(), '.ssh', 'config'), required: false, includeBase: join(homedir(), '.ssh') },
    { file: SYSTEM_CONFIG, required: false, includeBase: '/etc/ssh' },
  ];
}

export async function loadConfigText(sources: readonly ConfigSource[]): Promise<string> {
  const parts: string[] = [];
  for (const source of sources) {
    parts.push(await readWithIncludes(source.file, source.includeBase, source.required, 0));
  }
  return parts.join('\n');
}

export function computeHostConfig(text: string, host: string, user: string | undefined): HostConfig {
  let config: SSHConfig;
  try {
    config = SSHConfig.parse(text);
  } catch (err) {
    throw new SshConfigError(`cannot parse ssh config: ${(err as Error).message}`);
  }
  // matchExec: false — `Match exec` would run a shell with a blocking spawn inside the mount process,
  // which may deadlock on the mount itself; such blocks are skipped.
  return config.compute(user === undefined ? { Host: host } : { Host: host, User: user }, { ignoreCase: true, matchExec: false });
}

async function readWithIncludes(file: string, base: string, required: boolean, depth: number): Promise<string> {
  if (depth > MAX_INCLUDE_DEPTH) throw new SshConfigError(`ssh config Include nested deeper than ${MAX_INCLUDE_DEPTH} at ${file} (a loop?)`);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!required && (code === 'ENOENT' || code === 'ENOTDIR')) return '';
    throw new SshConfigError(`cannot read ssh config ${file}: ${code ?? (err as Error).message}`);
  }
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) {
    const include = /^\s*include(?:\s+|\s*=\s*)(.+)$/i.exec(line);
    if (!include) {
      out.push(line);
      continue;
    }
    for (const pattern of (include[1] ?? '').trim().split(/\s+/)) {
      for (const path of await expandIncludePattern(pattern, base)) {
        out.push(await readWithIncludes(path, base, false, depth + 1));
      }
    }
  }
  return out.join('\n');
}

async function expandIncludePattern(pattern: string, base: string): Promise<string[]> {
  const tilde = expandTilde(pattern);
  const absolute = isAbsolute(tilde) ? tilde : join(base, tilde);
  if (!/[*?[]/.test(absolute)) return [absolute];
  // Globs only in the last component, which covers the common `Include config.d/*`.
  const dir = dirname(absolute);
  const isMatch = picomatch(basename(absolute), { dot: false });
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return []; // OpenSSH ignores an Include glob whose directory does not exist
  }
  return names.filter((name) => isMatch(name)).sort().map((name) => join(dir, name));
}
