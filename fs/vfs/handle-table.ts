/** File handles as small integers (FUSE's `fh`), lowest free number first, like file descriptors. */
import { FsError } from '../errors.js';

export class HandleTable<T> {
  private readonly slots = new Map<number, T>();
  private readonly free: number[] = [];
  private next = 1;

  get size(): number {
    return this.slots.size;
  }

  add(value: T): number {
    this.free.sort((a, b) => b - a);
    const id = this.free.pop() ?? this.next++;
    this.slots.set(id, value);
    return id;
  }

  get(id: number): T {
    const value = this.slots.get(id);
    if (value === undefined) throw new FsError('EBADF', `bad file handle ${id}`);
    return value;
  }

  /** Removes and returns the handle; the number becomes reusable at once. */
  take(id: number): T {
    const value = this.get(id);
    this.slots.delete(id);
    this.free.push(id);
    return value;
  }

  values(): IterableIterator<T> {
    return this.slots.values();
  }

  ids(): number[] {
    return [...this.slots.keys()];
  }
}
