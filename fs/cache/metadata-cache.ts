/**
 * Attribute, negative, symlink and directory-listing entries with TTLs, in one weighted LRU (a listing
 * weighs one per name, so 200k cached names cost about as much as 200k cached paths).
 *
 * Concurrency: single JS thread; every method is synchronous, so no entry is ever seen half-updated.
 * Expired entries are kept (until evicted or invalidated) so a fresh reply can be compared with the old
 * one: that comparison is how changes made on the server are noticed (origin 'remote' change events).
 *
 * `dropped(path, changed)` is told of every path whose attributes any store or invalidation may have changed
 * (`changed`: the answer did change, or may have: a mutation, a refresh, a reply unlike the last one), and
 * `droppedSubtree(root, known)` of a whole subtree (with the paths below it that were cached here), before the
 * method returns: copies of answers given from here (the FUSE adapter's fast-files table, the kernel's
 * caches) forget them. Evictions are not reported: an evicted answer was still right. storeListing reports
 * the names of the listing it replaces and the names it marks dirty; the caller hands the copy the fresh
 * names it stored instead (storeListing in cached-remote-fs.ts), which replace what the copy held for them.
 */
import { fileType, isDir, isSymlink, S_IFDIR, S_IFREG } from '../posix.js';
import type { Attr, ChangeEvent, DirEntry } from '../types.js';
import { ListingAttrs } from './listing-attrs.js';
import { WeightedLru } from './lru.js';
import type { CacheOptions } from './options.js';
import { baseName, childOf, isWithin, parentOf } from '../paths.js';

interface Timed<T> {
  readonly value: T;
  readonly expires: number;
}

/** A cached directory: name → attributes from the listing (null = created here, attributes unknown). */
export interface Listing {
  readonly attrs: ListingAttrs;
  /** Names whose attributes changed through this mount since the listing was read: re-stat them. */
  readonly dirty: Set<string>;
  readonly expires: number;
}

interface MetaEntry {
  lstat?: Timed<Attr>;
  stat?: Timed<Attr>;
  negative?: number; // expiry of "does not exist"
  link?: Timed<string>;
  listing?: Listing;
}

/** A regular file named by a cached listing, `path` relative to the directory the search started from. */
export interface ListedFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export type AttrLookup =
  | { readonly kind: 'hit'; readonly attr: Attr }
  | { readonly kind: 'negative' }
  | { readonly kind: 'miss' };

/** Attributes with the time (options.now()) until which they are trusted. */
export interface FreshAttr {
  readonly attr: Attr;
  readonly expires: number;
}

type LstatLookup = ({ readonly kind: 'hit' } & FreshAttr) | { readonly kind: 'negative' } | { readonly kind: 'miss' };

function relativeChild(rel: string, name: string): string {
  return rel === '' ? name : `${rel}/${name}`;
}

function sameContent(a: Attr, b: Attr): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs;
}

/** Whether a getattr answer given from `a` would still be right with `b`. */
function sameAttr(a: Attr, b: Attr): boolean {
  return sameContent(a, b) && a.mode === b.mode && a.uid === b.uid && a.gid === b.gid && a.nlink === b.nlink;
}

export class MetadataCache {
  private readonly lru: WeightedLru<string, MetaEntry>;

  constructor(
    private readonly options: CacheOptions,
    private readonly emit: (event: ChangeEvent) => void,
    private readonly dropped: (path: string, changed: boolean) => void = () => undefined,
    private readonly droppedSubtree: (root: string, known: readonly string[]) => void = () => undefined,
  ) {
    this.lru = new WeightedLru(options.maxEntries);
  }

  get entries(): number {
    return this.lru.weight;
  }

  // ---- lookups -------------------------------------------------------------------------------------

  /** lstat from the entry, else from the parent's fresh listing (READDIR replies fill attributes). */
  lookupLstat(path: string): AttrLookup {
    return this.resolveLstat(path, true);
  }

  /** What lookupLstat would answer as a hit, with its expiry; recency is not touched. */
  freshLstat(path: string): FreshAttr | undefined {
    const found = this.resolveLstat(path, false);
    return found.kind === 'hit' ? found : undefined;
  }

  /** stat (following symlinks): its own slot, or the lstat when the path is not a symlink. */
  lookupStat(path: string): AttrLookup {
    const now = this.options.now();
    const entry = this.lru.peek(path);
    if (entry?.stat && entry.stat.expires > now) {
      this.lru.get(path);
      return { kind: 'hit', attr: entry.stat.value };
    }
    const l = this.lookupLstat(path);
    if (l.kind === 'hit' && isSymlink(l.attr.mode)) return { kind: 'miss' };
    return l;
  }

