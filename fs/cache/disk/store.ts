/**
 * The on-disk half of the persistent cache: contents of files fetched from one remote, kept between runs in one
 * directory per remote (…/devmount/<remote key>/, see remote-key.ts). Layout:
 *
 *   index.json   {"version", "remoteKey", "entries": [[path, mode, size, uid, gid, mtimeMs], …]} in order of last use
 *   blobs/<id>   the bytes; <id> is a hash of path, size and mtime, so a blob can only ever be read under the
 *                attributes it was stored with, whatever an interrupted run left behind
 *
 * Writes are atomic (a temp file, then rename(2), which POSIX makes atomic within one file system), and the
 * index is written last: a blob is in place before an index names it, and a blob is deleted only after an index
 * that no longer names it is written (evictions wait for the next index write). So a crash leaves at worst
 * blobs nobody names (removed at the next load), never an index naming a missing or half-written blob; an index
 * that does (a disk filled up, a hand edit, a copy cut short) is "corrupt", and the whole directory is then
 * discarded with one log line, as is an index of another version or another remote.
 *
 * Only async fs calls: the cache directory may itself be on a mount served by this process (a sync call there
 * would deadlock FUSE).
 *
 * State (single JS thread): `entries` (path → record) in order of last use, `bytes` their total size,
 * `doomed` blob ids to delete after the next index write; one index write at a time (`saving`).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkQueue } from '../../bulk/work-queue.js';
import type { Attr } from '../../types.js';

export const DISK_CACHE_VERSION = 1;

export interface DiskCacheLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** What a record keeps of a file's attributes: enough to validate (size, mtime) and to answer getattr offline. */
export interface DiskRecord {
  readonly mode: number;
  readonly size: number;
  readonly uid: number;
  readonly gid: number;
  readonly mtimeMs: number;
}

type IndexRow = [path: string, mode: number, size: number, uid: number, gid: number, mtimeMs: number];

interface IndexFile {
  readonly version: number;
  readonly remoteKey: string;
  readonly entries: readonly IndexRow[];
}

/** Blob stats in flight while an index is checked at load. */
const CHECK_CONCURRENCY = 32;
/** An index write is delayed this long, so a burst of stores (a page's includes) costs one write. */
const INDEX_WRITE_DELAY_MS = 500;

export function blobId(path: string, size: number, mtimeMs: number): string {
  return createHash('sha256').update(`${size}:${mtimeMs}:${path}`).digest('hex').slice(0, 40);
}

function isRow(row: unknown): row is IndexRow {
  return Array.isArray(row) && row.length === 6 && typeof row[0] === 'string' && row[0].startsWith('/')
    && row.slice(1).every((n) => typeof n === 'number' && Number.isFinite(n) && n >= 0);
}

/** Why an index cannot be used, or null when it can. */
function problemOf(parsed: unknown, remoteKey: string): string | null {
  if (typeof parsed !== 'object' || parsed === null) return 'not an index';
  const index = parsed as Partial<IndexFile>;
  if (index.version !== DISK_CACHE_VERSION) return `version ${String(index.version)}, expected ${DISK_CACHE_VERSION}`;
  if (index.remoteKey !== remoteKey) return `it belongs to ${JSON.stringify(index.remoteKey)}`;
  if (!Array.isArray(index.entries) || !index.entries.every(isRow)) return 'malformed entries';
  return null;
}

export function recordOf(attr: Attr): DiskRecord {
  return { mode: attr.mode, size: attr.size, uid: attr.uid, gid: attr.gid, mtimeMs: attr.mtimeMs };
}

/** A record as the Attr getattr would answer (link count and other times as SFTP reports them: fs/sftp/wire.ts). */
export function attrOfRecord(record: DiskRecord): Attr {
  return Object.freeze({ ...record, nlink: 1, atimeMs: record.mtimeMs, ctimeMs: record.mtimeMs });
}

export class DiskStore {
  private readonly entries = new Map<string, DiskRecord>();
  private total = 0;
  private readonly doomed = new Set<string>();
  /** Stores in progress by path; drop() deletes a path's token, so a store that raced a change is not recorded. */
  private readonly writing = new Map<string, object>();
  private saving: Promise<void> | null = null;
  private saveTimer: NodeJS.Timeout | null = null;
  private dirty = false;
  private closed = false;
  /** Paths as the index was loaded: in order of use, least recent first. */
  readonly previousOrder: readonly string[];

