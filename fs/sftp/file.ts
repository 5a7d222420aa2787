/**
 * An open remote file that survives reconnects. It remembers path, flags and the connection epoch of its
 * SFTP handle; an operation running under a newer epoch re-opens the file first (flags minus
 * CREAT/EXCL/TRUNC), once per epoch, shared by every operation waiting on it. sshfs instead returns EIO for
 * such handles until the application re-opens them.
 *
 * Reads and writes are split into SFTP requests of at most `chunk` bytes, many in flight. Every request is an
 * idempotent operation in the session table: positional reads and writes can be re-sent after a reconnect,
 * so unacknowledged write data is kept (in the operation) and replayed; `write()` resolves only when every
 * chunk is acknowledged. A write that cannot be replayed (file removed, permission changed) rejects, and the
 * error is also reported once by the next fsync()/close(), like close(2) reports deferred write errors.
 *
 * Replays go out in issue order (the session table keeps it), so overlapping writes end as the last one
 * issued. One limit no client can remove: a server process that outlives the connection (a killed sshd
 * session may leave its internal-sftp child running briefly) may still apply requests it had already
 * read; it drains them in microseconds, while a replay needs a new SSH handshake first.
 */
import { FsError } from '../errors.js';
import type { RemoteFile } from '../remote/types.js';
import type { Attr } from '../types.js';
import type { ResolvedSftpOptions } from './options.js';
import type { Attempt, Session } from './session.js';
import { rethrowMapped, toFsError } from './status.js';
import { SFTP_OPEN, hasExtension, reopenFlags, toAttr, wire } from './wire.js';
import { topUpReceiveWindow } from './window.js';

