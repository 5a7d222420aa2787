/**
 * The `-o` option parser of `devmount mount`, with the spellings sshfs and ssh users already know
 * (sshfs(1), ssh_config(5)). Shared with `devmount serve user@host:/path`, `devmount up` (config `options`
 * strings) and `devmount backup`: they call `parseOptionList` and `toSshOverrides` so every command accepts
 * the same spellings. Options are resolved once here and frozen; nothing downstream re-parses them.
 */
import { isAbsolute, resolve } from 'node:path';
import { UserError } from './user-error.js';

export type StrictHostKeyCheckingOption = 'yes' | 'accept-new' | 'no' | 'ask';
export type IdMap = 'user' | 'none';
export type LogFormat = 'json' | 'pretty';
/** How server-side changes are detected (fs/watch): `poll` is SFTP polling; `auto` picks the best that works. */
export type RemoteWatchSetting = 'auto' | 'inotify' | 'find' | 'poll' | 'off';
export const REMOTE_WATCH_SETTINGS: readonly RemoteWatchSetting[] = Object.freeze(['auto', 'inotify', 'find', 'poll', 'off']);

/** Everything `-o` (and `-p`) can set. Times are seconds, as sshfs and ssh spell them. */
export interface MountOptions {
  // The connection part (ssh_config(5) spellings), undefined = "not given: ~/.ssh/config or the default decides".
  readonly port: number | undefined;
  readonly identityFiles: readonly string[];
  readonly knownHostsFile: string | undefined;
  readonly strictHostKeyChecking: StrictHostKeyCheckingOption | undefined;
  readonly serverAliveInterval: number | undefined;
  readonly serverAliveCountMax: number | undefined;
  readonly connectTimeout: number | undefined;
  // The file system part (sshfs(1) / mount.fuse(8) spellings).
  readonly reconnect: boolean;
  readonly cache: boolean;
  readonly cacheTimeout: number;
  readonly dcacheTimeout: number;
  readonly negativeTimeout: number;
  /** undefined: follow the caches (cache_timeout / dcache_timeout) where the kernel's copy is invalidated, else 1 s. */
  readonly attrTimeout: number | undefined;
  readonly entryTimeout: number | undefined;
  readonly autoCache: boolean;
  readonly idmap: IdMap;
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  readonly umask: number | undefined;
  readonly readOnly: boolean;
  readonly allowOther: boolean;
  readonly followSymlinks: boolean;
  /** contain_symlinks (default) / no_contain_symlinks, last one wins: see fs/symlink-containment.ts. */
  readonly containSymlinks: boolean;
  /** transform_symlinks: absolute targets inside the remote root become relative (then contained as well). */
  readonly transformSymlinks: boolean;
  readonly maxConns: number;
  readonly opTimeout: number;
  /**
   * Watch the server for changes made by others and drop their cached state at once, instead of after
   * cache_timeout. undefined = not given: off for a plain mount (sshfs semantics), auto with --serve.
   */
  readonly remoteWatch: RemoteWatchSetting | undefined;
  // libfuse and kernel options (fuse(8), mount(8)), passed to the kernel mount as given.
  /** default_permissions: the kernel checks permissions from the attributes (for allow_other mounts). */
  readonly defaultPermissions: boolean;
  readonly kernelCache: boolean;
  readonly directIo: boolean;
  /** Generic mount flags given (mount(8): atime, noatime, nosuid, nodev, noexec …; libfuse's auto_unmount), in order. */
  readonly mountFlags: readonly string[];
  readonly maxRead: number | undefined;
  /** What /proc/mounts shows as the source and the type's subtype (fuse.SUBTYPE); undefined = user@host:/path, devmount. */
  readonly fsname: string | undefined;
  readonly subtype: string | undefined;
  /** disable_hardlink: link(2) answers ENOSYS instead of asking the server (sshfs). */
  readonly disableHardlink: boolean;
  /** One line per sshfs option accepted without its sshfs effect: what devmount does instead. */
  readonly notes: readonly string[];
  /** Keep fetched file contents on disk between runs (fs/cache/disk); `disk_cache=no` turns it off. */
  readonly diskCache: boolean;
  /** Root of the disk caches (one directory per remote below it); undefined = `${XDG_CACHE_HOME:-~/.cache}/devmount`. */
  readonly cacheDir: string | undefined;
}

