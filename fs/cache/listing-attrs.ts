/**
 * The names of one cached directory listing and the attributes it carried, packed into one Float64Array
 * (to keep the daemon's RSS ≤ 200 MB throughout). After a whole-tree prefetch the listings hold every name of the
 * tree; as one frozen Attr object per name, each entry cost an object of eight fields plus a boxed heap
 * number per time field (V8 boxes doubles outside the small-integer range, and epoch milliseconds are
 * outside it): about 140 bytes. Packed, it is 64 bytes and no object at all, so less survives each
 * scavenge and the young generation is not driven to its largest size by a listing streaming in.
 *
 * The map keeps names in insertion order (a Map<string, Attr | null> did the same): readdir replies keep the
 * server's order. An Attr is built on each `get`; callers see the same frozen shape as before.
 */
import type { Attr } from '../types.js';

/** Fields of one record, in this order. */
const MODE = 0;
const SIZE = 1;
const UID = 2;
const GID = 3;
const NLINK = 4;
const ATIME = 5;
const MTIME = 6;
const CTIME = 7;
const FIELDS = 8;

export class ListingAttrs implements Iterable<[string, Attr | null]> {
  /** name → record number. */
  private readonly slots = new Map<string, number>();
  /** Records of removed names, reused by the next names added. */
  private readonly freeSlots: number[] = [];
  private records: Float64Array;
  private nextSlot = 0;

  /** `expected`: names about to be set (a listing's length), so the records are allocated once. */
  constructor(expected = 0) {
    this.records = new Float64Array(expected * FIELDS);
  }

  get size(): number {
    return this.slots.size;
  }

  has(name: string): boolean {
    return this.slots.has(name);
  }

  /** The listed attributes; null when the name is listed without them (created here); undefined when not listed. */
  get(name: string): Attr | null | undefined {
    const slot = this.slots.get(name);
    return slot === undefined ? undefined : this.attrAt(slot);
  }

  set(name: string, attr: Attr | null): void {
    let slot = this.slots.get(name);
    if (slot === undefined) {
      slot = this.allocate();
      this.slots.set(name, slot);
    }
    const r = this.records;
    const at = slot * FIELDS;
    if (!attr) {
      r[at + MODE] = Number.NaN;
      return;
    }
    r[at + MODE] = attr.mode;
    r[at + SIZE] = attr.size;
    r[at + UID] = attr.uid;
    r[at + GID] = attr.gid;
    r[at + NLINK] = attr.nlink;
    r[at + ATIME] = attr.atimeMs;
    r[at + MTIME] = attr.mtimeMs;
    r[at + CTIME] = attr.ctimeMs;
  }

  delete(name: string): boolean {
    const slot = this.slots.get(name);
    if (slot === undefined) return false;
    this.slots.delete(name);
    this.freeSlots.push(slot);
    return true;
  }

  /**
   * Calls `visit` with the listed mode, size and mtime of every name whose attributes are known, without
   * building an Attr per name (a scan of a whole tree's listings would otherwise allocate one per name).
   */
  forEachKnown(visit: (name: string, mode: number, size: number, mtimeMs: number) => void): void {
    const r = this.records;
    for (const [name, slot] of this.slots) {
      const at = slot * FIELDS;
      const mode = r[at + MODE] as number;
      if (!Number.isNaN(mode)) visit(name, mode, r[at + SIZE] as number, r[at + MTIME] as number);
    }
  }

  keys(): IterableIterator<string> {
    return this.slots.keys();
  }

  *[Symbol.iterator](): IterableIterator<[string, Attr | null]> {
    for (const [name, slot] of this.slots) yield [name, this.attrAt(slot)];
  }

  private attrAt(slot: number): Attr | null {
    const r = this.records;
    const at = slot * FIELDS;
    const mode = r[at + MODE] as number;
    if (Number.isNaN(mode)) return null;
    return Object.freeze({
      mode,
      size: r[at + SIZE] as number,
      uid: r[at + UID] as number,
      gid: r[at + GID] as number,
      nlink: r[at + NLINK] as number,
      atimeMs: r[at + ATIME] as number,
      mtimeMs: r[at + MTIME] as number,
      ctimeMs: r[at + CTIME] as number,
    });
  }

  private allocate(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) return reused;
    if ((this.nextSlot + 1) * FIELDS > this.records.length) {
      // Names added one by one (creates through this mount): grow by half, not per name.
      const grown = new Float64Array(Math.max(4, Math.ceil((this.nextSlot + 1) * 1.5)) * FIELDS);
      grown.set(this.records);
      this.records = grown;
    }
    const slot = this.nextSlot;
    this.nextSlot += 1;
    return slot;
  }
}
