/**
 * A least-recently-used map bounded by total weight (entries, or bytes). Map keeps insertion order, so
 * re-inserting on access makes the first key the least recently used one.
 */
export class WeightedLru<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private totalWeight = 0;

  constructor(
    private readonly capacity: number,
    private readonly onEvict: (key: K, value: V) => void = () => undefined,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get weight(): number {
    return this.totalWeight;
  }

  /** Returns the value and marks it most recently used. */
  get(key: K): V | undefined {
    const slot = this.map.get(key);
    if (!slot) return undefined;
    this.map.delete(key);
    this.map.set(key, slot);
    return slot.value;
  }

  /** Returns the value without touching its recency. */
  peek(key: K): V | undefined {
    return this.map.get(key)?.value;
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Inserts or replaces (also used to re-weigh a mutated value); evicts the least recently used beyond capacity. */
  set(key: K, value: V, weight = 1): void {
    const old = this.map.get(key);
    if (old) {
      this.totalWeight -= old.weight;
      this.map.delete(key);
    }
    this.map.set(key, { value, weight });
    this.totalWeight += weight;
    this.evictOverCapacity(key);
  }

  delete(key: K): boolean {
    const old = this.map.get(key);
    if (!old) return false;
    this.totalWeight -= old.weight;
    this.map.delete(key);
    return true;
  }

  clear(): void {
    this.map.clear();
    this.totalWeight = 0;
  }

  keys(): IterableIterator<K> {
    return this.map.keys();
  }

  private evictOverCapacity(justInserted: K): void {
    for (const [key, slot] of this.map) {
      if (this.totalWeight <= this.capacity) return;
      // A single value heavier than the whole cache is still kept until something else arrives: dropping
      // what the caller just stored would make the cache useless for that one huge directory.
      if (key === justInserted) return;
      this.map.delete(key);
      this.totalWeight -= slot.weight;
      this.onEvict(key, slot.value);
    }
  }
}
