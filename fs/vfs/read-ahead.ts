/**
 * Read-ahead for one open handle. Reads near where the stream of reads has got to are
 * sequential: the window grows (from `minBytes`, doubling up to `maxBytes`) and segments ahead of the
 * reader are requested before they are needed, each one a RemoteFile.read that the SFTP layer pipelines.
 * "Near" rather than "exactly at": the kernel sends its own read-ahead as several 128 KiB reads at once,
 * and they may reach us slightly out of order. A read far away is random: exactly what was asked is read,
 * the window shrinks back and the segments are dropped.
 *
 * A segment's promise never rejects (it settles to {error}): a prefetch that fails only matters if a read
 * needs it, and then that read rejects with the error — never a short read (sshfs#224: a read error
 * reported as EOF makes silently truncated copies).
 *
 * Segments read into buffers from a pool shared by all handles (buffer-pool.ts) and go back to it when dropped
 * and no read is still waiting on them (pins). So a segment's bytes are copied out for `owned` reads; a `transient` read (Vfs.readTransient, the FUSE path)
 * may get a view, valid for this turn of the event loop (the pool takes buffers back on setImmediate). A segment
 * that failed keeps its buffer out of the pool: a request abandoned at op_timeout could still be answered into it.
 *
 * State (single JS thread, changed only synchronously): `segments` ascending and contiguous; `streamEnd`
 * the furthest byte the application has read; `eofAt` where a segment came back short.
 */
import type { RemoteFile } from '../remote/types.js';
import type { BufferPool } from './buffer-pool.js';

/** `owned`: the caller may keep the bytes. `transient`: valid until this turn of the event loop ends. */
export type BufferLifetime = 'owned' | 'transient';

type SegmentResult = { readonly bytes: number } | { readonly error: unknown };

interface Segment {
  readonly start: number;
  readonly length: number;
  readonly buffer: Buffer;
  readonly result: Promise<SegmentResult>;
  /** Reads waiting on or copying from this segment: its buffer goes back to the pool only once they are done. */
  pins: number;
  /** No longer in `segments`: give the buffer back when the last pin goes. */
  dropped: boolean;
}

export interface ReadAheadOptions {
  readonly minBytes: number;
  readonly maxBytes: number;
}

/** One RemoteFile.read per segment; the SFTP layer pipelines it as many READ requests. */
const MAX_SEGMENT_BYTES = 2 * 1024 * 1024;
/** How far from the stream a read may land and still count as sequential (kernel read-ahead reorders). */
const NEAR_BYTES = 1024 * 1024;

export class ReadAhead {
  private segments: Segment[] = [];
  private streamEnd = 0;
  /** Sequential reads in a row; the first one reads no further than `minBytes`, so a small file costs one request. */
  private run = 0;
  private window: number;
  private eofAt = Number.POSITIVE_INFINITY;
  /** Bytes that came back from prefetch requests (for stats). */
  prefetchedBytes = 0;

  constructor(
    private readonly file: RemoteFile,
    private readonly options: ReadAheadOptions,
    private readonly buffers: BufferPool,
  ) {
    this.window = options.minBytes;
  }

  /** Drops prefetched bytes (after a write or truncate through any handle of the file, and at release). */
  invalidate(): void {
    this.release(this.segments);
    this.segments = [];
    this.eofAt = Number.POSITIVE_INFINITY;
  }

  async read(position: number, length: number, lifetime: BufferLifetime = 'owned'): Promise<Buffer> {
    const end = position + length;
    if (!this.isNear(position)) {
      this.invalidate();
      this.window = this.options.minBytes;
      this.run = 0;
      this.streamEnd = end;
      return this.file.read(position, length);
    }
    this.streamEnd = Math.max(this.streamEnd, end);
    if (position >= this.eofAt) {
      // At or past the end we saw: ask the file itself (it may have grown), without prefetching more.
      const data = await this.file.read(position, length);
      if (data.length > 0) this.eofAt = Number.POSITIVE_INFINITY;
      return data;
    }
    this.run += 1;
    if (this.run > 1) this.window = Math.min(this.options.maxBytes, this.window * 2);
    // Keep a little behind the stream for reads that arrive late (the kernel's own read-ahead reorders them
    // within NEAR_BYTES), drop the rest: every segment kept is a pool buffer more in use.
    const keepFrom = this.streamEnd - NEAR_BYTES;
    this.keepWhere((s) => s.start + s.length > keepFrom);
    const first = this.run === 1;
    this.extend(position, first ? Math.max(end, position + this.options.minBytes) : Math.max(end, this.streamEnd + this.window), first);
    if (!this.covers(position)) return this.file.read(position, length);
    return this.gather(position, end, lifetime);
  }

