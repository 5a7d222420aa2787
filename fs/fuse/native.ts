/**
 * Loads fuse-native (a CommonJS N-API addon with no type declarations) behind a typed surface — preferring the
 * copy with the utimens fix that scripts/patch-fuse-native.mjs builds at install time — and its native
 * binding, which the adapter needs to release fuse-native's libuv handle after unmounting itself: fuse-native's
 * own `unmount` runs `fusermount -uz "<path>"` through a shell (index.js `Fuse.unmount`), which we never call.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The stat shape fuse-native's getStatArray reads (times in ms since the epoch). */
export interface NativeStat {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  nlink: number;
  ino: number;
  blksize: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
}

export interface NativeStatfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

type Cb = (code: number) => void;
type CbWith<T> = (code: number, value?: T) => void;

/** The handlers fuse-native calls (README "FUSE API"); the first callback argument is 0 or a negative errno. */
export interface NativeOperations {
  init(cb: Cb): void;
  getattr(path: string, cb: CbWith<NativeStat>): void;
  fgetattr(path: string, fd: number, cb: CbWith<NativeStat>): void;
  access(path: string, mode: number, cb: Cb): void;
  statfs(path: string, cb: CbWith<NativeStatfs>): void;
  readdir(path: string, cb: (code: number, names?: string[], stats?: NativeStat[]) => void): void;
  readlink(path: string, cb: CbWith<string>): void;
  open(path: string, flags: number, cb: CbWith<number>): void;
  create(path: string, mode: number, cb: CbWith<number>): void;
  /**
   * cb(bytesRead, data) or cb(-errno). Stock fuse-native passes the kernel's buffer in `buf` to fill; the patched
   * copy (LoadedFuse.readTakesData) passes null and copies `data` into the kernel's buffer itself.
   */
  read(path: string, fd: number, buf: Buffer | null, len: number, pos: number, cb: (code: number, data?: Buffer) => void): void;
  /**
   * cb(bytesWritten) or cb(-errno). `buf` is an external Buffer over the kernel's request, detached once we
   * answer: whatever must outlive the answer is copied (write-behind copies before its first await).
   */
  write(path: string, fd: number, buf: Buffer, len: number, pos: number, cb: Cb): void;
  flush(path: string, fd: number, cb: Cb): void;
  fsync(path: string, datasync: number, fd: number, cb: Cb): void;
  release(path: string, fd: number, cb: Cb): void;
  truncate(path: string, size: number, cb: Cb): void;
  ftruncate(path: string, fd: number, size: number, cb: Cb): void;
  mkdir(path: string, mode: number, cb: Cb): void;
  rmdir(path: string, cb: Cb): void;
  unlink(path: string, cb: Cb): void;
  rename(src: string, dest: string, cb: Cb): void;
  symlink(target: string, path: string, cb: Cb): void;
  link(existing: string, path: string, cb: Cb): void;
  chmod(path: string, mode: number, cb: Cb): void;
  chown(path: string, uid: number, gid: number, cb: Cb): void;
  utimens(path: string, atimeMs: number, mtimeMs: number, cb: Cb): void;
}

export interface NativeFuseOptions {
  timeout?: number | false | Record<string, number | false>;
  fsname?: string;
  subtype?: string;
  allowOther?: boolean;
  debug?: boolean;
}

export interface NativeFuse {
  readonly mnt: string;
  readonly _thread: Buffer | null;
  mount(cb: (err: Error | null) => void): void;
}

export type NativeFuseConstructor = (new (mnt: string, ops: Partial<NativeOperations>, opts: NativeFuseOptions) => NativeFuse) & {
  /** Set by scripts/patch-fuse-native.mjs on its copy: the patches it carries. */
  readonly devmountPatches?: readonly string[];
};

