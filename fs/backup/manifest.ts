/**
 * DEST/.devmount-manifest.json: what the newest snapshot holds (each file's size, mode, mtime; each directory's
 * mtime), written at the end of every run, so the next run can decide "link or copy" without an lstat per file
 * (10k lstat calls through libuv's 4 threads were most of a no-change run's local time).
 *
 * Kept beside the snapshots, not inside one, so a snapshot stays an exact copy of the server (restore, verify
 * and list see nothing new, and a server file of any name cannot collide with it). Only the newest snapshot's
 * manifest is kept: nothing else is ever read.
 *
 * Trusted only as far as it can be checked cheaply: it must name the previous snapshot, and every directory
 * it lists must still have the mtime the run gave it. Adding, removing or renaming an entry changes its
 * directory's mtime (POSIX: link, unlink, rename update the parent's st_mtime), so a directory that changed is
 * scanned with lstat as before; a file edited in place inside a snapshot would corrupt every snapshot sharing
 * its inode anyway, so hard-link snapshots are never edited in place (rsync --link-dest has the same rule).
 */
import { lstat, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WorkQueue } from '../bulk/work-queue.js';

export const MANIFEST_NAME = '.devmount-manifest.json';
const FORMAT = 'devmount-snapshot-manifest/1';

/** A file as it is on the local disk: permission bits, size, mtime in whole milliseconds. */
export interface LocalFileMeta {
  readonly size: number;
  readonly mode: number;
  readonly mtimeMs: number;
}

interface ManifestJson {
  readonly format: typeof FORMAT;
  readonly snapshot: string;
  /** path → mtime (ms) as applied by the run; '' is the snapshot root. */
  readonly dirs: Record<string, number>;
  /** path → [size, mode, mtimeMs]. */
  readonly files: Record<string, [number, number, number]>;
}

export async function writeManifest(dest: string, snapshot: string, dirs: ReadonlyMap<string, number>,
  files: ReadonlyMap<string, LocalFileMeta>): Promise<void> {
  const json: ManifestJson = {
    format: FORMAT,
    snapshot,
    dirs: Object.fromEntries(dirs),
    files: Object.fromEntries([...files].map(([path, f]) => [path, [f.size, f.mode, f.mtimeMs]])),
  };
  // Written under a temporary name and renamed: a reader sees the old manifest or the new one, never half.
  const tmp = join(dest, `${MANIFEST_NAME}.${process.pid}.tmp`);
  await writeFile(tmp, JSON.stringify(json), { mode: 0o600 });
  await rename(tmp, join(dest, MANIFEST_NAME));
}

/** What the manifest says about the previous snapshot's files. */
export interface PreviousManifest {
  /**
   * A file's metadata (null: the snapshot has no such file), or undefined when the manifest cannot say
   * (its directory changed since the run that wrote it): the caller then lstats the file.
   */
  lookup(path: string): LocalFileMeta | null | undefined;
}

function isManifest(value: unknown, snapshot: string): value is ManifestJson {
  const v = value as Partial<ManifestJson> | null;
  return typeof v === 'object' && v !== null && v.format === FORMAT && v.snapshot === snapshot
    && typeof v.dirs === 'object' && v.dirs !== null && typeof v.files === 'object' && v.files !== null;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

/** Null when there is no usable manifest for `snapshot` (missing, unreadable, another snapshot's, malformed). */
export async function readManifest(dest: string, snapshot: string): Promise<PreviousManifest | null> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(dest, MANIFEST_NAME), 'utf8'));
  } catch {
    // Missing (first run, or the run that made `snapshot` predates manifests) or damaged: scan instead.
    return null;
  }
  if (!isManifest(parsed, snapshot)) return null;
  const manifest = parsed;
  const snapshotDir = join(dest, snapshot);
  const unchanged = new Set<string>();
  const check = new WorkQueue(64);
  for (const [dir, mtimeMs] of Object.entries(manifest.dirs)) {
    check.add(async () => {
      const st = await lstat(dir === '' ? snapshotDir : join(snapshotDir, dir)).catch(() => null);
      if (st?.isDirectory() && Math.floor(st.mtimeMs) === mtimeMs) unchanged.add(dir);
    });
  }
  await check.drain();
  return {
    lookup(path) {
      if (!unchanged.has(parentOf(path))) return undefined;
      const f = Object.hasOwn(manifest.files, path) ? manifest.files[path] : undefined;
      return f === undefined ? null : { size: f[0], mode: f[1], mtimeMs: f[2] };
    },
  };
}
