/**
 * The books of one backup run: counters, the paths that failed, and every file that ends up in the snapshot as
 * it is on disk (the next run's manifest). Each outcome — kept, linked, copied (over SFTP, through the tar
 * stream, or the database dump), failed — is booked by one call here, so the summary, the events and the
 * manifest cannot disagree.
 */
import type { LocalFileMeta } from './manifest.js';
import type { BackupEvent, FileAction } from './types.js';

export interface Counts {
  copied: number;
  linked: number;
  skipped: number;
  failed: number;
  vanished: number;
  bytes: number;
}

export interface Tally {
  readonly counts: Readonly<Counts>;
  readonly failedPaths: ReadonlySet<string>;
  /** Every file in the snapshot, as it is on disk (failed paths are taken out by manifestFiles()). */
  readonly inSnapshot: ReadonlyMap<string, LocalFileMeta>;
  /**
   * One file done: `listedSize` is what the event reports, `bytes` what was fetched (copies only), `local` the
   * file as now on disk, when known.
   */
  file(action: FileAction, path: string, listedSize: number, bytes: number, local?: LocalFileMeta): void;
  fail(path: string, kind: 'vanished' | 'failed', message: string): void;
  /** Entries that are not files, directories or symlinks (fifo, socket, device): counted, never placed. */
  skip(count: number): void;
  /** The files for the manifest: those in the snapshot less any that failed later (verify). */
  manifestFiles(): Map<string, LocalFileMeta>;
}

export function createTally(emit: (event: BackupEvent) => void): Tally {
  const counts: Counts = { copied: 0, linked: 0, skipped: 0, failed: 0, vanished: 0, bytes: 0 };
  const failedPaths = new Set<string>();
  const inSnapshot = new Map<string, LocalFileMeta>();
  return {
    counts,
    failedPaths,
    inSnapshot,
    file(action, path, listedSize, bytes, local) {
      if (local) inSnapshot.set(path, local);
      if (action === 'copy') { counts.copied += 1; counts.bytes += bytes; }
      else if (action === 'link') counts.linked += 1;
      else counts.skipped += 1;
      emit({ event: 'file', action, path, size: listedSize });
    },
    fail(path, kind, message) {
      counts.failed += 1;
      failedPaths.add(path);
      if (kind === 'vanished') counts.vanished += 1;
      emit({ event: 'error', path, kind, message });
    },
    skip(count) {
      counts.skipped += count;
    },
    manifestFiles() {
      for (const path of failedPaths) inSnapshot.delete(path);
      return inSnapshot;
    },
  };
}
