/**
 * File contents cached in memory, bounded by bytes (LRU), keyed by path and valid only while the file's
 * size and mtime still match the ones it was read under (the rule of libfuse `auto_cache`).
 */
import type { Attr } from '../types.js';
import { WeightedLru } from './lru.js';
import { isWithin } from '../paths.js';

interface DataEntry {
  readonly data: Buffer;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * Bytes that may stay cached for minutes must not keep a larger buffer alive: a file cut out of a stream
 * (a tar entry is a view into a 32 KiB SSH packet, padded to 512-byte blocks, next to its header) would pin
 * the whole packet, so the cache's byte bound would count about half of the memory it really holds.
 * Such views are copied once; Buffer.from puts copies under 4 KiB into Node's shared 8 KiB pool (slab
 * allocation, one ArrayBuffer for many small files), so a view of a pool slab is left as it is.
 */
function ownBytes(data: Buffer): Buffer {
  const backing = data.buffer.byteLength;
  if (backing <= Buffer.poolSize || backing <= data.length * 2) return data;
  return Buffer.from(data);
}

export class DataCache {
  private readonly lru: WeightedLru<string, DataEntry>;

  constructor(private readonly capacityBytes: number) {
    this.lru = new WeightedLru(capacityBytes);
  }

  get bytes(): number {
    return this.lru.weight;
  }

  get entries(): number {
    return this.lru.size;
  }

  /** Largest file worth caching: one file may not push out more than an eighth of the cache. */
  get maxFileBytes(): number {
    return Math.floor(this.capacityBytes / 8);
  }

  /** The cached bytes when they were read under the same size and mtime as `attr`. */
  get(path: string, attr: Attr): Buffer | undefined {
    const entry = this.lru.peek(path);
    if (!entry) return undefined;
    if (entry.size !== attr.size || entry.mtimeMs !== attr.mtimeMs) {
      this.lru.delete(path);
      return undefined;
    }
    this.lru.get(path);
    return entry.data;
  }

  /** Like get, but neither touches recency nor drops a stale entry: a look, not a use. */
  peek(path: string, attr: Attr): Buffer | undefined {
    const entry = this.lru.peek(path);
    return entry && entry.size === attr.size && entry.mtimeMs === attr.mtimeMs ? entry.data : undefined;
  }

  /** Whether cached bytes exist for `path` that `attr` contradicts (used to report a change made on the server). */
  contradicts(path: string, attr: Attr): boolean {
    const entry = this.lru.peek(path);
    return entry !== undefined && (entry.size !== attr.size || entry.mtimeMs !== attr.mtimeMs);
  }

  set(path: string, attr: Attr, data: Buffer): void {
    if (this.capacityBytes === 0 || data.length !== attr.size || data.length > this.maxFileBytes) return;
    this.lru.set(path, { data: ownBytes(data), size: attr.size, mtimeMs: attr.mtimeMs }, Math.max(1, data.length));
  }

  delete(path: string): void {
    this.lru.delete(path);
  }

  dropSubtree(root: string): void {
    if (root === '/') {
      this.lru.clear();
      return;
    }
    for (const key of [...this.lru.keys()]) {
      if (isWithin(key, root)) this.lru.delete(key);
    }
  }
}