/** The table of patch "fast-files" (scripts/fuse-native/fast-files.h); `thread` is the mount's NativeFuse._thread. */
export interface FastFilesBinding {
  fuse_native_ff_put(thread: Buffer, path: string, stat: Uint32Array, ttlMs: number, content: Buffer | null): void;
  fuse_native_ff_forget(thread: Buffer, path: string): void;
  fuse_native_ff_forget_all(thread: Buffer): void;
  fuse_native_ff_free_escalated(thread: Buffer, fh: number): void;
  /** Fills getattr hits, opens, reads, escalations, entries, content bytes. */
  fuse_native_ff_counters(thread: Buffer, out: Uint32Array): void;
}

export interface NativeBinding extends Partial<FastFilesBinding> {
  fuse_native_unmount(mnt: string, thread: Buffer): void;
}

export interface LoadedFuse {
  readonly Fuse: NativeFuseConstructor;
  readonly binding: NativeBinding;
  /**
   * Whether utimens receives the real modification time: true for the copy scripts/patch-fuse-native.mjs
   * builds at install time; false for stock fuse-native 2.2.6, which passes the access time twice.
   */
  readonly utimensPassesMtime: boolean;
  /** read answers with cb(n, data) and C copies the bytes: no external Buffer per read (patch "read-data"). */
  readonly readTakesData: boolean;
  /** FLUSH of a handle marked READ_ONLY_HANDLE is answered in C, without calling `flush` (patch "flush-read-only"). */
  readonly flushSkipsReadOnly: boolean;
  /** The fast-files table (patch "fast-files"); undefined without it. */
  readonly fastFiles: FastFilesBinding | undefined;
}

/** Where scripts/patch-fuse-native.mjs puts its build, relative to the stock package's node_modules. */
const PATCHED_DIR = ['.cache', 'devmount', 'fuse-native'];

let loaded: LoadedFuse | undefined;

/** Loads the addon once; throws when the package or libfuse.so.2 is missing (the CLI maps that to exit 9). */
export function loadFuseNative(): LoadedFuse {
  if (loaded) return loaded;
  // Loading runs node-gyp-build's synchronous directory probes under node_modules: this happens once, before
  // anything is mounted, so it cannot block on our own mount.
  const require = createRequire(import.meta.url);
  const stockMain = require.resolve('fuse-native');
  const patchedMain = join(dirname(dirname(stockMain)), ...PATCHED_DIR, 'index.js');
  loaded = tryLoad(patchedMain, true) ?? (tryLoad(stockMain, false) as LoadedFuse);
  return loaded;
}

function isFastFilesBinding(binding: NativeBinding): binding is NativeBinding & FastFilesBinding {
  return typeof binding.fuse_native_ff_put === 'function' && typeof binding.fuse_native_ff_forget === 'function'
    && typeof binding.fuse_native_ff_forget_all === 'function' && typeof binding.fuse_native_ff_free_escalated === 'function'
    && typeof binding.fuse_native_ff_counters === 'function';
}

/** Loads fuse-native from `main`; undefined for the optional patched copy when it is absent or broken. */
function tryLoad(main: string, optional: boolean): LoadedFuse | undefined {
  try {
    const requireHere = createRequire(main);
    const Fuse = requireHere(main) as NativeFuseConstructor;
    // The same .node file fuse-native loaded: require's module cache returns the very same binding object.
    const nodeGypBuild = requireHere('node-gyp-build') as (dir: string) => NativeBinding;
    const binding = nodeGypBuild(dirname(main));
    // A copy built by an older devmount carries only the utimens fix and no list.
    const patches = new Set(Fuse.devmountPatches ?? (optional ? ['utimens-mtime'] : []));
    const fastFiles = patches.has('fast-files') && isFastFilesBinding(binding) ? binding : undefined;
    return Object.freeze({
      Fuse,
      binding,
      utimensPassesMtime: patches.has('utimens-mtime'),
      readTakesData: patches.has('read-data'),
      flushSkipsReadOnly: patches.has('flush-read-only'),
      fastFiles,
    });
  } catch (err) {
    if (!optional) throw err;
    return undefined; // no patched build (no compiler at install time): the stock package is the fallback
  }
}
