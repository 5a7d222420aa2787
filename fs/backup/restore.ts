/**
 * Restore: copies a snapshot back to the server, sending only files whose size or mtime differ. Every file is
 * written under a temporary name in its target directory, given its mode and mtime, then renamed over the
 * old one with posix-rename@openssh.com (RemoteFs.rename), so a web server never serves a half-written file.
 * Nothing on the server is deleted unless `delete` is set (then entries absent from the snapshot go, as
 * rsync --delete). A type conflict (a directory where the snapshot has a file …) needs `delete` too.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir, readlink, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { listTree } from '../bulk/list-tree.js';
import type { EntryType, TreeEntry } from '../bulk/types.js';
import { WorkQueue } from '../bulk/work-queue.js';
import { FsError, isFsError } from '../errors.js';
import type { RemoteFs } from '../remote/types.js';
import { RestoreInterruptedError, type BackupSource } from './types.js';
import { DATABASE_DUMP_NAME } from './database.js';
import { restoreDatabaseDump, type DatabaseLoader } from './database-snapshot.js';

const CHUNK = 8 * 1024 * 1024;
const PER_FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'EINVAL', 'EEXIST', 'ENOTEMPTY']);

export interface RestoreOptions {
  readonly dryRun: boolean;
  readonly delete: boolean;
  readonly concurrency: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: RestoreEvent) => void;
  /** Also load the snapshot's database dump (restore --db), after the files. */
  readonly database?: DatabaseLoader;
}

/** 'database': the snapshot's database dump loaded on the server (restore --db). */
export type RestoreAction = 'upload' | 'symlink' | 'mkdir' | 'delete' | 'database';

export type RestoreEvent =
  | { readonly event: 'file'; readonly action: RestoreAction; readonly path: string; readonly size: number }
  | { readonly event: 'error'; readonly path: string; readonly kind: 'failed'; readonly message: string }
  | ({ readonly event: 'summary' } & RestoreSummary);

export interface RestoreSummary {
  readonly uploaded: number;
  readonly unchanged: number;
  readonly deleted: number;
  readonly failed: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly dryRun: boolean;
}


interface LocalEntry {
  readonly path: string;
  readonly type: EntryType;
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly linkTarget?: string;
}

async function walkLocal(dir: string, rel: string, out: LocalEntry[]): Promise<void> {
  const names = await readdir(dir);
  await Promise.all(names.map(async (name) => {
    const childRel = rel === '' ? name : `${rel}/${name}`;
    const full = join(dir, name);
    const st = await lstat(full);
    const type: EntryType = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    out.push({ path: childRel, type, mode: st.mode & 0o7777, size: st.size, mtimeMs: Math.floor(st.mtimeMs),
      ...(type === 'symlink' ? { linkTarget: await readlink(full) } : {}) });
    if (type === 'dir') await walkLocal(full, childRel, out);
  }));
}

function remoteOf(rel: string): string {
  return `/${rel}`;
}

function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? '' : rel.slice(0, slash);
}

function tempNameIn(rel: string): string {
  const dir = parentOf(rel);
  const name = `.devmount-restore-${randomBytes(6).toString('hex')}`;
  return remoteOf(dir === '' ? name : `${dir}/${name}`);
}

async function uploadFile(fs: RemoteFs, localPath: string, entry: LocalEntry): Promise<number> {
  const temp = tempNameIn(entry.path);
  const remote = await fs.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  let sent = 0;
  let renamed = false;
  try {
    const local = await open(localPath, 'r');
    try {
      const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(entry.size, 1)));
      while (true) {
        const { bytesRead } = await local.read(buffer, 0, buffer.length, sent);
        if (bytesRead === 0) break;
        // write() resolves once the server acknowledged every byte; the copy keeps the buffer reusable.
        await remote.write(Buffer.from(buffer.subarray(0, bytesRead)), sent);
        sent += bytesRead;
      }
    } finally {
      await local.close();
    }
    await remote.close();
    await fs.setattr(temp, { mode: entry.mode, atimeMs: entry.mtimeMs, mtimeMs: entry.mtimeMs });
    await fs.rename(temp, remoteOf(entry.path));
    renamed = true;
    return sent;
  } finally {
    if (!renamed) {
      await remote.close().catch(() => { /* closed above already, or the connection is gone: the unlink matters more */ });
      await fs.unlink(temp).catch(() => { /* best effort: a stray temp file is named .devmount-restore-* */ });
    }
  }
}