/** Runs fn(0..count-1) with at most `width` running at once; waits for all started ones, then throws the first error. */
export async function forEachWindowed(count: number, width: number, fn: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < count) {
      const index = next++;
      try {
        await fn(index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
  if (failure) throw failure.error;
}

export interface OpenedHandle {
  readonly handle: Buffer;
  readonly epoch: number;
}

export class SftpFile implements RemoteFile {
  // Handle state: replaced only by handleFor() when an attempt runs under a newer epoch.
  private handle: Buffer;
  private handleEpoch: number;
  private reopening: { readonly epoch: number; readonly promise: Promise<Buffer> } | null = null;
  private readonly pendingWrites = new Set<Promise<void>>();
  /** First write error not yet reported by fsync()/close(). */
  private deferredError: FsError | null = null;
  private closed = false;
  private readonly readChunk: number;
  private readonly writeChunk: number;

  constructor(
    private readonly session: Session,
    /** Path as the caller knows it (from the mount root), for messages and errors. */
    readonly path: string,
    /** Absolute path on the server. */
    private readonly remotePath: string,
    private readonly sftpFlags: number,
    opened: OpenedHandle,
    limits: { readonly maxReadLength: number; readonly maxWriteLength: number },
    private readonly options: ResolvedSftpOptions,
  ) {
    this.handle = opened.handle;
    this.handleEpoch = opened.epoch;
    this.readChunk = Math.max(1, Math.min(options.chunkBytes, limits.maxReadLength));
    this.writeChunk = Math.max(1, Math.min(options.chunkBytes, limits.maxWriteLength));
  }

  async read(position: number, length: number): Promise<Buffer> {
    const out = Buffer.allocUnsafe(Math.max(0, length));
    const got = await this.readInto(position, out);
    return got === out.length ? out : out.subarray(0, got);
  }

  async readInto(position: number, target: Buffer): Promise<number> {
    const refused = this.refusal('read', SFTP_OPEN.READ);
    if (refused) throw refused;
    const length = target.length;
    if (length <= 0) return 0;
    // One log line per read call (not per SFTP request): what a caller waited for.
    return this.options.tracer.time('read', this.path, () => this.readChunks(position, target), { position, length });
  }

  private async readChunks(position: number, target: Buffer): Promise<number> {
    const length = target.length;
    const chunk = this.readChunk;
    const count = Math.ceil(length / chunk);
    // Every chunk lands in place in the caller's buffer: no Buffer.concat (a second copy of every byte, and
    // garbage the collector had to sweep: measured, a third of the daemon's time went to GC at 0 ms
    // RTT); read-ahead hands in buffers it reuses (fs/vfs/buffer-pool.ts).
    let firstShort = Infinity; // index of the first chunk that hit end of file: nothing after it is needed
    let endOfData = length;
    await forEachWindowed(count, this.options.chunksInFlight, async (i) => {
      if (i > firstShort) return;
      const want = Math.min(chunk, length - i * chunk);
      const got = await this.session.dataSlots.with(() =>
        this.session.run({
          name: 'read',
          path: this.path,
          policy: 'idempotent',
          run: (a) => this.readFully(a, target.subarray(i * chunk, i * chunk + want), position + i * chunk),
        }),
      );
      if (got < want && i < firstShort) {
        firstShort = i;
        endOfData = i * chunk + got;
      }
    });
    // A short chunk is end of file (readFully never stops early otherwise), so the result ends there; a
    // failed chunk rejected above — an error is never reported as a short read (sshfs#224).
    return endOfData;
  }

  write(data: Buffer, position: number): Promise<void> {
    const refused = this.refusal('write', SFTP_OPEN.WRITE);
    if (refused) return Promise.reject(refused);
    const promise = this.writeChunks(data, position);
    this.pendingWrites.add(promise);
    const forget = () => this.pendingWrites.delete(promise);
    promise.then(forget, (err: unknown) => {
      forget();
      this.deferredError ??= toFsError(err, this.path);
    });
    return promise;
  }

  async fstat(): Promise<Attr> {
    const refused = this.refusal('fstat');
    if (refused) throw refused;
    return this.session.run({
      name: 'fstat',
      path: this.path,
      policy: 'idempotent',
      run: async (a) => {
        const h = await this.handleFor(a);
        try {
          return toAttr(await wire.fstat(a.conn.sftp, h));
        } catch (err) {
          return rethrowMapped(err, this.path);
        }
      },
    });
  }

  async ftruncate(size: number): Promise<void> {
    const refused = this.refusal('ftruncate');
    if (refused) throw refused;
    // A truncate must not be overtaken by earlier writes still being replayed.
    await this.settleWrites();
    await this.session.run({
      name: 'ftruncate',
      path: this.path,
      policy: 'idempotent',
      run: async (a) => {
        const h = await this.handleFor(a);
        try {
          await wire.fsetstat(a.conn.sftp, h, { size });
        } catch (err) {
          rethrowMapped(err, this.path);
        }
      },
    });
  }

  async fsync(): Promise<void> {
    const refused = this.refusal('fsync');
    if (refused) throw refused;
    await this.settleWrites();
    this.reportDeferredError();
    await this.session.run({
      name: 'fsync',
      path: this.path,
      policy: 'idempotent',
      run: async (a) => {
        // fsync@openssh.com (OpenSSH PROTOCOL §4.6); without it every acknowledged write has reached the
        // server's write(2), which is all SFTP v3 can promise.
        if (!hasExtension(a.conn.sftp, 'fsync@openssh.com')) return;
        const h = await this.handleFor(a);
        try {
          await wire.fsync(a.conn.sftp, h);
        } catch (err) {
          rethrowMapped(err, this.path);
        }
      },
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.settleWrites();
    try {
      await this.session.run({
        name: 'close',
        path: this.path,
        policy: 'idempotent',
        run: async (a) => {
          // A handle from an older connection died with it on the server; acknowledged writes had landed.
          if (a.epoch !== this.handleEpoch) return;
          try {
            await wire.close(a.conn.sftp, this.handle);
          } catch (err) {
            rethrowMapped(err, this.path);
          }
        },
      });
    } finally {
      this.reopening = null;
    }
    this.reportDeferredError();
  }

  // ---- internals ----

  /** EBADF as the system calls give it: a closed file, or an access mode the file was not opened with. */
  private refusal(op: string, needs?: number): FsError | null {
    if (this.closed) return new FsError('EBADF', `${op}: ${this.path} is closed`, this.path);
    // (OpenSSH would answer NO_SUCH_FILE for the server's EBADF: errno_to_portable() in sftp-server.c.)
    if (needs !== undefined && !(this.sftpFlags & needs)) return new FsError('EBADF', `${op}: ${this.path} is not open for that`, this.path);
    return null;
  }

  private reportDeferredError(): void {
    const err = this.deferredError;
    if (err) {
      this.deferredError = null;
      throw err;
    }
  }

  private async settleWrites(): Promise<void> {
    await Promise.allSettled([...this.pendingWrites]);
  }

  private async writeChunks(data: Buffer, position: number): Promise<void> {
    const chunk = this.writeChunk;
    const count = Math.ceil(data.length / chunk);
    await forEachWindowed(count, this.options.chunksInFlight, async (i) => {
      const piece = data.subarray(i * chunk, Math.min(data.length, (i + 1) * chunk));
      await this.session.dataSlots.with(() =>
        this.session.run({
          name: 'write',
          path: this.path,
          policy: 'idempotent', // a positional write re-sent after a drop writes the same bytes at the same place
          run: async (a) => {
            const h = await this.handleFor(a);
            try {
              await wire.write(a.conn.sftp, h, piece, position + i * chunk);
            } catch (err) {
              rethrowMapped(err, this.path);
            }
          },
        }),
      );
    });
  }

  /**
   * Fills `into` from `position`, following short replies; returns how many bytes arrived (fewer only at end of
   * file). A replayed attempt (after a reconnect) overwrites the same bytes from the start.
   */
  private async readFully(a: Attempt, into: Buffer, position: number): Promise<number> {
    const h = await this.handleFor(a);
    const length = into.length;
    let got = 0;
    try {
      while (got < length) {
        const n = await wire.read(a.conn.sftp, h, into, got, length - got, position + got);
        if (n === 0) break; // SSH_FX_EOF (ssh2 reports it as 0 bytes)
        got += n;
        topUpReceiveWindow(a.conn);
      }
    } catch (err) {
      rethrowMapped(err, this.path);
    }
    return got;
  }

  /** The handle valid on this attempt's connection, re-opening once per epoch after a reconnect. */
  private handleFor(a: Attempt): Promise<Buffer> {
    if (a.epoch === this.handleEpoch) return Promise.resolve(this.handle);
    if (this.reopening?.epoch === a.epoch) return this.reopening.promise;
    const promise = wire.open(a.conn.sftp, this.remotePath, reopenFlags(this.sftpFlags), {}).then(
      (handle) => {
        if (a.epoch > this.handleEpoch) {
          this.handle = handle;
          this.handleEpoch = a.epoch;
        }
        this.options.logger.debug({ path: this.path, epoch: a.epoch }, 're-opened file after reconnect');
        return handle;
      },
      (err: unknown) => {
        if (this.reopening?.promise === promise) this.reopening = null;
        return rethrowMapped(err, this.path);
      },
    );
    this.reopening = { epoch: a.epoch, promise };
    return promise;
  }
}