  private constructor(
    readonly dir: string,
    private readonly remoteKey: string,
    private readonly maxBytes: number,
    private readonly log: DiskCacheLogger,
    rows: readonly IndexRow[],
  ) {
    for (const [path, mode, size, uid, gid, mtimeMs] of rows) {
      this.entries.set(path, { mode, size, uid, gid, mtimeMs });
      this.total += size;
    }
    this.previousOrder = Object.freeze([...this.entries.keys()]);
  }

  /**
   * Opens (creating it when missing) the cache directory of `remoteKey`. An index that cannot be used (another
   * version, another remote, unreadable, naming a missing or truncated blob) is discarded with one log line;
   * blobs no index names are removed. Never throws for the cache's own content; throws only when `dir` cannot
   * be created or written (the caller then runs without a disk cache).
   */
  static async open(dir: string, remoteKey: string, maxBytes: number, log: DiskCacheLogger): Promise<DiskStore> {
    const blobs = join(dir, 'blobs');
    await mkdir(blobs, { recursive: true, mode: 0o700 });
    const rows = await DiskStore.loadIndex(dir, remoteKey, log);
    const store = new DiskStore(dir, remoteKey, maxBytes, log, rows);
    await store.removeStrays();
    return store;
  }

  private static async loadIndex(dir: string, remoteKey: string, log: DiskCacheLogger): Promise<IndexRow[]> {
    let text: string;
    try {
      text = await readFile(join(dir, 'index.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    let problem: string | null;
    let rows: IndexRow[] = [];
    try {
      const parsed: unknown = JSON.parse(text);
      problem = problemOf(parsed, remoteKey);
      if (problem === null) {
        rows = [...(parsed as IndexFile).entries];
        problem = await DiskStore.missingBlob(dir, rows);
      }
    } catch (err) {
      problem = `unreadable index (${(err as Error).message})`;
    }
    if (problem === null) return rows;
    log.warn({ dir, problem }, 'disk cache discarded: it cannot be trusted; starting with an empty one');
    await rm(join(dir, 'index.json'), { force: true });
    await rm(join(dir, 'blobs'), { recursive: true, force: true });
    await mkdir(join(dir, 'blobs'), { recursive: true, mode: 0o700 });
    return [];
  }

  /** The first blob an index names that is missing or not of its recorded size, as a problem text. */
  private static async missingBlob(dir: string, rows: readonly IndexRow[]): Promise<string | null> {
    let problem: string | null = null;
    const queue = new WorkQueue(CHECK_CONCURRENCY);
    for (const [path, , size, , , mtimeMs] of rows) {
      queue.add(async () => {
        if (problem !== null) return;
        try {
          const st = await stat(join(dir, 'blobs', blobId(path, size, mtimeMs)));
          if (st.size !== size) problem = `truncated content of ${path} (${st.size} of ${size} bytes)`;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          problem = `missing content of ${path}`;
        }
      });
    }
    await queue.drain();
    return problem;
  }

  /** Blobs no record names: left by a run that stopped between a blob's rename and the next index write. */
  private async removeStrays(): Promise<void> {
    const named = new Set<string>();
    for (const [path, r] of this.entries) named.add(blobId(path, r.size, r.mtimeMs));
    const names = await readdir(join(this.dir, 'blobs'));
    await Promise.all(names.filter((n) => !named.has(n)).map((n) => rm(join(this.dir, 'blobs', n), { force: true })));
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.total;
  }

  /** The record of `path`, without marking it used. */
  peek(path: string): DiskRecord | undefined {
    return this.entries.get(path);
  }

  /** Records in order of last use, least recent first. */
  records(): IterableIterator<[string, DiskRecord]> {
    return this.entries.entries();
  }

  /**
   * The stored bytes of `path` when they were stored under `record`'s size and mtime; undefined when not
   * stored, or when the blob is gone or not of its size (then the record is dropped: the bytes are lost, not
   * wrong). Marks the record used.
   */
  async read(path: string, expected: { readonly size: number; readonly mtimeMs: number }): Promise<Buffer | undefined> {
    const record = this.entries.get(path);
    if (!record || record.size !== expected.size || record.mtimeMs !== expected.mtimeMs) return undefined;
    let data: Buffer;
    try {
      data = await readFile(join(this.dir, 'blobs', blobId(path, record.size, record.mtimeMs)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.drop(path);
      return undefined;
    }
    if (data.length !== record.size) {
      this.drop(path);
      return undefined;
    }
    if (this.entries.get(path) === record) this.markUsed(path, record);
    return data;
  }

  /** Marks `path` used (its place in the order of use, and so in LRU eviction) when it is stored. */
  touch(path: string): void {
    const record = this.entries.get(path);
    if (record) this.markUsed(path, record);
  }

  /** Stores `data` as the content of `path` under `attr` (a temp file renamed into place), then schedules the index. */
  async put(path: string, attr: Attr, data: Buffer): Promise<void> {
    if (this.closed || data.length !== attr.size || data.length > this.maxBytes) return;
    const record = recordOf(attr);
    const id = blobId(path, record.size, record.mtimeMs);
    const existing = this.entries.get(path);
    if (existing && existing.size === record.size && existing.mtimeMs === record.mtimeMs) {
      this.markUsed(path, existing);
      return;
    }
    const final = join(this.dir, 'blobs', id);
    const temp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    const token = {};
    this.writing.set(path, token);
    try {
      await writeFile(temp, data, { mode: 0o600 });
      await rename(temp, final);
    } catch (err) {
      await unlink(temp).catch(() => undefined); // best effort: a stray temp file is removed at the next load
      throw err;
    }
    const current = this.writing.get(path) === token;
    if (current) this.writing.delete(path);
    // Dropped (a change was reported) or stored again while being written, or closed meanwhile: not recorded;
    // the blob is a stray, removed at the next load.
    if (!current || this.closed) return;
    this.drop(path);
    this.doomed.delete(id);
    this.entries.set(path, record);
    this.total += record.size;
    this.evictOverCapacity();
    this.scheduleIndexWrite();
  }

  /** Forgets `path` (its blob is deleted after the next index write). */
  drop(path: string): void {
    this.writing.delete(path);
    const record = this.entries.get(path);
    if (!record) return;
    this.entries.delete(path);
    this.total -= record.size;
    this.doomed.add(blobId(path, record.size, record.mtimeMs));
    this.scheduleIndexWrite();
  }

  /** Forgets `root` and every record below it (records are files: a record at `root` has nothing below it). */
  dropWithin(root: string): void {
    if (this.entries.has(root)) {
      this.drop(root);
      return;
    }
    const prefix = root === '/' ? '/' : `${root}/`;
    for (const path of [...this.entries.keys(), ...this.writing.keys()]) if (path === root || path.startsWith(prefix)) this.drop(path);
  }

  /** Writes the index now if anything changed; resolves once it is on disk. */
  async flush(): Promise<void> {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = null;
    while (this.saving) await this.saving;
    if (!this.dirty) return;
    this.saving = this.writeIndex().finally(() => { this.saving = null; });
    await this.saving;
  }

  /** Writes what is pending and stops storing. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private markUsed(path: string, record: DiskRecord): void {
    // Map order is insertion order: re-inserting makes `path` the most recently used.
    this.entries.delete(path);
    this.entries.set(path, record);
    this.scheduleIndexWrite();
  }

  private evictOverCapacity(): void {
    for (const path of this.entries.keys()) {
      if (this.total <= this.maxBytes) return;
      this.drop(path);
    }
  }

  private scheduleIndexWrite(): void {
    this.dirty = true;
    if (this.saveTimer || this.closed) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = null;
      this.flush().catch((err: unknown) => this.log.warn({ dir: this.dir, err: (err as Error).message }, 'disk cache index not written'));
    }, INDEX_WRITE_DELAY_MS);
    this.saveTimer.unref();
  }

  private async writeIndex(): Promise<void> {
    this.dirty = false;
    const doomed = [...this.doomed];
    this.doomed.clear();
    const rows: IndexRow[] = [];
    for (const [path, r] of this.entries) rows.push([path, r.mode, r.size, r.uid, r.gid, r.mtimeMs]);
    const index: IndexFile = { version: DISK_CACHE_VERSION, remoteKey: this.remoteKey, entries: rows };
    const final = join(this.dir, 'index.json');
    const temp = `${final}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, JSON.stringify(index), { mode: 0o600 });
    await rename(temp, final);
    // Only now that no index names them may the evicted blobs go.
    await Promise.all(doomed.map((id) => rm(join(this.dir, 'blobs', id), { force: true })));
  }
}
