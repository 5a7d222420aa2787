/**
 * The FUSE adapter: serves a Vfs (fs/vfs/types.ts) through the FUSE binding native.ts loads (devmount's libfuse 3
 * binding, else stock fuse-native). It only translates: paths and handles in, attributes and errno out; every
 * error goes through `toFuseErrno` (errno.ts). It never calls a synchronous fs function: every FUSE operation
 * runs on this process's event loop, and a synchronous call on a path under our own mount would wait for an
 * answer only this event loop can give.
 *
 * Binding facts this file works around:
 * - the per-operation timeout (fuse-native's default 15 s, then ETIMEDOUT) is shorter than our op_timeout: set
 *   explicitly;
 * - fuse-native never stores a handle value of 0 (`if (fd != 0) info->fh = fd`): VFS handle h travels as h + 1
 *   (with READ_ONLY_HANDLE set for read-only opens), with either binding;
 * - `create` gets no open flags: see `create` below;
 * - stock fuse-native 2.2.6 hands `utimens` the access time twice (fuse-native.c passes l->atime for both);
 * - fuse-native's `unmount` runs `fusermount -uz "<path>"` through a shell: we unmount with execFile
 *   (mount-table.ts).
 */
import { constants as fsConstants } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { opensReadOnly, S_IFDIR } from '../posix.js';
import type { Vfs } from '../vfs/types.js';
import type { Attr, StatFs } from '../types.js';
import { FsError } from '../errors.js';
import type { WatchedClock } from '../cache/watched-clock.js';
import { createAttrMapper, type OwnershipOptions } from './attr-map.js';
import { toFuseErrno } from './errno.js';
import { FastFiles, TABLE_HANDLE, type FastFilesCounters } from './fast-files.js';
import { KernelCache, type KernelCacheCounters } from './kernel-cache.js';
import { NativeDirs, type NativeDirsCounters } from './native-dirs.js';
import { followWatchedClock } from './table-clock.js';
import { initSettings, libfuse3Options, libfuseOptionString } from './libfuse-options.js';
import { loadFuseNative, type LoadedFuse, type NativeFuseOptions, type NativeOperations, type NativeStat, type NativeStatfs } from './native.js';
import { unmountPath } from './mount-table.js';
import { answerReadlink, DEFAULT_SYMLINK_POLICY, type SymlinkPolicy } from '../symlink-containment.js';

export interface FuseLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface FuseAdapterOptions {
  /** Absolute path of the mount point. */
  readonly mountpoint: string;
  /** What /proc/mounts shows as the source (sshfs shows user@host:/path). */
  readonly fsname: string;
  readonly readOnly: boolean;
  readonly allowOther: boolean;
  /**
   * Kernel attribute / entry cache lifetimes in seconds (libfuse attr_timeout / entry_timeout); undefined:
   * `cacheTimeouts` when the binding can invalidate the kernel's copy, else libfuse's 1 s (kernelTimeouts).
   */
  readonly attrTimeout: number | undefined;
  readonly entryTimeout: number | undefined;
  /** The VFS caches' own lifetimes in seconds (cache_timeout, dcache_timeout); undefined with cache=no. */
  readonly cacheTimeouts?: { readonly attr: number; readonly entry: number } | undefined;
  /** Further libfuse mount options (mount.fuse(8) spellings); libfuse-options.ts drops what libfuse 3 refuses. */
  readonly extraOptions?: readonly string[];
  /** The type /proc/mounts shows is fuse.SUBTYPE (default devmount). */
  readonly subtype?: string;
  /** How long the VFS lets an operation wait while disconnected; the FUSE-level timeout sits above it. */
  readonly opTimeoutMs: number;
  /**
   * fuse-native's own per-operation timeout, the last resort if a VFS operation never settled; by default
   * 2 × opTimeoutMs + 30 s, so the VFS's op_timeout (with its reason) always comes first.
   */
  readonly fuseTimeoutMs?: number;
  readonly ownership: OwnershipOptions;
  /**
   * What readlink hands the kernel (fs/symlink-containment.ts): by default a target that would lead local
   * programs out of the mount answers EPERM (contain_symlinks, CVE-2026-47187).
   */
  readonly symlinks?: SymlinkPolicy;
  /** link(2) answers ENOSYS without asking the server (sshfs disable_hardlink). */
  readonly disableHardlink?: boolean;
  /** libfuse's own debug output on stderr (-d). */
  readonly debug?: boolean;
  readonly log?: FuseLog;
  /**
   * The clock the VFS caches measure TTLs on (fs/cache/watched-clock.ts): the fast-files and directory tables'
   * entries expire on a copy of it (table-clock.ts), so they too stand still while a healthy remote watcher
   * reports every change. The kernel's attr/entry timeouts stay in real time (docs/fuse.md says why); what they
   * let through is answered by the tables on libfuse's threads.
   */
  readonly ttlClock?: WatchedClock;
}

