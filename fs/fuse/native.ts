/**
 * Loads the FUSE binding behind one typed surface: devmount's own libfuse 3 binding (native/fuse3, built by
 * scripts/build-native.mjs at install time) when it was built and loads, else the stock fuse-native 2.2.6
 * prebuild (libfuse 2), whose limits the README lists. Both take the same operations (NativeOperations) and
 * options; `LoadedFuse` says what the loaded one can do. fuse-native's own `unmount` runs
 * `fusermount -uz "<path>"` through a shell (index.js `Fuse.unmount`), which we never call: mount-table.ts
 * unmounts, then `binding.fuse_native_unmount` lets go of the event loop.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fuse3Class, type Fuse3Binding, type KernelConfig } from './fuse3.js';

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
  /**
   * cb(0, names, stats, tableMs) or cb(-errno). With the libfuse 3 binding, tableMs > 0 also keeps the listing in
   * its directory table for that long (fs/fuse/native-dirs.ts decides); stock fuse-native ignores it.
   */
  readdir(path: string, cb: (code: number, names?: string[], stats?: NativeStat[], tableMs?: number) => void): void;
  readlink(path: string, cb: CbWith<string>): void;
  open(path: string, flags: number, cb: CbWith<number>): void;
  create(path: string, mode: number, cb: CbWith<number>): void;
  /**
   * cb(bytesRead, data) or cb(-errno). Stock fuse-native passes the kernel's buffer in `buf` to fill; the libfuse
   * 3 binding (LoadedFuse.readTakesData) passes null and copies `data` into the kernel's buffer itself.
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
  /** Times in ms; the libfuse 3 binding passes UTIME_NOW as -1 and UTIME_OMIT as -2 (utimensat(2)). */
  utimens(path: string, atimeMs: number, mtimeMs: number, cb: Cb): void;
}

export interface NativeFuseOptions {
  timeout?: number | false | Record<string, number | false>;
  /** libfuse 2 (fuse-native): its option string rides in fsname (fs/fuse/libfuse-options.ts). */
  fsname?: string;
  subtype?: string;
  allowOther?: boolean;
  debug?: boolean;
  /** libfuse 3: the whole -o list. */
  options?: readonly string[];
  /** libfuse 3: kernel cache settings set in its init. */
  kernel?: KernelConfig;
}

export interface NativeFuse {
  readonly mnt: string;
  readonly _thread: Buffer | null;
  mount(cb: (err: Error | null) => void): void;
}

export type NativeFuseConstructor = new (mnt: string, ops: Partial<NativeOperations>, opts: NativeFuseOptions) => NativeFuse;

/** The fast-files table (native/fuse3/src/fast-files.h); `thread` is the mount's NativeFuse._thread. */
export interface FastFilesBinding {
  fuse_native_ff_put(thread: Buffer, path: string, stat: Uint32Array, ttlMs: number, content: Buffer | null): void;
  fuse_native_ff_forget(thread: Buffer, path: string): void;
  fuse_native_ff_forget_all(thread: Buffer): void;
  fuse_native_ff_free_escalated(thread: Buffer, fh: number): void;
  /** Fills getattr hits, opens, reads, escalations, entries, content bytes. */
  fuse_native_ff_counters(thread: Buffer, out: Uint32Array): void;
  /** Stops (true) or runs on (false) the clock the table's entries expire on. */
  fuse_native_ff_set_watched(thread: Buffer, watched: boolean): void;
}

/** The directory table (native/fuse3/src/dir-table.h); `thread` is the mount's NativeFuse._thread. */
export interface NativeDirsBinding {
  /** Puts the caches' fresh listing of `path` for tableMs (stats: 18 values a name, fast-files.ts encodeStats). */
  dirs_put(thread: Buffer, path: string, names: readonly string[], stats: Uint32Array | null, tableMs: number): void;
  dirs_forget(thread: Buffer, path: string): void;
  dirs_forget_all(thread: Buffer): void;
  /** Fills: READDIRs answered from the table, listings stored, dropped, held, lookups answered ENOENT there. */
  dirs_counters(thread: Buffer, out: Uint32Array): void;
  /** Stops (true) or runs on (false) the clock the table's listings expire on. */
  dirs_set_watched(thread: Buffer, watched: boolean): void;
}

