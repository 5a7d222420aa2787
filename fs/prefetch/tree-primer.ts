/**
 * Turns a bulk listing streamed in find(1)'s pre-order (a directory, then its entries, each subdirectory
 * followed at once by its own subtree) into one directory listing per directory, handed to `prime` as soon
 * as the directory is complete — that is, when the stream leaves its subtree. Only the directories on the
 * current path are held in memory, never the whole tree.
 *
 * Empty directories are held back until the listing has ended: find prints nothing under a directory it
 * cannot read, and its "Permission denied" arrives on stderr, not in order with stdout, so an empty
 * directory is primed only once we know find had no problem with it.
 */
import type { ListProblem, TreeEntry } from '../bulk/index.js';
import type { DirEntry } from '../types.js';
import { attrOfTreeEntry } from './tree-entry-attr.js';

interface OpenDir {
  readonly rel: string;
  readonly entries: DirEntry[];
  /** False when an entry could not be represented (fifo, device…): the directory is then left to READDIR. */
  representable: boolean;
}

export class ListingOrderError extends Error {
  constructor(path: string) {
    super(`bulk listing is not in pre-order at ${JSON.stringify(path)}`);
    this.name = 'ListingOrderError';
  }
}

/**
 * The name as a string of its own: `path.slice()` of a name of 13 characters or more gives a V8 sliced string
 * that keeps the whole relative path it was cut from alive for as long as the listing holds the name. A
 * property key is internalized (V8's string table): a flat copy, shared by every directory holding the same
 * name (index.php, README.md, .gitignore…). Computed keys define own properties, so '__proto__' is a name too.
 */
function ownName(name: string): string {
  return Object.keys({ [name]: 0 })[0] as string;
}

/** `rel` is relative to the listed root ('' = the root). */
export type PrimeDir = (rel: string, entries: readonly DirEntry[]) => void;

export class TreePrimer {
  private readonly stack: OpenDir[] = [];
  private readonly emptyDirs: string[] = [];
  private primedCount = 0;

  constructor(private readonly prime: PrimeDir) {}

  /** Directories primed so far. */
  get primed(): number {
    return this.primedCount;
  }

  push(entry: TreeEntry): void {
    if (entry.path === '') {
      if (entry.type === 'dir') this.stack.push({ rel: '', entries: [], representable: true });
      return;
    }
    const slash = entry.path.lastIndexOf('/');
    const parent = slash === -1 ? '' : entry.path.slice(0, slash);
    while (this.stack.length > 0 && (this.stack[this.stack.length - 1] as OpenDir).rel !== parent) this.finish(this.stack.pop() as OpenDir);
    const top = this.stack[this.stack.length - 1];
    if (!top) throw new ListingOrderError(entry.path);
    const attr = attrOfTreeEntry(entry);
    if (attr) top.entries.push({ name: ownName(entry.path.slice(slash + 1)), attr });
    else top.representable = false;
    if (entry.type === 'dir') this.stack.push({ rel: entry.path, entries: [], representable: true });
  }

  /** The listing ran to its end: everything still open is complete; empty directories without a problem are primed. */
  end(problems: readonly ListProblem[]): void {
    while (this.stack.length > 0) this.finish(this.stack.pop() as OpenDir);
    const unreadable = new Set(problems.map((p) => p.path));
    // A problem without a path (an unparsed message) could be about any directory: prime no empty one then.
    if (unreadable.has('')) return;
    for (const rel of this.emptyDirs) if (!unreadable.has(rel)) this.emit(rel, []);
    this.emptyDirs.length = 0;
  }

  /** The listing stopped early: directories still open are incomplete and dropped. */
  abandon(): void {
    this.stack.length = 0;
    this.emptyDirs.length = 0;
  }

  private finish(dir: OpenDir): void {
    if (!dir.representable) return;
    if (dir.entries.length === 0) this.emptyDirs.push(dir.rel);
    else this.emit(dir.rel, dir.entries);
  }

  private emit(rel: string, entries: readonly DirEntry[]): void {
    this.primedCount += 1;
    this.prime(rel, entries);
  }
}