export interface FuseMount {
  readonly mountpoint: string;
  /** Requests answered on libfuse's threads (the fast-files table); undefined without it. */
  fastFiles(): FastFilesCounters | undefined;
  /** Kernel cache invalidations (libfuse 3 binding); undefined without them. */
  kernelCache(): KernelCacheCounters | undefined;
  /** READDIRs answered on libfuse's threads (the directory table); undefined without it. */
  nativeDirs(): NativeDirsCounters | undefined;
  /**
   * Requests the kernel sent this mount so far (modulo 2^32), answered in C or in JavaScript: background work
   * watches it to yield to the foreground (fs/foreground.ts); undefined with stock fuse-native.
   */
  requestsServed(): number | undefined;
  /** The kernel's attribute / entry timeouts this mount was made with, in seconds. */
  readonly kernelTimeouts: KernelTimeouts;
  /** Unmounts (fusermount3 -u) and releases fuse-native's event-loop handle; idempotent. */
  unmount(options?: { lazy?: boolean }): Promise<void>;
}

/** Why a mount could not be made: the CLI maps 'mountpoint' to exit 8 and 'fuse' to exit 9. */
export class FuseMountError extends Error {
  readonly kind: 'mountpoint' | 'fuse';
  constructor(kind: 'mountpoint' | 'fuse', message: string) {
    super(message);
    this.name = 'FuseMountError';
    this.kind = kind;
  }
}

const UINT32_MAX = 0xffff_ffff;
/**
 * UTIME_NOW and UTIME_OMIT (tv_sec 0, tv_nsec 2^30-1 / 2^30-2, utimensat(2)) reach JS as 1073 ms from stock
 * fuse-native, which converts the timespec to milliseconds without looking for them: both mean "now" there.
 * The libfuse 3 binding passes them as -1 and -2.
 */
const UTIME_SPECIAL_MS = 1073;
const UTIME_NOW = -1;
const UTIME_OMIT = -2;
/** libfuse 3 takes writes up to 1 MiB per request (its buffers are sized for FUSE_MAX_MAX_PAGES). */
const MAX_WRITE_BYTES = 1024 * 1024;
/** libfuse's own default attr_timeout / entry_timeout. */
const LIBFUSE_DEFAULT_TIMEOUT = 1;
const ENOENT = -osConstants.errno.ENOENT;

export interface KernelTimeouts {
  readonly attr: number;
  readonly entry: number;
}

/**
 * The kernel's timeouts: as given; else the VFS's own when the binding invalidates the kernel's copy on every
 * change the caches learn of (kernel-cache.ts), else libfuse's 1 s, which bounds how stale the kernel's copy
 * can be when nothing invalidates it.
 */
export function kernelTimeouts(options: Pick<FuseAdapterOptions, 'attrTimeout' | 'entryTimeout' | 'cacheTimeouts'>, canInvalidate: boolean): KernelTimeouts {
  const follow = canInvalidate ? options.cacheTimeouts : undefined;
  return {
    attr: options.attrTimeout ?? follow?.attr ?? LIBFUSE_DEFAULT_TIMEOUT,
    entry: options.entryTimeout ?? follow?.entry ?? LIBFUSE_DEFAULT_TIMEOUT,
  };
}

