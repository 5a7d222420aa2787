/**
 * Write-behind for one open handle. FUSE delivers writes in 4 KiB pieces (128 KiB with big_writes); each
 * SFTP WRITE costs a request, so contiguous pieces are coalesced into blocks of `blockBytes` and sent with
 * several blocks in flight.
 *
 * Never report success for bytes that did not land: every block keeps its bytes until
 * RemoteFile.write resolves (the SFTP layer replays them after a reconnect); the first failure is recorded
 * and rethrown by flush() and by every later write(), so close(2)/fsync(2) return the error.
 *
 * A stream of writes (each block starting where the one before ended: a copy, an upload) fills whole blocks
 * taken from a pool shared by all handles, given back once acknowledged: a 64 MiB copy used to allocate
 * 128 MiB of short-lived buffers (each block grew 64 KiB → 1 MiB by doubling), and on the VMs devmount is
 * measured on every first touch of fresh memory is a page fault. Other writes start small, so a
 * 4 KiB write does not hold a whole block.
 *
 * State (single JS thread; every mutation of these fields is synchronous):
 *   pending  — the block being filled, not yet sent
 *   inflight — blocks sent and not yet acknowledged; each one's `settled` never rejects
 *   failure  — first error, sticky
 *   streamEnd — where the last block sent ended (a block starting there continues a stream)
 */
import { FsError, isFsError } from '../errors.js';
import type { RemoteFile } from '../remote/types.js';
import type { BufferPool } from './buffer-pool.js';
import type { DirtyBudget } from './dirty-budget.js';

interface PendingBlock {
  readonly start: number;
  buf: Buffer;
  length: number;
  /** `buf` came from the pool (a whole block) and goes back to it once its bytes are acknowledged or copied. */
  readonly pooled: boolean;
}

interface InflightBlock {
  readonly start: number;
  readonly end: number;
  settled: Promise<void>;
}

export interface WriteBehindOptions {
  readonly blockBytes: number;
  readonly maxDirtyBytes: number;
  /** A partly filled block is sent after this long without being completed (a log file appended to and kept open). */
  readonly idleFlushMs: number;
}

const FIRST_CAPACITY = 64 * 1024;

export class WriteBehind {
  private pending: PendingBlock | null = null;
  private readonly inflight = new Set<InflightBlock>();
  private failure: FsError | null = null;
  private dirtyBytes = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private lastWriteAt = 0;
  private streamEnd = -1;
  /** SFTP WRITE calls made (a 1 MiB block is one call here; the SFTP layer may split it for the wire). */
  remoteWrites = 0;

  constructor(
    private readonly file: RemoteFile,
    private readonly options: WriteBehindOptions,
    private readonly budget: DirtyBudget,
    /** Whole blocks for streams of writes (buffers of exactly `blockBytes`). */
    private readonly blocks: BufferPool,
    /** Called each time the last block in flight has landed or failed (nothing of this handle is unacknowledged but `pending`). */
    private readonly landed: () => void = () => undefined,
  ) {}

  get error(): FsError | null {
    return this.failure;
  }

  get dirty(): number {
    return this.dirtyBytes;
  }

  /** Blocks sent and not yet acknowledged. */
  get inFlight(): number {
    return this.inflight.size;
  }

  /** One past the last byte not yet acknowledged, or -1: getattr reports at least this size. */
  dirtyEnd(): number {
    let end = this.pending ? this.pending.start + this.pending.length : -1;
    for (const block of this.inflight) end = Math.max(end, block.end);
    return end;
  }

  /** Accepts the bytes (copied: FUSE reuses its buffer), then waits while too much is unacknowledged. */
  async write(data: Buffer, position: number): Promise<void> {
    if (this.failure) throw this.failure;
    this.lastWriteAt = performance.now();
    let offset = 0;
    while (offset < data.length) {
      const at = position + offset;
      if (!this.pending || this.pending.start + this.pending.length !== at || this.pending.length === this.options.blockBytes) {
        this.dispatchPending();
        this.pending = this.newBlock(at, data.length - offset);
        this.armIdleTimer();
      }
      const block = this.pending;
      const room = this.options.blockBytes - block.length;
      const n = Math.min(room, data.length - offset);
      this.ensureCapacity(block, block.length + n);
      data.copy(block.buf, block.length, offset, offset + n);
      block.length += n;
      offset += n;
      this.dirtyBytes += n;
      this.budget.add(n);
      if (block.length === this.options.blockBytes) this.dispatchPending();
    }
    await this.backpressure();
    if (this.failure) throw this.failure;
  }