/** The command-line flags of `devmount mount` besides `-o`. */
export interface MountFlags {
  readonly foreground: boolean;
  readonly debug: boolean;
  readonly logFormat: LogFormat;
  readonly passwordStdin: boolean;
  /** `--serve[=PORT]`: also run the dev server over the same VFS; null = off. */
  readonly serve: { readonly port: number; readonly strictPort: boolean } | null;
}

export type MountCommandOptions = MountOptions & MountFlags;

/**
 * Defaults, in one place (the README options table repeats them). Cache timeouts follow sshfs (cache_timeout=20);
 * the kernel's own attr/entry timeouts follow them when the libfuse 3 binding invalidates the kernel's copy on
 * every change, and stay at libfuse's 1 s with stock fuse-native, which cannot (fs/fuse/adapter.ts
 * kernelTimeouts). op_timeout bounds how long an operation waits while the server is unreachable
 * (sshfs waits forever: sshfs#3, #223).
 */
export const MOUNT_OPTION_DEFAULTS: MountOptions = Object.freeze({
  port: undefined,
  identityFiles: Object.freeze([]) as readonly string[],
  knownHostsFile: undefined,
  strictHostKeyChecking: undefined,
  serverAliveInterval: undefined,
  serverAliveCountMax: undefined,
  connectTimeout: undefined,
  reconnect: true,
  cache: true,
  cacheTimeout: 20,
  dcacheTimeout: 20,
  negativeTimeout: 20,
  attrTimeout: undefined,
  entryTimeout: undefined,
  autoCache: false,
  idmap: 'none' as IdMap,
  uid: undefined,
  gid: undefined,
  umask: undefined,
  readOnly: false,
  allowOther: false,
  followSymlinks: false,
  // On by default, as in sshfs 3.7.6 (CVE-2026-47187): a server must not lead local programs to local files.
  containSymlinks: true,
  transformSymlinks: false,
  maxConns: 2,
  opTimeout: 30,
  remoteWatch: undefined,
  defaultPermissions: false,
  kernelCache: false,
  directIo: false,
  mountFlags: Object.freeze([]) as readonly string[],
  maxRead: undefined,
  fsname: undefined,
  subtype: undefined,
  disableHardlink: false,
  notes: Object.freeze([]) as readonly string[],
  diskCache: true,
  cacheDir: undefined,
});

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Draft = Mutable<Omit<MountOptions, 'identityFiles' | 'notes' | 'mountFlags'>> & { identityFiles: string[]; notes: string[]; mountFlags: string[] };

interface OptionSpec {
  /** How it is written in help and errors. */
  readonly usage: string;
  /** Applies the value (undefined for a bare flag) to the draft; throws UserError on a bad value. */
  readonly apply: (draft: Draft, value: string | undefined, given: Set<string>) => void;
}

function requireValue(name: string, value: string | undefined): string {
  if (value === undefined || value === '') {
    throw new UserError('usage', `-o ${name} needs a value (${name}=…)`);
  }
  return value;
}

function forbidValue(name: string, value: string | undefined): void {
  if (value !== undefined) throw new UserError('usage', `-o ${name} takes no value (write just "${name}")`);
}

/**
 * A relative key or known_hosts path is taken relative to the current directory, as ssh -i does; made absolute
 * now because a daemonized mount changes to / and reads these files again on every reconnect. `~` is left for
 * the SSH layer to expand (ssh_config(5) semantics).
 */
function pathValue(name: string, value: string | undefined): string {
  const text = requireValue(name, value);
  return text.startsWith('~') || isAbsolute(text) ? text : resolve(text);
}

function integer(name: string, value: string | undefined, min: number, max: number): number {
  const text = requireValue(name, value);
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UserError('usage', `-o ${name}=${text}: expected a whole number from ${min} to ${max}`);
  }
  return n;
}

function seconds(name: string, value: string | undefined): number {
  const text = requireValue(name, value);
  const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(n) || n > 86_400 * 365) {
    throw new UserError('usage', `-o ${name}=${text}: expected a number of seconds (e.g. ${name}=20)`);
  }
  return n;
}

function choice<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T {
  const text = requireValue(name, value);
  const found = allowed.find((a) => a === text.toLowerCase());
  if (found === undefined) throw new UserError('usage', `-o ${name}=${text}: expected ${allowed.join(' or ')}`);
  return found;
}