/** statvfs counts are 32-bit in fuse-native's transfer array: scale the block size up until the counts fit. */
export function toNativeStatfs(s: StatFs): NativeStatfs {
  let frsize = s.frsize > 0 ? s.frsize : s.bsize > 0 ? s.bsize : 4096;
  let { blocks, bfree, bavail } = s;
  while (Math.max(blocks, bfree, bavail) > UINT32_MAX) {
    frsize *= 2;
    blocks = Math.floor(blocks / 2);
    bfree = Math.floor(bfree / 2);
    bavail = Math.floor(bavail / 2);
  }
  const clamp = (n: number) => Math.min(Math.max(0, Math.floor(n)), UINT32_MAX);
  return {
    bsize: clamp(Math.max(s.bsize, frsize)),
    frsize: clamp(frsize),
    blocks: clamp(blocks),
    bfree: clamp(bfree),
    bavail: clamp(bavail),
    files: clamp(s.files),
    ffree: clamp(s.ffree),
    favail: clamp(s.favail),
    fsid: 0,
    flag: 0,
    namemax: clamp(s.namemax > 0 ? s.namemax : 255),
  };
}

/**
 * The binding's options: libfuse 3 takes an option list and its kernel settings apart; stock fuse-native takes
 * its options inside fsname (libfuse-options.ts). The kernel keeps no negative entries with either: the VFS
 * keeps its own, and libfuse's high-level API cannot invalidate a kernel one.
 */
function bindingOptions(native: LoadedFuse, opts: FuseAdapterOptions, timeouts: KernelTimeouts, timeoutMs: number): NativeFuseOptions {
  const timeout: Record<string, number | false> = { default: timeoutMs, flush: false, fsync: false, release: false, write: false };
  if (native.libfuse === 3) {
    return {
      timeout,
      options: libfuse3Options(opts),
      kernel: { attrTimeout: timeouts.attr, entryTimeout: timeouts.entry, negativeTimeout: 0, maxWrite: MAX_WRITE_BYTES, ...initSettings(opts) },
    };
  }
  return {
    timeout,
    fsname: libfuseOptionString({ ...opts, attrTimeout: timeouts.attr, entryTimeout: timeouts.entry }),
    subtype: opts.subtype ?? 'devmount',
    allowOther: opts.allowOther,
    debug: opts.debug ?? false,
  };
}

/**
 * Bit 31 of a FUSE file handle marks a handle opened read-only: the libfuse 3 binding answers its FLUSH
 * without calling JavaScript (fuse3-native.c fn_flush); there is nothing to flush. Handles reach JavaScript as
 * unsigned 32-bit numbers, so the bit survives the trip.
 */
export const READ_ONLY_HANDLE = 0x80000000;

/** The binding's tables answered on libfuse's threads, when it has them. */
export interface NativeTables {
  readonly fast?: FastFiles | undefined;
  readonly dirs?: NativeDirs | undefined;
}

/**
 * Builds the fuse-native operation table over `vfs`. Exported for tests that drive it without a kernel.
 * `tables`: the JavaScript sides of the fast-files and directory tables, when the binding has them.
 */
