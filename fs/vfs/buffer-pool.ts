/**
 * Reusable read-ahead buffers. A fresh Buffer per read-ahead segment meant a new
 * ArrayBuffer for every 2 MiB the kernel read; V8 counts those as external memory and answers with full
 * garbage collections: at 0 ms RTT the mount daemon ran a mark-compact every ~20 ms of a 256 MiB read. Buffers
 * of the sizes read-ahead uses come back here instead and are handed out again.
 *
 * A buffer comes back only on `setImmediate`, once the current turn of the event loop is over: until then a
 * reader may still hold a view of it that it is about to copy (Vfs.readTransient's contract). Free buffers are
 * bounded by `maxFreeBytes`; beyond that they are left to the collector.
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private freeBytes = 0;

  constructor(private readonly maxFreeBytes: number) {}

  /** A buffer of exactly `size` bytes, with whatever a previous user left in it. */
  take(size: number): Buffer {
    const reused = this.free.get(size)?.pop();
    if (reused) {
      this.freeBytes -= size;
      return reused;
    }
    return Buffer.allocUnsafeSlow(size);
  }

  /** Takes `buffer` back after this turn; the caller must not touch it (or views of it) after that. */
  give(buffer: Buffer): void {
    setImmediate(() => this.keep(buffer));
  }

  /** Bytes waiting to be reused (for tests and stats). */
  get idleBytes(): number {
    return this.freeBytes;
  }

  private keep(buffer: Buffer): void {
    if (this.freeBytes + buffer.length > this.maxFreeBytes) return; // over the bound: the collector takes it
    let list = this.free.get(buffer.length);
    if (!list) {
      list = [];
      this.free.set(buffer.length, list);
    }
    list.push(buffer);
    this.freeBytes += buffer.length;
  }
}
