/**
 * The JavaScript half of devmount's libfuse 3 binding (native/fuse3): a NativeFuse with fuse-native's shape
 * (constructor(mountpoint, operations, options), mount(cb), _thread), so fs/fuse/adapter.ts drives either.
 *
 * The addon calls `dispatch(op, request, ...arguments)` on this thread for each request libfuse's threads
 * could not answer themselves, and the request's libfuse thread waits until one `signal_*` call answers it.
 * So every request is answered exactly once: by its operation's callback, or by the timeout (ETIMEDOUT) if the
 * operation never settles, or at once with EIO if the operation throws.
 */
import { stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { encodeStat, encodeStats, STAT_INTS } from './fast-files.js';
import type { FastFilesBinding, InvalidationBinding, NativeDirsBinding, RequestCountBinding, NativeFuse, NativeFuseOptions, NativeOperations, NativeStat, NativeStatfs } from './native.js';

/** An opaque napi external: the request a libfuse thread is waiting on. */
export interface NativeRequest {
  readonly __fuse3Request: unique symbol;
}

/** Kernel cache settings libfuse 3 takes in `init` (fuse_config, fuse_conn_info). */
export interface KernelConfig {
  readonly attrTimeout: number;
  readonly entryTimeout: number;
  readonly negativeTimeout: number;
  readonly maxWrite: number;
  /** 1: every open bypasses the page cache (-o direct_io, which libfuse 3 takes only in init). */
  readonly directIo: number;
  /** The -o max_read=N value (0: none), which libfuse 3 wants repeated in init. */
  readonly maxRead: number;
}

/** Whether a request has been answered: it must be, exactly once. */
interface Answered {
  done: boolean;
}

type DispatchArg = string | number | Buffer | null;
type Dispatch = (op: number, request: NativeRequest, a?: DispatchArg, b?: DispatchArg, c?: DispatchArg, d?: DispatchArg) => void;

/** What native/fuse3/src/fuse3-native.c exports. */
export interface Fuse3Binding extends FastFilesBinding, InvalidationBinding, NativeDirsBinding, RequestCountBinding {
  mount(mountpoint: string, options: string, config: KernelConfig, dispatch: Dispatch): Buffer;
  unmounted(handle: Buffer): void;
  signal_void(request: NativeRequest, result: number): void;
  /** A stat (18 values, fast-files.ts encodeStat) for getattr, a statvfs (11) for statfs. */
  signal_ints(request: NativeRequest, result: number, ints: Uint32Array): void;
  signal_fh(request: NativeRequest, result: number, fh: number): void;
  signal_read(request: NativeRequest, result: number, data: Buffer): void;
  signal_write(request: NativeRequest, result: number, data: Buffer): void;
  signal_readlink(request: NativeRequest, result: number, target: string): void;
  /** tableMs > 0: the listing also goes into the directory table for that long (fs/fuse/native-dirs.ts). */
  signal_readdir(request: NativeRequest, result: number, names: readonly string[], stats: Uint32Array | null, tableMs: number): void;
}

/** The opcodes of fuse3-native.c (enum OP_*), in order. */
const OP_NAMES = [
  'init', 'getattr', 'access', 'statfs', 'readdir', 'readlink', 'open', 'create', 'read', 'write', 'flush',
  'fsync', 'release', 'truncate', 'ftruncate', 'mkdir', 'rmdir', 'unlink', 'rename', 'symlink', 'link', 'chmod',
  'chown', 'utimens',
] as const;
type OpName = (typeof OP_NAMES)[number];

const ENOSYS = -38;
const EIO = -5;
const ETIMEDOUT = -110;
const EMPTY = Buffer.alloc(0);

function encodeStatfs(s: NativeStatfs): Uint32Array {
  return Uint32Array.of(s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.fsid, s.flag, s.namemax);
}

const str = (v: DispatchArg | undefined): string => (typeof v === 'string' ? v : '');
const num = (v: DispatchArg | undefined): number => (typeof v === 'number' ? v : 0);

/** A Fuse class over `binding`, with fuse-native's constructor and mount(cb). */
export function fuse3Class(binding: Fuse3Binding): new (mnt: string, ops: Partial<NativeOperations>, opts: NativeFuseOptions) => NativeFuse {
  return class Fuse3 implements NativeFuse {
    readonly mnt: string;
    _thread: Buffer | null = null;
    private readonly statBuffer = new Uint32Array(STAT_INTS);
    private mounted: ((err: Error | null) => void) | null = null;

    constructor(mnt: string, private readonly ops: Partial<NativeOperations>, private readonly opts: NativeFuseOptions) {
      this.mnt = resolve(mnt);
    }

    mount(cb: (err: Error | null) => void): void {
      this.checkMountpoint().then(() => {
        this.mounted = cb;
        const kernel = this.opts.kernel ?? { attrTimeout: 1, entryTimeout: 1, negativeTimeout: 0, maxWrite: 0, directIo: 0, maxRead: 0 };
        this._thread = binding.mount(this.mnt, (this.opts.options ?? []).join(','), kernel, this.dispatch);
      }).catch((err: unknown) => {
        this.mounted = null;
        cb(err instanceof Error ? err : new Error(String(err)));
      });
    }

    /** fuse-native's checks, with its messages (fs/fuse/adapter.ts maps /mountpoint/i to exit 8). */
    private async checkMountpoint(): Promise<void> {
      const own = await stat(this.mnt).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new Error('Mountpoint does not exist');
        throw err;
      });
      if (!own.isDirectory()) throw new Error('Mountpoint is not a directory');
      const parent = await stat(dirname(this.mnt));
      if (parent.dev !== own.dev) throw new Error('Mountpoint in use');
    }

    private timeoutOf(name: OpName): number {
      const t = this.opts.timeout;
      if (t === false || t === undefined) return 0;
      if (typeof t === 'number') return t;
      const own = t[name];
      if (own === false) return 0;
      return own ?? (typeof t.default === 'number' ? t.default : 0);
    }

    /** Answers the request of `state` once: by `answer`, or by ETIMEDOUT after the operation's timeout. */
    private once<A extends unknown[]>(name: OpName, state: Answered, answer: (result: number, ...rest: A) => void, onTimeout: () => void): (result: number, ...rest: A) => void {
      const ms = this.timeoutOf(name);
      const timer = ms > 0 ? setTimeout(() => {
        if (state.done) return;
        state.done = true;
        onTimeout();
      }, ms) : undefined;
      return (result, ...rest) => {
        if (state.done) return;
        state.done = true;
        if (timer) clearTimeout(timer);
        answer(result, ...rest);
      };
    }

    private readonly dispatch: Dispatch = (op, request, a, b, c, d) => {
      const name = OP_NAMES[op];
      const state: Answered = { done: false };
      try {
        if (name === undefined) binding.signal_void(request, ENOSYS);
        else this.run(name, request, state, a, b, c, d);
      } catch {
        // An operation that threw before answering: libfuse's thread must not wait forever. (Answering twice
        // would write to a request its thread has already returned from.)
        if (!state.done) binding.signal_void(request, EIO);
        state.done = true;
      }
    };

    private run(name: OpName, request: NativeRequest, state: Answered, a?: DispatchArg, b?: DispatchArg, c?: DispatchArg, d?: DispatchArg): void {
      const ops = this.ops;
      // Made only for the operation that uses it: each one arms a timer that answers the request.
      const voidAnswer = () => this.once(name, state, (result: number) => binding.signal_void(request, result), () => binding.signal_void(request, ETIMEDOUT));
      const now = (result: number) => {
        state.done = true;
        binding.signal_void(request, result);
      };
      switch (name) {
        case 'init': {
          const cb = this.mounted;
          this.mounted = null;
          if (cb) process.nextTick(cb, null);
          if (ops.init) ops.init(voidAnswer());
          else now(0);
          return;
        }
        case 'getattr': {
          if (!ops.getattr) return now(ENOSYS);
          const answer = this.once(name, state, (result: number, st?: NativeStat) => {
            if (result === 0 && st) binding.signal_ints(request, 0, encodeStat(st, this.statBuffer));
            else binding.signal_void(request, result === 0 ? EIO : result);
          }, () => binding.signal_void(request, ETIMEDOUT));
          return ops.getattr(str(a), answer);
        }
        case 'access':
          return ops.access ? ops.access(str(a), num(b), voidAnswer()) : now(0);
        case 'statfs': {
          if (!ops.statfs) return now(ENOSYS);
          const answer = this.once(name, state, (result: number, s?: NativeStatfs) => {
            if (result === 0 && s) binding.signal_ints(request, 0, encodeStatfs(s));
            else binding.signal_void(request, result === 0 ? EIO : result);
          }, () => binding.signal_void(request, ETIMEDOUT));
          return ops.statfs(str(a), answer);
        }
        case 'readdir': {
          if (!ops.readdir) return now(ENOSYS);
          const answer = this.once(name, state, (result: number, names?: string[], stats?: NativeStat[], tableMs?: number) => {
            if (result !== 0 || !names) return binding.signal_readdir(request, result === 0 ? EIO : result, [], null, 0);
            const ints = stats && stats.length === names.length ? encodeStats(stats) : null;
            binding.signal_readdir(request, 0, names, ints, Math.max(0, Math.floor(tableMs ?? 0)));
          }, () => binding.signal_readdir(request, ETIMEDOUT, [], null, 0));
          return ops.readdir(str(a), answer);
        }
        case 'readlink': {
          if (!ops.readlink) return now(ENOSYS);
          const answer = this.once(name, state, (result: number, target?: string) => {
            binding.signal_readlink(request, result, target ?? '');
          }, () => binding.signal_void(request, ETIMEDOUT));
          return ops.readlink(str(a), answer);
        }
        case 'open':
        case 'create': {
          const answer = this.once(name, state, (result: number, fh?: number) => {
            binding.signal_fh(request, result, fh ?? 0);
          }, () => binding.signal_void(request, ETIMEDOUT));
          if (name === 'open') return ops.open ? ops.open(str(a), num(b), answer) : answer(0, 0);
          return ops.create ? ops.create(str(a), num(b), answer) : answer(ENOSYS);
        }
        case 'read': {
          if (!ops.read) return now(ENOSYS);
          const answer = this.once(name, state, (result: number, data?: Buffer) => {
            binding.signal_read(request, result, data ?? EMPTY);
          }, () => binding.signal_void(request, ETIMEDOUT));
          return ops.read(str(a), num(b), null, num(c), num(d), answer);
        }
        case 'write': {
          const data = Buffer.isBuffer(c) ? c : EMPTY;
          if (!ops.write) {
            state.done = true;
            return binding.signal_write(request, ENOSYS, data);
          }
          const answer = this.once(name, state, (result: number) => binding.signal_write(request, result, data), () => binding.signal_write(request, ETIMEDOUT, data));
          return ops.write(str(a), num(b), data, data.length, num(d), answer);
        }
        case 'flush':
          return ops.flush ? ops.flush(str(a), num(b), voidAnswer()) : now(0);
        case 'fsync':
          return ops.fsync ? ops.fsync(str(a), num(b), num(c), voidAnswer()) : now(0);
        case 'release':
          return ops.release ? ops.release(str(a), num(b), voidAnswer()) : now(0);
        case 'truncate':
          return ops.truncate ? ops.truncate(str(a), num(b), voidAnswer()) : now(ENOSYS);
        case 'ftruncate':
          return ops.ftruncate ? ops.ftruncate(str(a), num(b), num(c), voidAnswer()) : now(ENOSYS);
        case 'mkdir':
          return ops.mkdir ? ops.mkdir(str(a), num(b), voidAnswer()) : now(ENOSYS);
        case 'rmdir':
          return ops.rmdir ? ops.rmdir(str(a), voidAnswer()) : now(ENOSYS);
        case 'unlink':
          return ops.unlink ? ops.unlink(str(a), voidAnswer()) : now(ENOSYS);
        case 'rename':
          return ops.rename ? ops.rename(str(a), str(b), voidAnswer()) : now(ENOSYS);
        case 'symlink':
          return ops.symlink ? ops.symlink(str(a), str(b), voidAnswer()) : now(ENOSYS);
        case 'link':
          return ops.link ? ops.link(str(a), str(b), voidAnswer()) : now(ENOSYS);
        case 'chmod':
          return ops.chmod ? ops.chmod(str(a), num(b), voidAnswer()) : now(ENOSYS);
        case 'chown':
          return ops.chown ? ops.chown(str(a), num(b), num(c), voidAnswer()) : now(ENOSYS);
        case 'utimens':
          return ops.utimens ? ops.utimens(str(a), num(b), num(c), voidAnswer()) : now(ENOSYS);
      }
    }
  };
}