export function createFuseOperations(vfs: Vfs, options: FuseAdapterOptions, tables: NativeTables = {}): Partial<NativeOperations> {
  const { fast, dirs } = tables;
  const mapper = createAttrMapper(options.ownership);
  const log = options.log;
  const onUnexpected = (err: unknown) => {
    log?.warn({ err: err instanceof Error ? err.message : String(err) }, 'unexpected error in a file system operation; answered EIO');
  };
  const fail = (err: unknown): number => toFuseErrno(err, onUnexpected);
  const symlinks = options.symlinks ?? DEFAULT_SYMLINK_POLICY;
  /**
   * The one place a server's link target reaches the client: the kernel resolves what we answer here against
   * the client's tree. A refused target answers EPERM, and so do stat(2) and open(2) through the link, which
   * the kernel resolves with this readlink; getattr of the link itself (lstat) still shows it, so it can be
   * removed, as with sshfs 3.7.6. The fast-files table answers getattr and open only, never readlink, and holds
   * a link's own attributes (lstat), never its target: every target the kernel sees comes through here.
   */
  const containedReadlink = async (path: string): Promise<string> => {
    const answer = answerReadlink(symlinks, path, await vfs.readlink(path));
    if (answer.refused === null) return answer.target;
    log?.warn({ path, target: answer.target, why: answer.refused }, 'symlink target leaves the mount: refused (contain_symlinks)');
    throw new FsError('EPERM', `symlink ${path} refused: ${answer.refused}`, path);
  };
  /** Answers a void operation: 0 or -errno. */
  const done = (cb: (code: number) => void, work: Promise<unknown>): void => {
    work.then(() => cb(0), (err: unknown) => cb(fail(err)));
  };
  /** Answers an operation that returns a value. */
  const answer = <T>(cb: (code: number, value?: T) => void, work: Promise<T>): void => {
    work.then((value) => cb(0, value), (err: unknown) => cb(fail(err)));
  };
  const toVfsHandle = (fd: number): number => (fd & ~READ_ONLY_HANDLE) - 1;
  const toFuseHandleFor = (flags: number) => (fh: number): number =>
    opensReadOnly(flags) ? ((fh + 1) | READ_ONLY_HANDLE) >>> 0 : fh + 1;
  const dirStat: NativeStat = mapper.toNative({
    mode: S_IFDIR | 0o755, size: 0, uid: 0, gid: 0, nlink: 2, atimeMs: 0, mtimeMs: 0, ctimeMs: 0,
  } satisfies Attr);
  /** What READDIR answers for `path`, and what the directory table keeps of it: ".", "..", then each entry. */
  const listingOf = (path: string): Promise<{ names: string[]; stats: NativeStat[] }> => vfs.readdir(path).then((entries) => {
    const names = ['.', '..'];
    const stats = [dirStat, dirStat];
    for (const e of entries) {
      if (e.name === '.' || e.name === '..') continue;
      names.push(e.name);
      stats.push(mapper.toNative(e.attr));
    }
    return { names, stats };
  });
  /** Answers a lookup's error; an ENOENT lets the directory table learn the parent's listing (native-dirs.ts). */
  const lookupFailed = (cb: (code: number) => void, path: string, startedAt: number) => (err: unknown): void => {
    const code = fail(err);
    cb(code);
    if (code === ENOENT) dirs?.absent(path, startedAt, listingOf);
  };

  return {
    init(cb) {
      cb(0);
    },
    getattr(path, cb) {
      const startedAt = dirs?.begin() ?? 0;
      vfs.getattr(path).then((attr) => {
        cb(0, mapper.toNative(attr));
        fast?.answered(path);
      }, lookupFailed(cb, path, startedAt));
    },
    access(path, mode, cb) {
      // Existence, plus EROFS for W_OK on a read-only mount; permission bits are the server's to enforce
      // (sshfs does not implement access at all).
      const startedAt = dirs?.begin() ?? 0;
      vfs.getattr(path).then(() => {
        if (options.readOnly && (mode & fsConstants.W_OK) !== 0) throw new FsError('EROFS', undefined, path);
      }).then(() => cb(0), lookupFailed(cb, path, startedAt));
    },
    statfs(path, cb) {
      answer(cb, vfs.statfs(path).then(toNativeStatfs));
    },
    readdir(path, cb) {
      const startedAt = dirs?.begin() ?? 0;
      listingOf(path).then(({ names, stats }) => {
        cb(0, names, stats, dirs?.tableMsFor(path, startedAt) ?? 0);
      }, (err: unknown) => cb(fail(err)));
    },
    readlink(path, cb) {
      answer(cb, containedReadlink(path));
    },
    open(path, flags, cb) {
      answer(cb, vfs.open(path, flags).then(toFuseHandleFor(flags)));
    },
    create(path, mode, cb) {
      // fuse-native passes no flags. The kernel calls create only after a lookup said "no such name", so the
      // file is opened O_CREAT|O_EXCL: if the name exists after all (another client, a stale negative cache),
      // the caller gets EEXIST rather than us guessing O_TRUNC (which could destroy an append target) or not
      // (which could leave old bytes after a shorter `>` rewrite). The stale entry is dropped for the retry.
      const flags = fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_RDWR;
      answer(cb, vfs.create(path, mode & 0o7777, flags).then(toFuseHandleFor(flags)).catch((err: unknown) => {
        if (err instanceof FsError && err.code === 'EEXIST') vfs.refresh(path);
        throw err;
      }));
    },
    read(path, fd, buf, len, pos, cb) {
      // readTransient's bytes are valid for this turn of the event loop only: they are copied at once, here
      // (stock fuse-native hands us the kernel's buffer), or by the libfuse 3 binding inside the callback
      // (`buf` is null; fs/fuse/native.ts) or on process.nextTick (stock), before any I/O could reuse them. A fast-files handle gets
      // here only when its file changed since it was opened (fast-files.ts).
      const reading = fast && (fd & TABLE_HANDLE) !== 0 ? fast.readEscalated(path, fd, pos, len) : vfs.readTransient(toVfsHandle(fd), pos, len);
      reading.then((data) => {
        const n = Math.min(data.length, len);
        if (buf) data.copy(buf, 0, 0, n);
        cb(n, data);
      }, (err: unknown) => cb(fail(err)));
    },
    write(_path, fd, buf, len, pos, cb) {
      // `buf` is the kernel's request, detached once we answer: the VFS copies the bytes before it awaits
      // anything (write-behind.ts), so no copy is made here.
      vfs.write(toVfsHandle(fd), buf.subarray(0, len), pos).then((n) => cb(n), (err: unknown) => cb(fail(err)));
    },
    flush(_path, fd, cb) {
      done(cb, vfs.flush(toVfsHandle(fd)));
    },
    fsync(_path, _datasync, fd, cb) {
      done(cb, vfs.fsync(toVfsHandle(fd)));
    },
    release(_path, fd, cb) {
      done(cb, fast && (fd & TABLE_HANDLE) !== 0 ? fast.releaseEscalated(fd) : vfs.release(toVfsHandle(fd)));
    },
    truncate(path, size, cb) {
      done(cb, vfs.truncate(path, size));
    },
    ftruncate(_path, fd, size, cb) {
      done(cb, vfs.ftruncate(toVfsHandle(fd), size));
    },
    mkdir(path, mode, cb) {
      done(cb, vfs.mkdir(path, mode & 0o7777));
    },
    rmdir(path, cb) {
      done(cb, vfs.rmdir(path));
    },
    unlink(path, cb) {
      done(cb, vfs.unlink(path));
    },
    rename(src, dest, cb) {
      done(cb, vfs.rename(src, dest));
    },
    symlink(target, path, cb) {
      done(cb, vfs.symlink(target, path));
    },
    link(existing, path, cb) {
      if (options.disableHardlink) return cb(fail(new FsError('ENOSYS', 'hard links disabled (disable_hardlink)', path)));
      done(cb, vfs.link(existing, path));
    },
    chmod(path, mode, cb) {
      done(cb, vfs.chmod(path, mode & 0o7777));
    },
    chown(path, uid, gid, cb) {
      const ids = mapper.toRemoteIds(uid, gid);
      // chown(2) passes -1 for "leave unchanged"; the VFS sets both, so fill in the current owner.
      const work = ids.uid === UINT32_MAX || ids.gid === UINT32_MAX
        ? vfs.getattr(path).then((a) => vfs.chown(path, ids.uid === UINT32_MAX ? a.uid : ids.uid, ids.gid === UINT32_MAX ? a.gid : ids.gid))
        : vfs.chown(path, ids.uid, ids.gid);
      done(cb, work);
    },
    utimens(path, atimeMs, mtimeMs, cb) {
      // With the libfuse 3 binding (native.ts `utimensPassesMtime`) both times are right, UTIME_NOW is -1 and
      // UTIME_OMIT -2 (`touch -m` omits the access time: it keeps its current value). Stock fuse-native 2.2.6
      // passes the access time in both arguments, so there `mtimeMs` is the requested atime; plain `touch` and
      // `touch -d` set both to one value and still come out right. libfuse 2 calls utimens only when both
      // times are set (fuse.c fuse_lib_setattr); UTIME_NOW arrives as 1073 ms (see UTIME_SPECIAL_MS).
      const now = Date.now();
      const resolve = (ms: number, current: number) => (ms === UTIME_SPECIAL_MS || ms === UTIME_NOW ? now : ms === UTIME_OMIT ? current : ms);
      const work = atimeMs === UTIME_OMIT || mtimeMs === UTIME_OMIT
        ? vfs.getattr(path).then((a) => vfs.utimens(path, resolve(atimeMs, a.atimeMs), resolve(mtimeMs, a.mtimeMs)))
        : vfs.utimens(path, resolve(atimeMs, now), resolve(mtimeMs, now));
      done(cb, work);
    },
  };
}