/** How many requests libfuse handed the binding since the mount (mod 2^32), answered in C or in JavaScript. */
export interface RequestCountBinding {
  request_count(thread: Buffer, out: Uint32Array): void;
}

/** Kernel cache invalidation (native/fuse3/src/invalidator.h); `thread` is the mount's NativeFuse._thread. */
export interface InvalidationBinding {
  invalidate(thread: Buffer, path: string): void;
  /** Fills: paths queued, invalidations the kernel took. */
  invalidation_counters(thread: Buffer, out: Uint32Array): void;
}

export interface NativeBinding {
  /** The kernel has let go of the mount: stop keeping the event loop alive for it. */
  fuse_native_unmount(mnt: string, thread: Buffer): void;
}

export interface LoadedFuse {
  readonly Fuse: NativeFuseConstructor;
  readonly binding: NativeBinding;
  /** 3: native/fuse3; 2: the stock fuse-native prebuild. */
  readonly libfuse: 2 | 3;
  /** Whether utimens receives the real modification time (stock fuse-native 2.2.6 passes the access time twice). */
  readonly utimensPassesMtime: boolean;
  /** read answers with cb(n, data) and C copies the bytes: no external Buffer per read. */
  readonly readTakesData: boolean;
  /** FLUSH of a handle marked READ_ONLY_HANDLE is answered in C, without calling `flush`. */
  readonly flushSkipsReadOnly: boolean;
  /** The fast-files table; undefined without it. */
  readonly fastFiles: FastFilesBinding | undefined;
  /** Kernel cache invalidation; undefined without it (then kernel timeouts stay short). */
  readonly invalidation: InvalidationBinding | undefined;
  /** The directory table; undefined without it. */
  readonly nativeDirs: NativeDirsBinding | undefined;
  /** The count of requests served; undefined without it. */
  readonly requestCount: RequestCountBinding | undefined;
}

/** Where scripts/build-native.mjs leaves the addon, from this file in fs/fuse/ or in dist/fs/fuse/. */
const FUSE3_ADDON = ['../../native/fuse3/build/Release/fuse3_native.node', '../../../native/fuse3/build/Release/fuse3_native.node'];

let loaded: LoadedFuse | undefined;

/** Loads a binding once; throws when neither loads (the CLI maps that to exit 9). */
export function loadFuseNative(): LoadedFuse {
  if (loaded) return loaded;
  // require() probes and reads files synchronously: this happens once, before anything is mounted, so it
  // cannot block on our own mount.
  loaded = loadFuse3() ?? loadStock();
  return loaded;
}

/** native/fuse3, or undefined when it was not built (no compiler or no libfuse3-dev at install time). */
function loadFuse3(): LoadedFuse | undefined {
  const require = createRequire(import.meta.url);
  for (const addon of FUSE3_ADDON) {
    let binding: Fuse3Binding;
    try {
      binding = require(new URL(addon, import.meta.url).pathname) as Fuse3Binding;
    } catch {
      continue; // not built there: the next place, then the stock prebuild
    }
    return Object.freeze({
      Fuse: fuse3Class(binding),
      binding: { fuse_native_unmount: (_mnt: string, thread: Buffer) => binding.unmounted(thread) },
      libfuse: 3,
      utimensPassesMtime: true,
      readTakesData: true,
      flushSkipsReadOnly: true,
      fastFiles: binding,
      invalidation: binding,
      nativeDirs: binding,
      requestCount: binding,
    } as const);
  }
  return undefined;
}

function loadStock(): LoadedFuse {
  const require = createRequire(import.meta.url);
  const main = require.resolve('fuse-native');
  const Fuse = require(main) as NativeFuseConstructor;
  // The same .node file fuse-native loaded: require's module cache returns the very same binding object.
  const nodeGypBuild = createRequire(main)('node-gyp-build') as (dir: string) => NativeBinding;
  return Object.freeze({
    Fuse,
    binding: nodeGypBuild(dirname(main)),
    libfuse: 2,
    utimensPassesMtime: false,
    readTakesData: false,
    flushSkipsReadOnly: false,
    fastFiles: undefined,
    invalidation: undefined,
    nativeDirs: undefined,
    requestCount: undefined,
  } as const);
}
