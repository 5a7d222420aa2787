/**
 * Generation counter against races between a slow reply and a mutation, after sshfs cache.c's `write_ctr`:
 * a lookup remembers the counter before asking the server and stores the reply only if no mutation that
 * could change it happened meanwhile (sshfs: `if (wrctr == cache.write_ctr) cache_add_attr(...)`).
 *
 * sshfs uses one global counter, so during a long copy (a write acknowledged every few milliseconds) almost
 * no lookup reply is ever stored. Here each mutation also records WHICH paths it touched: `exact` for a
 * path whose attributes or listing changed, `subtree` for a path whose whole subtree changed (rename of a
 * directory, rmdir, refresh). A reply about P is stored only if neither P nor an ancestor's subtree moved
 * since the lookup started. The maps are bounded: past `limit` entries they are cleared and `floor` rises
 * to the current count, which refuses every lookup started before — the sshfs rule, briefly.
 */
import { selfAndAncestors } from '../paths.js';

export class Generations {
  private counter = 0;
  private floor = 0;
  private readonly exact = new Map<string, number>();
  private readonly subtree = new Map<string, number>();

  constructor(private readonly limit = 16_384) {}

  /** The counter to remember before a lookup. */
  current(): number {
    return this.counter;
  }

  /** Records a mutation of `path` itself (its attributes, or the list of names when it is a directory). */
  touch(path: string): void {
    this.counter += 1;
    this.exact.set(path, this.counter);
    this.pruneIfLarge();
  }

  /** Records a mutation of everything at and below `path`. */
  touchTree(path: string): void {
    this.counter += 1;
    if (path === '/') {
      this.raiseFloor();
      return;
    }
    this.subtree.set(path, this.counter);
    this.pruneIfLarge();
  }

  /** True when nothing that could change what a lookup of `path` returns happened since `startedAt`. */
  unchangedSince(path: string, startedAt: number): boolean {
    // Nothing was touched at all since then (the common case while a prefetch streams 10k names in).
    if (startedAt >= this.counter) return true;
    if (startedAt < this.floor) return false;
    if ((this.exact.get(path) ?? 0) > startedAt) return false;
    for (const ancestor of selfAndAncestors(path)) {
      if ((this.subtree.get(ancestor) ?? 0) > startedAt) return false;
    }
    return true;
  }

  private pruneIfLarge(): void {
    if (this.exact.size + this.subtree.size > this.limit) this.raiseFloor();
  }

  private raiseFloor(): void {
    this.floor = this.counter;
    this.exact.clear();
    this.subtree.clear();
  }
}