  lookupLink(path: string): string | undefined {
    const entry = this.lru.get(path);
    return entry?.link && entry.link.expires > this.options.now() ? entry.link.value : undefined;
  }

  freshListing(dir: string): Listing | undefined {
    const listing = this.lru.get(dir)?.listing;
    return listing && listing.expires > this.options.now() ? listing : undefined;
  }

  /**
   * lookupLstat's answer, a hit with the time it expires. `touch`: a use, which counts for the LRU's recency
   * (not when the fast-files table copies the answer: that is a look).
   */
  private resolveLstat(path: string, touch: boolean): LstatLookup {
    const now = this.options.now();
    const entry = touch ? this.lru.get(path) : this.lru.peek(path);
    if (entry?.lstat && entry.lstat.expires > now) return { kind: 'hit', attr: entry.lstat.value, expires: entry.lstat.expires };
    if (entry?.negative !== undefined && entry.negative > now) return { kind: 'negative' };
    if (path === '/') return { kind: 'miss' };
    const dir = parentOf(path);
    const listing = (touch ? this.lru.get(dir) : this.lru.peek(dir))?.listing;
    if (!listing || listing.expires <= now) return { kind: 'miss' };
    const name = baseName(path);
    if (!listing.attrs.has(name)) return { kind: 'negative' };
    const attr = listing.attrs.get(name);
    if (attr && !listing.dirty.has(name)) return { kind: 'hit', attr, expires: listing.expires };
    return { kind: 'miss' };
  }

  // ---- stores (callers check the generation first) ---------------------------------------------------

  storeLstat(path: string, attr: Attr): void {
    const known = this.lastKnownAttr(path);
    this.dropped(path, known !== null && (known === undefined || !sameAttr(known, attr)));
    const entry = this.entry(path);
    const previous = entry.lstat?.value;
    entry.lstat = { value: attr, expires: this.options.now() + this.options.attrTimeoutMs };
    entry.negative = undefined;
    if (!isSymlink(attr.mode)) entry.stat = entry.lstat;
    this.updateParentListing(path, attr);
    if (previous && !sameContent(previous, attr)) this.emit({ path, kind: 'modify', origin: 'remote' });
  }

  storeStat(path: string, attr: Attr): void {
    const previous = this.lru.peek(path)?.stat?.value;
    this.dropped(path, previous !== undefined && !sameAttr(previous, attr));
    this.entry(path).stat = { value: attr, expires: this.options.now() + this.options.attrTimeoutMs };
  }

  storeNegative(path: string): void {
    const entry = this.entry(path);
    const listing = path === '/' ? undefined : this.lru.peek(parentOf(path))?.listing;
    const existed = entry.lstat !== undefined || (listing?.attrs.has(baseName(path)) ?? false);
    this.dropped(path, existed);
    entry.lstat = undefined;
    entry.stat = undefined;
    entry.link = undefined;
    entry.negative = this.options.now() + this.options.negativeTimeoutMs;
    if (listing) {
      listing.attrs.delete(baseName(path));
      listing.dirty.delete(baseName(path));
    }
    if (existed) this.emit({ path, kind: 'delete', origin: 'remote' });
  }

  storeLink(path: string, target: string): void {
    this.entry(path).link = { value: target, expires: this.options.now() + this.options.linkTimeoutMs };
  }

  /**
   * Stores a listing and the attributes it carries. `changedSince` names children whose attributes moved
   * while the READDIR was in flight (their attributes in the reply may predate a local write): marked dirty.
   */
  storeListing(dir: string, entries: readonly DirEntry[], changedSince: (child: string) => boolean): void {
    const entry = this.entry(dir);
    const previous = entry.listing;
    const attrs = new ListingAttrs(entries.length);
    for (const { name, attr } of entries) attrs.set(name, attr);
    if (previous) {
      for (const name of previous.attrs.keys()) {
        const old = previous.attrs.get(name);
        const fresh = attrs.get(name);
        this.dropped(childOf(dir, name), !attrs.has(name) || !old || !fresh || !sameAttr(old, fresh));
      }
      // A name the previous listing lacked was created on the server: copies of that listing (the FUSE
      // binding's directory table, the kernel's view of the directory) must not keep answering without it.
      for (const { name } of entries) if (!previous.attrs.has(name)) this.dropped(childOf(dir, name), true);
    }
    const dirty = new Set<string>();
    for (const { name } of entries) {
      if (changedSince(childOf(dir, name))) {
        dirty.add(name);
        this.dropped(childOf(dir, name), false);
      }
    }
    entry.listing = { attrs, dirty, expires: this.options.now() + this.options.dirTimeoutMs };
    this.lru.set(dir, entry, 1 + attrs.size);
    for (const { name, attr } of entries) {
      const child = this.lru.peek(childOf(dir, name));
      if (child && !dirty.has(name)) {
        child.negative = undefined;
        if (child.lstat && !sameContent(child.lstat.value, attr) && !previous) {
          this.emit({ path: childOf(dir, name), kind: 'modify', origin: 'remote' });
        }
        child.lstat = undefined; // the listing's copy is the fresh one now
        if (!isSymlink(attr.mode)) child.stat = undefined;
      }
    }
    if (previous) this.emitListingDiff(dir, previous, attrs);
  }

