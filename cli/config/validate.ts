/**
 * Checks a parsed config file against the format of schema/config.schema.json and reports the FIRST problem as
 * one line naming the key path (`mounts.site.port: …`). The schema is for editors and other tools; this is what
 * devmount itself runs, with messages a person can act on. test/config-schema.test.ts keeps the two in step.
 * The `options` string is additionally checked with the mount command's own `-o` parser, so a config accepts
 * exactly the spellings `devmount mount -o` does.
 */
import { parseOptionList } from '../mount-options.js';
import { isUserError } from '../user-error.js';

/** Shapes as written in the file (after validation), before `~` expansion and defaults. */
export interface ServeEntry {
  readonly port?: number;
  readonly php?: boolean;
}
export interface MountEntry {
  readonly remote: string;
  readonly mountpoint: string;
  readonly port?: number;
  readonly options?: string;
  readonly serve?: ServeEntry;
}
export interface ConfigFile {
  readonly $schema?: string;
  readonly mounts: Readonly<Record<string, MountEntry>>;
}

export class ConfigValidationError extends Error {
  /** e.g. `mounts.site.mountpoint`; '' for the top level. */
  readonly keyPath: string;
  constructor(keyPath: string, problem: string) {
    super(keyPath === '' ? problem : `${keyPath}: ${problem}`);
    this.name = 'ConfigValidationError';
    this.keyPath = keyPath;
  }
}

// The same patterns appear in schema/config.schema.json: change both together.
/** A mount's name is typed on the command line (`devmount up site`): no spaces, no dots (they separate key paths). */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** `[user@]host:[path]`, host an ssh_config alias, a name, an IPv4 address or a bracketed IPv6 address. */
export const REMOTE_PATTERN = /^([^\s@:/[\]]+@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):/;
/** Absolute, or under the home directory; a relative path would depend on where `up` happens to run. */
export const MOUNTPOINT_PATTERN = /^(~$|~\/|\/)/;

const TOP_KEYS = ['$schema', 'mounts'] as const;
const MOUNT_KEYS = ['remote', 'mountpoint', 'port', 'options', 'serve'] as const;
const SERVE_KEYS = ['port', 'php'] as const;

function childPath(parent: string, key: string): string {
  const segment = /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(key) ? key : JSON.stringify(key);
  if (parent === '') return segment.startsWith('"') ? `[${segment}]` : segment;
  return segment.startsWith('"') ? `${parent}[${segment}]` : `${parent}.${segment}`;
}