/**
 * Mounts `vfs` at `options.mountpoint`. Resolves once the kernel has sent FUSE_INIT (the mount is live);
 * rejects with FuseMountError, leaving nothing mounted.
 */
export async function mountVfs(vfs: Vfs, options: FuseAdapterOptions): Promise<FuseMount> {
  const opts = Object.freeze({ ...options });
  let native;
  try {
    native = loadFuseNative();
  } catch (err) {
    throw new FuseMountError('fuse', `cannot load FUSE support (native/fuse3 not built, and fuse-native / libfuse.so.2 failed: ${(err as Error).message.split('\n')[0]}); reinstall with libfuse3-dev and pkg-config present, or install libfuse2`);
  }
  // The FUSE-level timeout must never fire before the VFS's own op_timeout does (then the VFS answers EIO with
  // its reason). flush/fsync/release may legitimately take long (uploading buffered writes at a slow link);
  // the VFS bounds them by progress, not by wall time, so fuse-native must not cut them short.
  const timeoutMs = opts.fuseTimeoutMs ?? opts.opTimeoutMs * 2 + 30_000;
  let thread: () => Buffer | null = () => null;
  const mapper = createAttrMapper(opts.ownership);
  const fast = native.fastFiles ? new FastFiles(native.fastFiles, () => thread(), (attr) => mapper.toNative(attr), vfs) : undefined;
  const kernel = native.invalidation ? new KernelCache(native.invalidation, () => thread()) : undefined;
  const dirs = native.nativeDirs ? new NativeDirs(native.nativeDirs, () => thread(), vfs) : undefined;
  const timeouts = kernelTimeouts(opts, kernel !== undefined);
  const fuse = new native.Fuse(opts.mountpoint, createFuseOperations(vfs, opts, { fast, dirs }), bindingOptions(native, opts, timeouts, timeoutMs));
  thread = () => fuse._thread;
  // Registered before mounting: the kernel may ask as soon as the mount exists.
  const stopFast = fast ? vfs.mirror(fast) : () => undefined;
  const stopKernel = kernel ? vfs.mirror(kernel) : () => undefined;
  const stopDirs = dirs ? vfs.mirror(dirs) : () => undefined;
  const stopMirror = () => {
    stopFast();
    stopKernel();
    stopDirs();
  };
  await new Promise<void>((resolve, reject) => {
    fuse.mount((err) => {
      if (err) stopMirror();
      if (!err) return resolve();
      const message = err.message;
      if (/mountpoint/i.test(message)) return reject(new FuseMountError('mountpoint', `${opts.mountpoint}: ${message.toLowerCase()}`));
      return reject(new FuseMountError('fuse', `FUSE refused to mount ${opts.mountpoint} (${message}): check that /dev/fuse is usable and the mount point is empty`));
    });
  });
  // After the mount: the table (and so `thread`) exists only once it has started.
  const clock = opts.ttlClock;
  const stopFastClock = fast && clock ? followWatchedClock(clock, fast) : () => undefined;
  const stopDirsClock = dirs && clock ? followWatchedClock(clock, dirs) : () => undefined;
  const stopClock = () => {
    stopFastClock();
    stopDirsClock();
  };
  const requestCount = new Uint32Array(1);
  let unmounting: Promise<void> | undefined;
  return {
    mountpoint: opts.mountpoint,
    fastFiles: () => fast?.counters(),
    kernelCache: () => kernel?.counters(),
    nativeDirs: () => dirs?.counters(),
    requestsServed: () => {
      if (!native.requestCount || !fuse._thread) return undefined;
      native.requestCount.request_count(fuse._thread, requestCount);
      return requestCount[0];
    },
    kernelTimeouts: timeouts,
    unmount(unmountOptions = {}) {
      unmounting ??= (async () => {
        await unmountPath(opts.mountpoint, unmountOptions);
        stopClock();
        stopMirror();
        // Releases the event-loop handle the binding keeps referenced while mounted, so the process can exit
        // once the VFS is closed.
        if (fuse._thread) native.binding.fuse_native_unmount(opts.mountpoint, fuse._thread);
      })();
      return unmounting.catch((err: unknown) => {
        unmounting = undefined; // a busy mount may be retried (or detached with lazy)
        throw err;
      });
    },
  };
}