  // ---- invalidation (after a mutation through this mount) ------------------------------------------

  /** Attributes of `path` changed (write, truncate, chmod…): drop them, mark the name dirty in its parent's listing. */
  invalidateAttr(path: string): void {
    this.dropped(path, true);
    const entry = this.lru.peek(path);
    if (entry) {
      entry.lstat = undefined;
      entry.stat = undefined;
      entry.negative = undefined;
    }
    if (path === '/') return;
    const listing = this.lru.peek(parentOf(path))?.listing;
    const name = baseName(path);
    if (listing?.attrs.has(name)) listing.dirty.add(name);
  }

  /** `path` now exists (create, mkdir, symlink, link, rename target): patch the parent listing instead of dropping it. */
  nameAdded(path: string): void {
    this.dropped(path, true);
    const entry = this.lru.peek(path);
    if (entry) {
      entry.lstat = undefined;
      entry.stat = undefined;
      entry.negative = undefined;
      entry.link = undefined;
    }
    if (path === '/') return;
    const parent = parentOf(path);
    const listing = this.lru.peek(parent)?.listing;
    if (listing) {
      const name = baseName(path);
      if (!listing.attrs.has(name)) listing.attrs.set(name, null);
      listing.dirty.add(name);
    }
    this.invalidateAttr(parent); // its mtime and nlink changed
  }

  /** `path` is gone (unlink, rmdir, rename source); `withSubtree` when it may have had children cached. */
  nameRemoved(path: string, withSubtree: boolean): void {
    this.dropped(path, true);
    if (withSubtree) this.dropSubtree(path);
    else this.lru.delete(path);
    if (path === '/') return;
    const parent = parentOf(path);
    const listing = this.lru.peek(parent)?.listing;
    if (listing) {
      listing.attrs.delete(baseName(path));
      listing.dirty.delete(baseName(path));
    }
    this.invalidateAttr(parent);
  }

  /** A mutation failed: we do not know what happened, so forget the path and its parent's listing. */
  forgetUncertain(path: string): void {
    // The failure may have landed anything under the parent: rare enough to forget every copy of it.
    const parent = path === '/' ? path : parentOf(path);
    this.droppedSubtree(parent, this.knownBelow(parent));
    this.lru.delete(path);
    if (path !== '/') this.lru.delete(parentOf(path));
  }

  /** Forgets everything cached about `path` itself (not its parent's listing, not its children). */
  forget(path: string): void {
    this.dropped(path, true);
    this.lru.delete(path);
  }

  /** Forgets a directory's listing but keeps its own attributes (refresh of a name the listing may not know). */
  dropListing(dir: string): void {
    const entry = this.lru.peek(dir);
    if (entry?.listing) {
      for (const name of entry.listing.attrs.keys()) this.dropped(childOf(dir, name), true);
      entry.listing = undefined;
      this.lru.set(dir, entry, 1);
    }
  }

  /** Drops `path` and everything below it (refresh, rename of a directory). */
  dropSubtree(path: string): void {
    this.droppedSubtree(path, this.knownBelow(path));
    if (path === '/') {
      this.lru.clear();
      return;
    }
    this.lru.delete(path);
    const prefix = `${path}/`;
    for (const key of [...this.lru.keys()]) {
      if (key.startsWith(prefix)) this.lru.delete(key);
    }
  }