/** How a JSON value is called in a message: `"22" (a string)`. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string': return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} (a string)`;
    case 'number': return `${value} (a number)`;
    case 'boolean': return `${value} (true/false)`;
    case 'object': return 'an object';
    default: return typeof value;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

function rejectUnknownKeys(object: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const key of Object.keys(object)) {
    if (allowed.includes(key)) continue;
    const near = allowed.find((a) => a.toLowerCase() === key.toLowerCase() || editDistance(a, key) <= 2);
    const hint = near === undefined ? '' : ` (did you mean "${near}"?)`;
    throw new ConfigValidationError(childPath(path, key), `unknown key${hint}; allowed here: ${allowed.join(', ')}`);
  }
}

function requireObject(value: unknown, path: string, example: string): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new ConfigValidationError(path, `must be an object like ${example}, not ${describeValue(value)}`);
  }
  return value;
}

function checkString(value: unknown, path: string, what: string): string {
  if (typeof value !== 'string') throw new ConfigValidationError(path, `must be a string (${what}), not ${describeValue(value)}`);
  return value;
}

function checkPort(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw new ConfigValidationError(path, `must be a whole number from 1 to 65535, not ${describeValue(value)}`);
  }
  return value;
}

function checkServe(value: unknown, path: string): ServeEntry {
  const serve = requireObject(value, path, '{"port": 8080, "php": true}');
  rejectUnknownKeys(serve, SERVE_KEYS, path);
  const out: { port?: number; php?: boolean } = {};
  if (serve.port !== undefined) out.port = checkPort(serve.port, childPath(path, 'port'));
  if (serve.php !== undefined) {
    if (typeof serve.php !== 'boolean') {
      throw new ConfigValidationError(childPath(path, 'php'), `must be true or false, not ${describeValue(serve.php)}`);
    }
    out.php = serve.php;
  }
  return out;
}

function checkOptions(value: unknown, path: string): string {
  const options = checkString(value, path, 'the -o list of `devmount mount`, e.g. "IdentityFile=~/.ssh/id_ed25519,reconnect"');
  try {
    parseOptionList([options]);
  } catch (err) {
    // The mount parser's own message ("unknown option -o foo: supported are …"), placed at the key.
    if (isUserError(err)) throw new ConfigValidationError(path, err.message);
    throw err;
  }
  return options;
}

function checkMount(value: unknown, path: string): MountEntry {
  const mount = requireObject(value, path, '{"remote": "user@host:/path", "mountpoint": "~/remote/site"}');
  rejectUnknownKeys(mount, MOUNT_KEYS, path);
  if (mount.remote === undefined) {
    throw new ConfigValidationError(childPath(path, 'remote'), 'missing: the remote directory as [user@]host:[path], e.g. "deploy@example.com:/var/www/site"');
  }
  const remote = checkString(mount.remote, childPath(path, 'remote'), '[user@]host:[path]');
  if (!REMOTE_PATTERN.test(remote)) {
    throw new ConfigValidationError(childPath(path, 'remote'), `${JSON.stringify(remote)} is not [user@]host:[path] (e.g. "deploy@example.com:/var/www/site")`);
  }
  if (mount.mountpoint === undefined) {
    throw new ConfigValidationError(childPath(path, 'mountpoint'), 'missing: the local directory to mount on, e.g. "~/remote/site"');
  }
  const mountpoint = checkString(mount.mountpoint, childPath(path, 'mountpoint'), 'a local directory');
  if (!MOUNTPOINT_PATTERN.test(mountpoint)) {
    throw new ConfigValidationError(childPath(path, 'mountpoint'), `${JSON.stringify(mountpoint)} must be an absolute path or start with ~/`);
  }
  const out: { remote: string; mountpoint: string; port?: number; options?: string; serve?: ServeEntry } = { remote, mountpoint };
  if (mount.port !== undefined) out.port = checkPort(mount.port, childPath(path, 'port'));
  if (mount.options !== undefined) out.options = checkOptions(mount.options, childPath(path, 'options'));
  if (mount.serve !== undefined) out.serve = checkServe(mount.serve, childPath(path, 'serve'));
  return out;
}

/** Returns the file's content typed, or throws ConfigValidationError for the first problem found (in file order). */
export function validateConfig(value: unknown): ConfigFile {
  const top = requireObject(value, '', '{"mounts": {"site": {"remote": "user@host:/path", "mountpoint": "~/remote/site"}}}');
  rejectUnknownKeys(top, TOP_KEYS, '');
  const out: { $schema?: string; mounts: Record<string, MountEntry> } = { mounts: {} };
  if (top.$schema !== undefined) out.$schema = checkString(top.$schema, '$schema', 'the URL or path of the JSON Schema');
  if (top.mounts === undefined) {
    throw new ConfigValidationError('mounts', 'missing: an object of named mounts, e.g. {"site": {"remote": "user@host:/path", "mountpoint": "~/remote/site"}}');
  }
  const mounts = requireObject(top.mounts, 'mounts', '{"site": {"remote": "user@host:/path", "mountpoint": "~/remote/site"}}');
  for (const [name, entry] of Object.entries(mounts)) {
    const path = childPath('mounts', name);
    if (!NAME_PATTERN.test(name)) {
      throw new ConfigValidationError(path, 'bad mount name: use letters, digits, "-" and "_" (at most 64, starting with a letter or digit)');
    }
    out.mounts[name] = checkMount(entry, path);
  }
  return out;
}