  /** Sends the pending block and waits for every block; rethrows the first failure (sticky). */
  async flush(): Promise<void> {
    this.dispatchPending();
    while (this.inflight.size > 0) await Promise.all([...this.inflight].map((block) => block.settled));
    if (this.failure) throw this.failure;
  }

  /** Makes [start, end) readable from the server: sends and awaits only the blocks that overlap it. Never throws. */
  async settleRange(start: number, end: number): Promise<void> {
    if (this.pending && this.pending.start < end && start < this.pending.start + this.pending.length) this.dispatchPending();
    const overlapping = [...this.inflight].filter((block) => block.start < end && start < block.end);
    await Promise.all(overlapping.map((block) => block.settled));
  }

  overlaps(start: number, end: number): boolean {
    if (this.pending && this.pending.start < end && start < this.pending.start + this.pending.length) return true;
    for (const block of this.inflight) if (block.start < end && start < block.end) return true;
    return false;
  }

  /**
   * Bytes must not wait in memory for a close that may be hours away: like the kernel's dirty-page
   * writeback, a pending block is sent once no write has come for `idleFlushMs`. The timer is armed once, not per write,
   * and re-armed while writes keep coming.
   */
  private armIdleTimer(delayMs = this.options.idleFlushMs): void {
    if (this.idleTimer) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = null;
      if (!this.pending) return;
      const idleFor = performance.now() - this.lastWriteAt;
      // Still being written to: a block that keeps growing is sent when full, not cut by the timer.
      if (idleFor < this.options.idleFlushMs) this.armIdleTimer(this.options.idleFlushMs - idleFor);
      else this.dispatchPending();
    }, delayMs);
    this.idleTimer.unref();
  }

  /** A whole pooled block when the write continues a stream, else one sized for it (grown as needed). */
  private newBlock(start: number, bytes: number): PendingBlock {
    const { blockBytes } = this.options;
    if (start === this.streamEnd) return { start, buf: this.blocks.take(blockBytes), length: 0, pooled: true };
    return { start, buf: Buffer.allocUnsafe(Math.min(blockBytes, Math.max(FIRST_CAPACITY, bytes))), length: 0, pooled: false };
  }

  private ensureCapacity(block: PendingBlock, needed: number): void {
    if (block.buf.length >= needed) return;
    let capacity = block.buf.length;
    while (capacity < needed) capacity *= 2;
    const grown = Buffer.allocUnsafe(Math.min(capacity, this.options.blockBytes));
    block.buf.copy(grown, 0, 0, block.length);
    block.buf = grown;
  }

  private dispatchPending(): void {
    const block = this.pending;
    if (!block || block.length === 0) {
      this.pending = null;
      return;
    }
    this.pending = null;
    // Keep exactly the bytes: a 4 KiB random write must not pin a 1 MiB buffer until acknowledged.
    const copied = block.length * 2 < block.buf.length;
    const data = copied ? Buffer.from(block.buf.subarray(0, block.length)) : block.buf.subarray(0, block.length);
    if (copied && block.pooled) this.blocks.give(block.buf);
    const start = block.start;
    const end = start + data.length;
    this.streamEnd = end;
    // An overlapping block still in flight must land first: if the connection drops, the SFTP layer
    // replays unacknowledged writes, and an older replay must not overwrite newer bytes.
    const before = [...this.inflight].filter((other) => other.start < end && start < other.end).map((other) => other.settled);
    const send = (): Promise<void> => {
      this.remoteWrites += 1;
      return this.file.write(data, start);
    };
    const entry: InflightBlock = { start, end, settled: Promise.resolve() };
    entry.settled = (before.length > 0 ? Promise.all(before).then(send) : send())
      .then(
        () => {
          // Acknowledged: nothing replays these bytes any more. A failed block keeps its buffer out of the pool.
          if (block.pooled && !copied) this.blocks.give(block.buf);
        },
        (err: unknown) => {
          this.failure ??= isFsError(err) ? err : new FsError('EIO', `write failed: ${(err as Error).message}`, this.file.path);
        },
      )
      .finally(() => {
        this.inflight.delete(entry);
        this.dirtyBytes -= data.length;
        this.budget.release(data.length);
        if (this.inflight.size === 0) this.landed();
      });
    this.inflight.add(entry);
  }

  /** Waits for acknowledgements while over the per-handle or global bound (never when nothing of ours is in flight). */
  private async backpressure(): Promise<void> {
    while (!this.failure && this.inflight.size > 0 && (this.dirtyBytes > this.options.maxDirtyBytes || this.budget.over())) {
      await Promise.race([...this.inflight].map((block) => block.settled));
    }
  }
}
