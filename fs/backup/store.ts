/**
 * The destination layout: DEST/<timestamp>/ complete snapshots, DEST/latest → the newest complete one,
 * DEST/.partial-<timestamp>/ a run in progress (or interrupted, to be reused), DEST/.devmount-tmp/ files
 * being written (renamed into place only when complete).
 */
import { chmod, lstat, readdir, rename, rm, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { LATEST, PARTIAL_PREFIX, parseSnapshotName } from './snapshot-names.js';
import type { DatedSnapshot } from './retention.js';

export async function listSnapshots(dest: string): Promise<DatedSnapshot[]> {
  const names = await readdir(dest);
  const out: DatedSnapshot[] = [];
  for (const name of names) {
    const date = parseSnapshotName(name);
    if (date) out.push({ name, date });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function listPartials(dest: string): Promise<string[]> {
  const names = await readdir(dest);
  return names.filter((n) => n.startsWith(PARTIAL_PREFIX) && parseSnapshotName(n.slice(PARTIAL_PREFIX.length))).sort();
}

/** Points DEST/latest at `name` atomically: a new symlink renamed over the old one (rename(2) replaces). */
export async function setLatest(dest: string, name: string): Promise<void> {
  const tmp = join(dest, `.${LATEST}-${process.pid}`);
  await unlink(tmp).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
  await symlink(name, tmp);
  await rename(tmp, join(dest, LATEST));
}

/**
 * rm -rf that also works on trees holding read-only directories (a snapshot keeps the server's modes, and
 * unlink(2) needs write permission on the parent): on EACCES, give directories u+rwx and retry.
 */
export async function removeTree(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EACCES' && (err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
    await makeDirsWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

async function makeDirsWritable(dir: string): Promise<void> {
  const st = await lstat(dir);
  if (!st.isDirectory()) return;
  if ((st.mode & 0o700) !== 0o700) await chmod(dir, (st.mode & 0o7777) | 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await makeDirsWritable(join(dir, entry.name));
  }
}