function yesNo(name: string, value: string | undefined): boolean {
  return choice(name, value, ['yes', 'no'] as const) === 'yes';
}

/** A name for fsname=/subtype=: libfuse's option string is comma-separated, and the kernel shows it as is. */
function label(name: string, value: string | undefined): string {
  const text = requireValue(name, value);
  if (!/^[\w@:./+~-]{1,200}$/.test(text)) throw new UserError('usage', `-o ${name}=${text}: use letters, digits and @:./+~-_ only`);
  return text;
}

/** An sshfs option that has no counterpart here: accepted, with the note saying what devmount does instead. */
function noted(name: string, note: string): OptionSpec {
  return { usage: name, apply: (d) => { d.notes.push(`-o ${name}: ${note}`); } };
}

/** Generic mount flags libfuse 2 hands to mount(2) (its mount.c mount_flags table). */
const MOUNT_FLAGS = Object.freeze(['atime', 'noatime', 'nosuid', 'suid', 'nodev', 'dev', 'noexec', 'exec', 'sync', 'async', 'dirsync']);

/** sshfs's workaround names (sshfs(1) -o workaround=LIST), each optionally prefixed with `no`. */
const SSHFS_WORKAROUNDS = Object.freeze(['none', 'all', 'rename', 'renamexdev', 'truncate', 'buflimit', 'fstat', 'createmode', 'nodelaysrv']);

/**
 * The supported options. Keys are matched case-insensitively for the ssh_config(5) ones (ssh itself ignores case
 * there) and exactly for the sshfs ones.
 */
const SSH_OPTIONS: Readonly<Record<string, OptionSpec>> = Object.freeze({
  port: { usage: 'Port=N', apply: (d, v) => { d.port = integer('Port', v, 1, 65535); } },
  identityfile: { usage: 'IdentityFile=PATH', apply: (d, v) => { d.identityFiles.push(pathValue('IdentityFile', v)); } },
  userknownhostsfile: { usage: 'UserKnownHostsFile=PATH', apply: (d, v) => { d.knownHostsFile = pathValue('UserKnownHostsFile', v); } },
  stricthostkeychecking: {
    usage: 'StrictHostKeyChecking=yes|accept-new|no',
    apply: (d, v) => { d.strictHostKeyChecking = choice('StrictHostKeyChecking', v, ['yes', 'accept-new', 'no', 'ask'] as const); },
  },
  serveraliveinterval: { usage: 'ServerAliveInterval=N', apply: (d, v) => { d.serverAliveInterval = integer('ServerAliveInterval', v, 0, 86_400); } },
  serveralivecountmax: { usage: 'ServerAliveCountMax=N', apply: (d, v) => { d.serverAliveCountMax = integer('ServerAliveCountMax', v, 0, 1000); } },
  connecttimeout: { usage: 'ConnectTimeout=N', apply: (d, v) => { d.connectTimeout = integer('ConnectTimeout', v, 1, 86_400); } },
  compression: {
    usage: 'Compression=yes|no',
    apply: (d, v) => {
      if (yesNo('Compression', v)) d.notes.push('-o Compression=yes (-C): devmount does not compress SSH traffic; its caches and prefetch cut what is sent instead');
    },
  },
  proxycommand: noted('ProxyCommand=CMD', 'devmount speaks SSH itself and runs no command: use ProxyJump in ~/.ssh/config for a jump host'),
});