  /** Keeps the segments `keep` accepts; the others' buffers go back to the pool once their reads have settled. */
  private keepWhere(keep: (segment: Segment) => boolean): void {
    const dropped = this.segments.filter((s) => !keep(s));
    if (dropped.length === 0) return;
    this.segments = this.segments.filter(keep);
    this.release(dropped);
  }

  private release(segments: readonly Segment[]): void {
    for (const segment of segments) {
      segment.dropped = true;
      if (segment.pins === 0) this.recycle(segment);
    }
  }

  private unpin(segment: Segment): void {
    segment.pins -= 1;
    if (segment.pins === 0 && segment.dropped) this.recycle(segment);
  }

  /** Back to the pool once its read has settled, unless it failed (an abandoned request could still land in it). */
  private recycle(segment: Segment): void {
    void segment.result.then((outcome) => {
      if ('bytes' in outcome) this.buffers.give(segment.buffer);
    });
  }

  private isNear(position: number): boolean {
    if (this.covers(position)) return true;
    return Math.abs(position - this.streamEnd) <= Math.max(this.window, NEAR_BYTES);
  }

  private covers(position: number): boolean {
    const first = this.segments[0];
    const last = this.segments[this.segments.length - 1];
    return first !== undefined && last !== undefined && first.start <= position && position < last.start + last.length;
  }

  /** Requests segments from the end of the last one (or `from`) up to `until`. */
  private extend(from: number, until: number, single: boolean): void {
    const last = this.segments[this.segments.length - 1];
    let at = last ? last.start + last.length : from;
    const segmentBytes = Math.min(MAX_SEGMENT_BYTES, Math.max(this.options.minBytes, Math.floor(this.window / 4)));
    while (at < until && at < this.eofAt) {
      const start = at;
      const length = single ? until - start : segmentBytes;
      const buffer = this.buffers.take(length);
      const result: Promise<SegmentResult> = this.file.readInto(start, buffer).then(
        (bytes) => {
          this.prefetchedBytes += bytes;
          return { bytes };
        },
        (error: unknown) => ({ error }),
      );
      this.segments.push({ start, length, buffer, result, pins: 0, dropped: false });
      at += length;
    }
  }

  private async gather(position: number, end: number, lifetime: BufferLifetime): Promise<Buffer> {
    // Pinned while we wait: a concurrent read far away may drop them meanwhile, and a dropped buffer must not be
    // refilled before we have copied from it.
    const needed = this.segments.filter((s) => s.start + s.length > position && s.start < end);
    for (const segment of needed) segment.pins += 1;
    try {
      const pieces: Buffer[] = [];
      let cursor = position;
      for (const segment of needed) {
        const outcome = await segment.result;
        if ('error' in outcome) {
          this.invalidate();
          throw outcome.error;
        }
        const from = cursor - segment.start;
        const to = Math.min(end, segment.start + segment.length) - segment.start;
        if (from < outcome.bytes) pieces.push(segment.buffer.subarray(from, Math.min(to, outcome.bytes)));
        cursor = segment.start + to;
        if (outcome.bytes < segment.length) {
          // Short segment: end of file. Later segments were requested past the end; drop them.
          this.eofAt = segment.start + outcome.bytes;
          this.keepWhere((s) => s.start <= segment.start);
          break;
        }
      }
      // One piece may be lent out as it is for this turn (the pool takes buffers back on setImmediate, after
      // the unpin below); anything else is a copy the caller owns.
      return lifetime === 'transient' && pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    } finally {
      for (const segment of needed) this.unpin(segment);
    }
  }
}
