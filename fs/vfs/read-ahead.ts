/**
 * Read-ahead for one open handle (issue 6, "Reads"). A read that continues where the last one ended is
 * sequential: the window grows (start `minBytes`, doubling up to `maxBytes`) and segments ahead of the
 * reader are requested before they are needed, each a pipelined RemoteFile.read. A read elsewhere is
 * random: segments are dropped, the window shrinks back, and exactly what was asked is read.
 *
 * A segment's promise never rejects (it settles to {error}): a prefetch that fails only matters if a read
 * needs it, and then that read rejects with the error — never a short read (sshfs#224: a read error
 * reported as EOF makes silently truncated copies).
 */
import type { RemoteFile } from '../remote/types.js';

type SegmentResult = { readonly data: Buffer } | { readonly error: unknown };

interface Segment {
  readonly start: number;
  readonly length: number;
  readonly result: Promise<SegmentResult>;
}

export interface ReadAheadOptions {
  readonly minBytes: number;
  readonly maxBytes: number;
}

const MAX_SEGMENT_BYTES = 1024 * 1024;

export class ReadAhead {
  private segments: Segment[] = [];
  private nextExpected = 0;
  private window: number;
  /** Where a segment came back short: no prefetch past it (reads there go straight to the file). */
  private eofAt = Number.POSITIVE_INFINITY;
  prefetchedBytes = 0;

  constructor(
    private readonly file: RemoteFile,
    private readonly options: ReadAheadOptions,
  ) {
    this.window = options.minBytes;
  }

  /** Drops prefetched bytes (after a write or truncate through any handle of the file). */
  invalidate(): void {
    this.segments = [];
    this.eofAt = Number.POSITIVE_INFINITY;
  }

  async read(position: number, length: number): Promise<Buffer> {
    const end = position + length;
    const sequential = position === this.nextExpected || this.covered(position);
    this.nextExpected = end;
    if (!sequential) {
      this.invalidate();
      this.window = this.options.minBytes;
      return this.file.read(position, length);
    }
    if (position >= this.eofAt) {
      // The file may have grown since we saw its end: ask again, without prefetching.
      this.invalidate();
      return this.file.read(position, length);
    }
    this.window = Math.min(this.options.maxBytes, this.window * 2);
    this.segments = this.segments.filter((s) => s.start + s.length > position);
    if (this.segments.length > 0 && this.segments[0]!.start > position) this.segments = [];
    this.extend(position, Math.max(end, position + this.window));
    return this.gather(position, end);
  }

  private covered(position: number): boolean {
    const first = this.segments[0];
    const last = this.segments[this.segments.length - 1];
    return first !== undefined && last !== undefined && first.start <= position && position < last.start + last.length;
  }

  private extend(from: number, until: number): void {
    const last = this.segments[this.segments.length - 1];
    let at = last ? last.start + last.length : from;
    const segmentBytes = Math.min(MAX_SEGMENT_BYTES, Math.max(this.options.minBytes, Math.floor(this.window / 4)));
    while (at < until && at < this.eofAt) {
      const start = at;
      const result: Promise<SegmentResult> = this.file.read(start, segmentBytes).then(
        (data) => ({ data }),
        (error: unknown) => ({ error }),
      );
      this.segments.push({ start, length: segmentBytes, result });
      this.prefetchedBytes += segmentBytes;
      at += segmentBytes;
    }
  }

  private async gather(position: number, end: number): Promise<Buffer> {
    const pieces: Buffer[] = [];
    for (const segment of [...this.segments]) {
      if (segment.start >= end) break;
      const outcome = await segment.result;
      if ('error' in outcome) {
        this.invalidate();
        throw outcome.error;
      }
      const from = Math.max(position, segment.start) - segment.start;
      const to = Math.min(end, segment.start + segment.length) - segment.start;
      if (from < outcome.data.length) pieces.push(outcome.data.subarray(from, Math.min(to, outcome.data.length)));
      if (outcome.data.length < segment.length) {
        // Short segment: end of file. Segments after it were requested past the end; drop them.
        this.eofAt = segment.start + outcome.data.length;
        this.segments = this.segments.filter((s) => s.start <= segment.start);
        break;
      }
    }
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
  }
}