async function replaceSymlink(fs: RemoteFs, entry: LocalEntry): Promise<void> {
  const temp = tempNameIn(entry.path);
  await fs.symlink(entry.linkTarget ?? '', temp);
  try {
    await fs.rename(temp, remoteOf(entry.path));
  } catch (err) {
    await fs.unlink(temp).catch(() => { /* best effort, as above */ });
    throw err;
  }
}

export async function runRestore(snapshotDir: string, target: BackupSource, options: RestoreOptions): Promise<RestoreSummary> {
  const started = performance.now();
  const emit = (e: RestoreEvent) => options.onEvent?.(e);
  const aborted = () => options.signal?.aborted === true;
  // DEST/latest is a symlink to the snapshot: restore what it points at.
  const root = await realpath(snapshotDir).catch(() => undefined);
  const rootLocal = root === undefined ? undefined : await lstat(root);
  if (root === undefined || !rootLocal?.isDirectory()) throw new FsError('ENOTDIR', `${snapshotDir} is not a snapshot directory`, snapshotDir);

  const walked: LocalEntry[] = [];
  await walkLocal(root, '', walked);
  // The database dump is not a site file: `restore --db` loads it (fs/backup/database.ts).
  const localEntries = walked.filter((e) => e.path !== DATABASE_DUMP_NAME);
  localEntries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const listing = await listTree({ fs: target.fs, shell: target.shell, serverRoot: target.serverRoot }, '/');
  const remote = new Map<string, TreeEntry>(listing.entries.map((e) => [e.path, e]));
  // SFTP v3 SETSTAT carries whole seconds (draft-ietf-secsh-filexfer-02 §5), so that is all a restored file
  // keeps: compare at that precision, or every restore would send everything again.
  const sameTime = (a: number, b: number) => Math.floor(a / 1000) === Math.floor(b / 1000);

  const counts = { uploaded: 0, unchanged: 0, deleted: 0, failed: 0, bytes: 0 };
  const fail = (path: string, err: unknown) => {
    // Anything but a per-file refusal (lost connection, full disk …) stops the restore.
    if (!isFsError(err) || !PER_FILE_ERRORS.has(err.code)) throw err;
    counts.failed += 1;
    emit({ event: 'error', path, kind: 'failed', message: err.message });
  };
  const act = (action: RestoreAction, path: string, size = 0) => emit({ event: 'file', action, path, size });
  const localPaths = new Set(localEntries.map((e) => e.path));

  // Type conflicts and --delete: remove server entries the snapshot does not have (deepest first).
  // rename(2) replaces a file by a symlink and back, but not a directory by a non-directory or the reverse.
  const conflicts = localEntries.filter((e) => { const r = remote.get(e.path); return r !== undefined && (r.type === 'dir') !== (e.type === 'dir'); });
  const extra = options.delete ? listing.entries.filter((e) => e.path !== '' && !localPaths.has(e.path)) : [];
  for (const c of conflicts) {
    const r = remote.get(c.path) as TreeEntry;
    if (!options.delete) {
      counts.failed += 1;
      emit({ event: 'error', path: c.path, kind: 'failed', message: `the server has a ${r.type} here and the snapshot a ${c.type}: use --delete to replace it` });
    }
  }
  const toDelete = [...extra, ...(options.delete ? conflicts.map((c) => remote.get(c.path) as TreeEntry) : [])]
    .sort((a, b) => (a.path < b.path ? 1 : a.path > b.path ? -1 : 0));
  const conflicted = new Set(options.delete ? [] : conflicts.map((c) => c.path));
  // Removing a directory removes its subtree on the server: collect every path under one being deleted.
  const deletedDirs = new Set(toDelete.filter((e) => e.type === 'dir').map((e) => e.path));
  for (const entry of toDelete) {
    if (aborted()) throw new RestoreInterruptedError();
    act('delete', entry.path);
    counts.deleted += 1;
    if (options.dryRun) continue;
    try {
      if (entry.type === 'dir') await target.fs.rmdir(remoteOf(entry.path));
      else await target.fs.unlink(remoteOf(entry.path));
    } catch (err) {
      fail(entry.path, err);
    }
    remote.delete(entry.path);
  }
  const remoteNow = (path: string) => (options.dryRun && (deletedDirs.has(path) || toDelete.some((d) => d.path === path)) ? undefined : remote.get(path));

  // Directories, parents first.
  for (const dir of localEntries.filter((e) => e.type === 'dir')) {
    if (conflicted.has(dir.path) || remoteNow(dir.path)?.type === 'dir') continue;
    if (aborted()) throw new RestoreInterruptedError();
    act('mkdir', dir.path);
    if (options.dryRun) continue;
    try {
      await target.fs.mkdir(remoteOf(dir.path), 0o700);
    } catch (err) {
      fail(dir.path, err);
    }
  }

  const work = new WorkQueue(options.concurrency);
  for (const entry of localEntries) {
    if (conflicted.has(entry.path) || (entry.type !== 'file' && entry.type !== 'symlink')) continue;
    const r = remoteNow(entry.path);
    if (entry.type === 'file' && r?.type === 'file' && r.size === entry.size && sameTime(r.mtimeMs, entry.mtimeMs) && r.mode === entry.mode) {
      counts.unchanged += 1;
      continue;
    }
    if (entry.type === 'symlink' && r?.type === 'symlink' && r.linkTarget === entry.linkTarget) {
      counts.unchanged += 1;
      continue;
    }
    work.add(async () => {
      if (aborted()) return;
      act(entry.type === 'file' ? 'upload' : 'symlink', entry.path, entry.size);
      if (options.dryRun) { counts.uploaded += 1; counts.bytes += entry.size; return; }
      try {
        if (entry.type === 'file') { const sent = await uploadFile(target.fs, join(root, entry.path), entry); counts.bytes += sent; }
        else await replaceSymlink(target.fs, entry);
        counts.uploaded += 1;
      } catch (err) {
        fail(entry.path, err);
      }
    });
  }
  await work.drain();
  if (aborted()) throw new RestoreInterruptedError();

  // Directory modes and mtimes last (creating entries moved them), deepest first.
  if (!options.dryRun) {
    const dirs = [...localEntries.filter((e) => e.type === 'dir' && !conflicted.has(e.path)).reverse(),
      { path: '', type: 'dir' as const, mode: rootLocal.mode & 0o7777, size: 0, mtimeMs: Math.floor(rootLocal.mtimeMs) }];
    for (const dir of dirs) {
      try {
        await target.fs.setattr(remoteOf(dir.path), { mode: dir.mode, atimeMs: dir.mtimeMs, mtimeMs: dir.mtimeMs });
      } catch (err) {
        fail(dir.path, err);
      }
    }
  }
  if (options.database) {
    const loaded = await restoreDatabaseDump(options.database, root, options.dryRun, emit, options.signal);
    if (loaded === null) counts.failed += 1;
    else { counts.uploaded += 1; counts.bytes += loaded; }
  }
  const summary: RestoreSummary = { ...counts, seconds: Math.round(performance.now() - started) / 1000, dryRun: options.dryRun };
  emit({ event: 'summary', ...summary });
  return summary;
}