const FS_OPTIONS: Readonly<Record<string, OptionSpec>> = Object.freeze({
  reconnect: { usage: 'reconnect', apply: (d, v) => { forbidValue('reconnect', v); d.reconnect = true; } },
  noreconnect: { usage: 'noreconnect', apply: (d, v) => { forbidValue('noreconnect', v); d.reconnect = false; } },
  cache: { usage: 'cache=yes|no', apply: (d, v) => { d.cache = yesNo('cache', v); } },
  // sshfs 2.x spelling of the same switch.
  dir_cache: { usage: 'dir_cache=yes|no', apply: (d, v) => { d.cache = yesNo('dir_cache', v); } },
  cache_timeout: {
    usage: 'cache_timeout=N',
    apply: (d, v, given) => {
      const s = seconds('cache_timeout', v);
      d.cacheTimeout = s;
      // As in sshfs, cache_timeout sets the others unless they are given explicitly.
      if (!given.has('dcache_timeout')) d.dcacheTimeout = s;
      if (!given.has('negative_timeout')) d.negativeTimeout = s;
    },
  },
  dcache_timeout: { usage: 'dcache_timeout=N', apply: (d, v) => { d.dcacheTimeout = seconds('dcache_timeout', v); } },
  negative_timeout: { usage: 'negative_timeout=N', apply: (d, v) => { d.negativeTimeout = seconds('negative_timeout', v); } },
  attr_timeout: { usage: 'attr_timeout=N', apply: (d, v) => { d.attrTimeout = seconds('attr_timeout', v); } },
  entry_timeout: { usage: 'entry_timeout=N', apply: (d, v) => { d.entryTimeout = seconds('entry_timeout', v); } },
  auto_cache: { usage: 'auto_cache', apply: (d, v) => { forbidValue('auto_cache', v); d.autoCache = true; } },
  idmap: { usage: 'idmap=user|none', apply: (d, v) => { d.idmap = choice('idmap', v, ['user', 'none'] as const); } },
  uid: { usage: 'uid=N', apply: (d, v) => { d.uid = integer('uid', v, 0, 0xffff_fffe); } },
  gid: { usage: 'gid=N', apply: (d, v) => { d.gid = integer('gid', v, 0, 0xffff_fffe); } },
  umask: {
    usage: 'umask=NNN',
    apply: (d, v) => {
      const text = requireValue('umask', v);
      if (!/^[0-7]{1,4}$/.test(text)) throw new UserError('usage', `-o umask=${text}: expected octal digits (e.g. umask=022)`);
      d.umask = Number.parseInt(text, 8) & 0o777;
    },
  },
  ro: { usage: 'ro', apply: (d, v) => { forbidValue('ro', v); d.readOnly = true; } },
  rw: { usage: 'rw', apply: (d, v) => { forbidValue('rw', v); d.readOnly = false; } },
  allow_other: { usage: 'allow_other', apply: (d, v) => { forbidValue('allow_other', v); d.allowOther = true; } },
  follow_symlinks: { usage: 'follow_symlinks', apply: (d, v) => { forbidValue('follow_symlinks', v); d.followSymlinks = true; } },
  contain_symlinks: { usage: 'contain_symlinks', apply: (d, v) => { forbidValue('contain_symlinks', v); d.containSymlinks = true; } },
  no_contain_symlinks: { usage: 'no_contain_symlinks', apply: (d, v) => { forbidValue('no_contain_symlinks', v); d.containSymlinks = false; } },
  transform_symlinks: { usage: 'transform_symlinks', apply: (d, v) => { forbidValue('transform_symlinks', v); d.transformSymlinks = true; } },
  max_conns: { usage: 'max_conns=N', apply: (d, v) => { d.maxConns = integer('max_conns', v, 1, 16); } },
  op_timeout: { usage: 'op_timeout=N', apply: (d, v) => { d.opTimeout = seconds('op_timeout', v); } },
  remote_watch: {
    usage: 'remote_watch=auto|inotify|find|poll|off',
    apply: (d, v) => { d.remoteWatch = choice('remote_watch', v, REMOTE_WATCH_SETTINGS); },
  },
  // libfuse / kernel mount options (fuse(8), mount(8)): passed to the mount as given (cli/fuse-mount-options.ts).
  default_permissions: { usage: 'default_permissions', apply: (d, v) => { forbidValue('default_permissions', v); d.defaultPermissions = true; } },
  kernel_cache: { usage: 'kernel_cache', apply: (d, v) => { forbidValue('kernel_cache', v); d.kernelCache = true; } },
  direct_io: { usage: 'direct_io', apply: (d, v) => { forbidValue('direct_io', v); d.directIo = true; } },
  // mount.fuse3(8): fusermount3 stays beside the mount and unmounts it when the process serving it exits or dies
  // (a SIGKILL would otherwise leave a dead mount: "Transport endpoint is not connected").
  auto_unmount: { usage: 'auto_unmount', apply: (d, v) => { forbidValue('auto_unmount', v); d.mountFlags.push('auto_unmount'); } },
  ...Object.fromEntries(MOUNT_FLAGS.map((flag) => [flag, { usage: flag, apply: (d: Draft, v: string | undefined) => { forbidValue(flag, v); d.mountFlags.push(flag); } }])),
  max_read: { usage: 'max_read=N', apply: (d, v) => { d.maxRead = integer('max_read', v, 4096, 1024 * 1024 * 1024); } },
  fsname: { usage: 'fsname=NAME', apply: (d, v) => { d.fsname = label('fsname', v); } },
  subtype: { usage: 'subtype=NAME', apply: (d, v) => { d.subtype = label('subtype', v); } },
  disable_hardlink: { usage: 'disable_hardlink', apply: (d, v) => { forbidValue('disable_hardlink', v); d.disableHardlink = true; } },
  // sshfs options with no counterpart: accepted with a note.
  sshfs_sync: noted('sshfs_sync', 'writes are buffered and sent in the background; fsync(2) and close wait until the server has them'),
  sync_readdir: noted('sync_readdir', 'directories are always read with pipelined READDIR requests and cached; nothing to choose'),
  ssh_command: noted('ssh_command=CMD', 'devmount speaks SSH itself (ssh2) and runs no ssh program; ~/.ssh/config is still read'),
  workaround: {
    usage: 'workaround=LIST',
    apply: (d, v) => {
      const text = requireValue('workaround', v);
      for (const name of text.split(':')) {
        if (!SSHFS_WORKAROUNDS.includes(name.replace(/^no/, '')) && name !== 'none') {
          throw new UserError('usage', `-o workaround=${text}: unknown workaround ${name} (sshfs knows ${SSHFS_WORKAROUNDS.join(', ')})`);
        }
      }
      d.notes.push(`-o workaround=${text}: not needed, devmount uses posix-rename@openssh.com, ftruncate and the server's read/write limits as sshfs's workarounds would`);
    },
  },
  // fstab's own words, for the mount.fuse.devmount helper (mount(8), fstab(5)): they concern mount(8), not the file system.
  ...Object.fromEntries(['defaults', '_netdev', 'nofail', 'noauto', 'auto', 'user', 'users', 'nouser', 'owner'].map((word) => [word, { usage: word, apply: () => undefined }])),
  disk_cache: { usage: 'disk_cache=yes|no', apply: (d, v) => { d.diskCache = yesNo('disk_cache', v); } },
  cache_dir: { usage: 'cache_dir=PATH', apply: (d, v) => { d.cacheDir = pathValue('cache_dir', v); } },
});