  /**
   * The last attributes handed out for `path`, however old: its own, else its parent listing's; null when
   * nothing was (no answer to contradict); undefined when its listing names it without attributes.
   */
  private lastKnownAttr(path: string): Attr | null | undefined {
    const own = this.lru.peek(path)?.lstat?.value;
    if (own) return own;
    if (path === '/') return null;
    const listing = this.lru.peek(parentOf(path))?.listing;
    if (!listing?.attrs.has(baseName(path))) return null;
    return listing.attrs.get(baseName(path)) ?? undefined;
  }

  /** Every path below `root` this cache holds: its own entries and the names in its listings. */
  private knownBelow(root: string): string[] {
    const known = new Set<string>();
    for (const key of this.lru.keys()) {
      if (!isWithin(key, root)) continue;
      if (key !== root) known.add(key);
      const listing = this.lru.peek(key)?.listing;
      if (listing) for (const name of listing.attrs.keys()) known.add(childOf(key, name));
    }
    return [...known];
  }

  /** True when `path` is known to be a non-directory (so a rename of it has no subtree to drop). */
  knownNotDirectory(path: string): boolean {
    const l = this.lookupLstat(path);
    return l.kind === 'hit' && !isDir(l.attr.mode);
  }

  /**
   * True when the last attributes seen for `path`, however old, say it is not a directory: then nothing
   * below it can be cached (caching a child means looking the path up again, which would have replaced
   * them), and a refresh of it need not scan every key.
   */
  lastKnownNotDirectory(path: string): boolean {
    const own = this.lru.peek(path)?.lstat?.value;
    if (own) return !isDir(own.mode);
    if (path === '/') return false;
    const listed = this.lru.peek(parentOf(path))?.listing?.attrs.get(baseName(path));
    return listed ? !isDir(listed.mode) : false;
  }

  /**
   * Regular files of at most `maxBytes` at any depth below `root`, as far as fresh listings know them (what
   * `lookupLstat` would answer without a round trip). A subdirectory without a fresh listing is skipped;
   * symlinks are not followed, as `find -H` does not. Recency is not touched: this is a scan, not a use.
   */
  filesWithin(root: string, maxBytes: number): ListedFile[] {
    const now = this.options.now();
    const files: ListedFile[] = [];
    // Each directory is pushed once, by its parent's listing, so the loop ends after every listed directory.
    const dirs: Array<{ readonly path: string; readonly rel: string }> = [{ path: root, rel: '' }];
    for (let dir = dirs.pop(); dir; dir = dirs.pop()) {
      const listing = this.lru.peek(dir.path)?.listing;
      if (!listing || listing.expires <= now) continue;
      listing.attrs.forEachKnown((name, mode, size, mtimeMs) => {
        if (listing.dirty.has(name)) return;
        const type = fileType(mode);
        if (type === S_IFDIR) dirs.push({ path: childOf(dir.path, name), rel: relativeChild(dir.rel, name) });
        else if (type === S_IFREG && size <= maxBytes) files.push({ path: relativeChild(dir.rel, name), size, mtimeMs });
      });
    }
    return files;
  }

  keysWithin(root: string): string[] {
    return [...this.lru.keys()].filter((key) => isWithin(key, root));
  }

  // ---- internals -------------------------------------------------------------------------------------

  private entry(path: string): MetaEntry {
    const existing = this.lru.get(path);
    if (existing) return existing;
    const created: MetaEntry = {};
    this.lru.set(path, created, 1);
    return created;
  }

  /** A fresh lstat of a child also refreshes its line in the parent's listing. */
  private updateParentListing(path: string, attr: Attr): void {
    if (path === '/') return;
    const listing = this.lru.peek(parentOf(path))?.listing;
    const name = baseName(path);
    if (!listing) return;
    if (!listing.attrs.has(name)) {
      // The name exists but the listing did not have it: the server created it behind our back.
      listing.attrs.set(name, attr);
      return;
    }
    listing.attrs.set(name, attr);
    listing.dirty.delete(name);
  }

  private emitListingDiff(dir: string, before: Listing, after: ListingAttrs): void {
    for (const [name, attr] of after) {
      const path = childOf(dir, name);
      if (!before.attrs.has(name)) {
        this.emit({ path, kind: 'create', origin: 'remote' });
        continue;
      }
      const old = before.attrs.get(name);
      if (old && attr && !before.dirty.has(name) && !sameContent(old, attr)) this.emit({ path, kind: 'modify', origin: 'remote' });
    }
    for (const name of before.attrs.keys()) {
      if (!after.has(name)) this.emit({ path: childOf(dir, name), kind: 'delete', origin: 'remote' });
    }
  }
}
