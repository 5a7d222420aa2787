/**
 * The writing phase of a backup run: every planned file kept, hard-linked from the previous snapshot or copied
 * from the server (`concurrency` in flight), and symlinks created. Small files to copy go through one tar
 * stream when the server has a shell (fs/bulk/tar-fetch.ts); links, big files and whatever tar could not
 * deliver go through the SFTP queue meanwhile. Each outcome is booked in the run's Tally.
 */
import { link, lutimes, symlink, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ListMethod, RemoteShell, TreeEntry } from '../bulk/types.js';
import { WorkQueue } from '../bulk/work-queue.js';
import { isFsError } from '../errors.js';
import { fetchFile, placeFile } from './fetch-file.js';
import { lstatOrNull, utimesSeconds } from './local-tree.js';
import type { Plan } from './plan.js';
import { removeTree } from './store.js';
import type { Tally } from './tally.js';
import { fetchWithTar } from '../bulk/tar-fetch.js';
import type { BackupOptions, BackupSource } from './types.js';

/** Per-file remote errors: the file is reported and skipped. Anything else (connection lost for good …) stops the run. */
const PER_FILE_ERRORS = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR', 'ENOTDIR', 'ELOOP', 'EINVAL']);
/** Below this many files to copy, SFTP alone is as quick as starting a tar stream. */
const TAR_MIN_FILES = 32;
/**
 * Bigger files go over SFTP with pipelined reads on the data connections, in parallel with the stream: one
 * channel's 2 MiB window (ssh2 Channel.js MAX_WINDOW) caps a single stream near window/RTT, and the tar
 * reader holds each file in memory whole.
 */
const TAR_MAX_FILE_BYTES = 256 * 1024;

export interface TransferTarget {
  /** The partial snapshot being built. */
  readonly partial: string;
  readonly previousDir: string | null;
  /** A fresh temporary file name for each file written (renamed into place when complete). */
  readonly tempPath: () => string;
  readonly listMethod: ListMethod;
}

export async function transferFiles(
  source: BackupSource,
  options: Pick<BackupOptions, 'concurrency' | 'onProgress'>,
  target: TransferTarget,
  plans: readonly Plan[],
  symlinks: readonly TreeEntry[],
  tally: Tally,
  aborted: () => boolean,
): Promise<void> {
  const { partial, previousDir, tempPath } = target;
  const bytesTotal = plans.reduce((n, p) => n + p.entry.size, 0);
  let filesDone = 0;
  const fileDone = () => {
    filesDone += 1;
    options.onProgress?.({ filesDone, filesTotal: plans.length, bytesDone: tally.counts.bytes, bytesTotal });
  };
  const copy = async (entry: TreeEntry, to: string) => {
    try {
      const fetched = await fetchFile(source.fs, `/${entry.path}`, entry, tempPath(), to);
      tally.file('copy', entry.path, entry.size, fetched, { size: fetched, mode: entry.mode, mtimeMs: entry.mtimeMs });
    } catch (err) {
      if (!isFsError(err) || !PER_FILE_ERRORS.has(err.code)) throw err;
      tally.fail(entry.path, err.code === 'ENOENT' ? 'vanished' : 'failed', err.message);
    }
  };
  const work = new WorkQueue(options.concurrency);
  const tarPlans = source.shell && target.listMethod === 'find'
    ? plans.filter((p) => p.action === 'copy' && p.entry.size <= TAR_MAX_FILE_BYTES) : [];
  const viaTar = new Set(tarPlans.length >= TAR_MIN_FILES ? tarPlans : []);
  const tarDone = viaTar.size === 0 ? Promise.resolve<TreeEntry[]>([]) : fetchWithTar(source.shell as RemoteShell, source.serverRoot,
    [...viaTar].map((p) => p.entry), {
      aborted,
      place: async (entry, data) => {
        await placeFile(data, entry, tempPath(), join(partial, entry.path));
        tally.file('copy', entry.path, entry.size, data.length, { size: data.length, mode: entry.mode, mtimeMs: entry.mtimeMs });
        fileDone();
      },
    });
  for (const plan of plans) {
    if (viaTar.has(plan)) continue;
    work.add(async () => {
      if (aborted()) return;
      const to = join(partial, plan.entry.path);
      if (plan.action === 'keep') {
        tally.file('keep', plan.entry.path, plan.entry.size, 0, plan.local);
      } else if (plan.action === 'link' && previousDir && await linkInto(join(previousDir, plan.entry.path), to)) {
        tally.file('link', plan.entry.path, plan.entry.size, 0, plan.local);
      } else {
        await copy(plan.entry, to);
      }
      fileDone();
    });
  }
  for (const entry of symlinks) {
    work.add(async () => {
      if (aborted()) return;
      const to = join(partial, entry.path);
      const st = await lstatOrNull(to);
      if (st) await removeTree(to);
      await symlink(entry.linkTarget ?? '', to);
      await lutimes(to, utimesSeconds(entry.mtimeMs), utimesSeconds(entry.mtimeMs));
    });
  }
  for (const entry of await tarDone) {
    work.add(async () => {
      if (aborted()) return;
      await copy(entry, join(partial, entry.path));
      fileDone();
    });
  }
  await work.drain();
}

/** Hard-links the previous snapshot's copy; false when that is impossible (EMLINK: too many links; gone meanwhile). */
async function linkInto(existing: string, target: string): Promise<boolean> {
  try {
    await link(existing, target);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      // A stale file of a reused partial run: replace it (never write into it: its inode may be shared).
      await unlink(target);
      return linkInto(existing, target);
    }
    if (code === 'EMLINK' || code === 'ENOENT') return false;
    throw err;
  }
}