/** Every supported `-o` spelling, for help texts and the "unknown option" message. */
export const SUPPORTED_OPTIONS: readonly string[] = Object.freeze([
  ...Object.values(SSH_OPTIONS).map((s) => s.usage),
  ...Object.values(FS_OPTIONS).map((s) => s.usage),
]);

function lookup(key: string): { spec: OptionSpec; canonical: string } | undefined {
  const fsSpec = FS_OPTIONS[key];
  if (fsSpec) return { spec: fsSpec, canonical: key };
  const sshSpec = SSH_OPTIONS[key.toLowerCase()];
  if (sshSpec) return { spec: sshSpec, canonical: key.toLowerCase() };
  return undefined;
}

/** Splits `-o` arguments ("a=1,b", repeatable) into [key, value] pairs; empty items are ignored, as mount(8) does. */
export function splitOptionList(list: readonly string[]): Array<[string, string | undefined]> {
  const pairs: Array<[string, string | undefined]> = [];
  for (const arg of list) {
    for (const item of arg.split(',')) {
      const trimmed = item.trim();
      if (trimmed === '') continue;
      const eq = trimmed.indexOf('=');
      pairs.push(eq < 0 ? [trimmed, undefined] : [trimmed.slice(0, eq), trimmed.slice(eq + 1)]);
    }
  }
  return pairs;
}

/**
 * Parses `-o` lists (each a comma-separated list, as given on the command line or in a config file) into frozen
 * MountOptions. Later options win, as with mount(8). Unknown options → UserError('usage') listing the supported ones.
 */
