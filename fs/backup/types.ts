/**
 * The backup engine's contract: what it reads from (a RemoteFs plus, when the server has one, a shell),
 * what it is told (frozen options), what it reports (events, a summary). No CLI code here.
 */
import type { ListMethod, RemoteShell } from '../bulk/types.js';
import type { RemoteFs } from '../remote/types.js';

export interface BackupSource {
  readonly fs: RemoteFs;
  /** Exec channel for `find` listings and `sha256sum`; absent when the server has no shell. */
  readonly shell?: RemoteShell;
  /** The server-side path of `fs`'s root, for commands run through `shell` ('' = login directory). */
  readonly serverRoot: string;
  /**
   * Called once the engine knows files will be fetched: a source that opens its data connections lazily
   * starts them now, so their handshakes overlap the rest of the planning.
   */
  readonly prepareCopies?: () => void;
  /** For messages and events: "user@host:/path". */
  readonly label: string;
}

export interface RetentionPolicy {
  readonly keepLast?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
}

export interface BackupOptions {
  readonly dest: string;
  readonly checksum: boolean;
  readonly dryRun: boolean;
  readonly verify: boolean;
  /** gitignore-syntax patterns (the `ignore` package), matched against paths relative to the remote root. */
  readonly excludes: readonly string[];
  readonly retention: RetentionPolicy;
  /** Files in flight at once. */
  readonly concurrency: number;
  readonly signal?: AbortSignal;
  readonly onEvent?: (event: BackupEvent) => void;
  readonly onProgress?: (progress: BackupProgress) => void;
  /** Clock, for tests of naming and retention. */
  readonly now?: () => Date;
  /** The site's database, dumped into the snapshot as DATABASE_DUMP_NAME (fs/backup/database.ts). */
  readonly database?: import('./database-snapshot.js').DatabaseDumper;
}

export type FileAction = 'copy' | 'link' | 'keep';

export type BackupEvent =
  | { readonly event: 'start'; readonly source: string; readonly dest: string; readonly snapshot: string;
      readonly previous: string | null; readonly reusedPartial: string | null; readonly dryRun: boolean }
  | { readonly event: 'listed'; readonly method: ListMethod; readonly files: number; readonly dirs: number;
      readonly symlinks: number; readonly bytes: number; readonly excluded: number }
  /** copy: fetched from the server; link: hard link to the previous snapshot; keep: already complete in the reused partial run. */
  | { readonly event: 'file'; readonly action: FileAction; readonly path: string; readonly size: number }
  | { readonly event: 'error'; readonly path: string; readonly kind: 'vanished' | 'failed'; readonly message: string }
  | { readonly event: 'prune'; readonly snapshot: string }
  | ({ readonly event: 'summary' } & BackupSummary);

export interface BackupProgress {
  readonly filesDone: number;
  readonly filesTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface BackupSummary {
  readonly copied: number;
  readonly linked: number;
  /** Already complete in a reused partial snapshot, or not a file/directory/symlink (fifo, socket, device). */
  readonly skipped: number;
  /** Files that failed, including those that vanished. */
  readonly failed: number;
  readonly vanished: number;
  /** Bytes fetched from the server. */
  readonly bytes: number;
  readonly seconds: number;
  /** Absolute path of the new snapshot (in a dry run: the one that would have been made). */
  readonly snapshot: string;
  readonly pruned: readonly string[];
  readonly dryRun: boolean;
}

/** Why a run stopped: the CLI maps these to exit codes. */
export class BackupLockedError extends Error {
  constructor(readonly lockPath: string, readonly holder: string) {
    super(`${lockPath} is locked by ${holder}: another backup to this destination is running (if none is, delete the lock file)`);
    this.name = 'BackupLockedError';
  }
}

export class BackupInterruptedError extends Error {
  constructor(readonly partialDir: string | null) {
    super(partialDir ? `interrupted; the next run reuses ${partialDir}` : 'interrupted');
    this.name = 'BackupInterruptedError';
  }
}

export class RestoreInterruptedError extends Error {
  constructor() {
    super('interrupted; files already restored stay, run again to finish');
    this.name = 'RestoreInterruptedError';
  }
}