export function parseOptionList(list: readonly string[], base: MountOptions = MOUNT_OPTION_DEFAULTS): MountOptions {
  const draft: Draft = { ...base, identityFiles: [...base.identityFiles], notes: [...base.notes], mountFlags: [...base.mountFlags] };
  const pairs = splitOptionList(list);
  const given = new Set<string>();
  for (const [key] of pairs) {
    const found = lookup(key);
    if (found) given.add(found.canonical);
  }
  for (const [key, value] of pairs) {
    if (key.startsWith('x-') || key === 'comment') continue; // fstab(5): for userspace tools, not the file system
    const found = lookup(key);
    if (!found) {
      throw new UserError('usage', `unknown option -o ${key}: supported are ${SUPPORTED_OPTIONS.join(', ')}`);
    }
    found.spec.apply(draft, value, given);
  }
  return Object.freeze({ ...draft, identityFiles: Object.freeze([...draft.identityFiles]), notes: Object.freeze([...draft.notes]), mountFlags: Object.freeze([...draft.mountFlags]) });
}

/** The `-p PORT` flag (sshfs and ssh spelling); wins over `-o Port=` as in sshfs. */
export function parsePortFlag(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 65535) {
    throw new UserError('usage', `-p ${text}: expected a port number from 1 to 65535`);
  }
  return n;
}

export interface RawMountFlags {
  readonly option?: readonly string[];
  readonly port?: string;
  readonly foreground?: boolean;
  readonly debug?: boolean;
  readonly logFormat?: string;
  readonly passwordStdin?: boolean;
  readonly serve?: boolean | string;
  /** -C (sshfs, ssh): compression. */
  readonly C?: boolean;
}

/** Resolves everything commander collected for `devmount mount` into one frozen object. */
export function resolveMountCommandOptions(raw: RawMountFlags): MountCommandOptions {
  const parsed = parseOptionList([...(raw.C ? ['Compression=yes'] : []), ...(raw.option ?? [])]);
  const port = raw.port === undefined ? parsed.port : parsePortFlag(raw.port);
  const logFormat = raw.logFormat ?? 'pretty';
  if (logFormat !== 'json' && logFormat !== 'pretty') {
    throw new UserError('usage', `--log-format ${logFormat}: expected json or pretty`);
  }
  return Object.freeze({
    ...parsed,
    port,
    // As with sshfs, -d implies -f: libfuse's debug output goes to stderr, which a daemon does not have.
    foreground: (raw.foreground ?? false) || (raw.debug ?? false),
    debug: raw.debug ?? false,
    logFormat,
    passwordStdin: raw.passwordStdin ?? false,
    serve: resolveServeFlag(raw.serve),
  });
}

/** `--serve` alone: port 8080 or the next free one (as `devmount serve`); `--serve=PORT`: exactly that port (0 = any). */
function resolveServeFlag(raw: boolean | string | undefined): MountFlags['serve'] {
  if (raw === undefined || raw === false) return null;
  if (raw === true) return Object.freeze({ port: 8080, strictPort: false });
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n > 65535) {
    throw new UserError('usage', `--serve=${raw}: expected an HTTP port number from 0 to 65535`);
  }
  return Object.freeze({ port: n, strictPort: true });
}

/**
 * The connection part, in the shape of `SshOverrides` (fs/ssh/resolve.ts): only what was given, so ~/.ssh/config
 * and the SSH layer's defaults fill the rest. Units are ssh_config(5)'s (seconds).
 */
export interface SshOptionOverrides {
  port?: number;
  identityFiles?: string[];
  knownHostsFile?: string;
  strictHostKeyChecking?: StrictHostKeyCheckingOption;
  serverAliveInterval?: number;
  serverAliveCountMax?: number;
  connectTimeout?: number;
}

export function toSshOverrides(opts: MountOptions): SshOptionOverrides {
  const out: SshOptionOverrides = {};
  if (opts.port !== undefined) out.port = opts.port;
  if (opts.identityFiles.length > 0) out.identityFiles = [...opts.identityFiles];
  if (opts.knownHostsFile !== undefined) out.knownHostsFile = opts.knownHostsFile;
  if (opts.strictHostKeyChecking !== undefined) out.strictHostKeyChecking = opts.strictHostKeyChecking;
  if (opts.serverAliveInterval !== undefined) out.serverAliveInterval = opts.serverAliveInterval;
  if (opts.serverAliveCountMax !== undefined) out.serverAliveCountMax = opts.serverAliveCountMax;
  if (opts.connectTimeout !== undefined) out.connectTimeout = opts.connectTimeout;
  return out;
}
