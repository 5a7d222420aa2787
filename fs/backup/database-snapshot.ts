/**
 * Placing the database dump into a snapshot like any other file: dumped to a temporary file, then compared
 * byte for byte (SHA-256) with the previous snapshot's dump; an identical one is hard-linked instead.
 */
import { link, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { localSha256 } from './checksum.js';
import { lstatOrNull } from './local-tree.js';
import { DATABASE_DUMP_NAME, DatabaseCommandError } from './database.js';
import type { RestoreEvent } from './restore.js';
import type { FileAction } from './types.js';

export interface DatabaseDumper {
  /** Writes the dump (compressed) to `file`; rejects with DatabaseCommandError when the server's dump fails. */
  dump(file: string, signal?: AbortSignal): Promise<void>;
}

export interface PlacedDump {
  readonly action: Extract<FileAction, 'copy' | 'link'>;
  readonly size: number;
}

export async function placeDatabaseDump(dumper: DatabaseDumper, tempFile: string, snapshotDir: string, previousDir: string | null, signal?: AbortSignal): Promise<PlacedDump> {
  const target = join(snapshotDir, DATABASE_DUMP_NAME);
  try {
    await dumper.dump(tempFile, signal);
  } catch (err) {
    await unlink(tempFile).catch((unlinkErr: NodeJS.ErrnoException) => { if (unlinkErr.code !== 'ENOENT') throw unlinkErr; });
    throw err;
  }
  const size = (await lstatOrNull(tempFile))?.size ?? 0;
  await unlink(target).catch((err: NodeJS.ErrnoException) => { if (err.code !== 'ENOENT') throw err; }); // a reused partial run's
  const previous = previousDir === null ? null : join(previousDir, DATABASE_DUMP_NAME);
  if (previous !== null && (await lstatOrNull(previous))?.size === size && await localSha256(previous) === await localSha256(tempFile)) {
    await link(previous, target);
    await unlink(tempFile);
    return { action: 'link', size };
  }
  await rename(tempFile, target);
  return { action: 'copy', size };
}

export interface DatabaseLoader {
  /** Loads a dump made by DatabaseDumper; rejects with DatabaseCommandError when the server's client fails. */
  load(file: string, signal?: AbortSignal): Promise<void>;
}

/**
 * `restore --db`, after the files: loads the snapshot's dump. A failure is reported as a failed file, so the
 * exit code is "partial" as for any file that could not be restored. Returns the bytes loaded, or null.
 */
export async function restoreDatabaseDump(loader: DatabaseLoader, snapshotDir: string, dryRun: boolean,
  emit: (event: RestoreEvent) => void, signal?: AbortSignal): Promise<number | null> {
  const file = join(snapshotDir, DATABASE_DUMP_NAME);
  const size = (await lstatOrNull(file))?.size;
  const failed = (message: string): null => {
    emit({ event: 'error', path: DATABASE_DUMP_NAME, kind: 'failed', message });
    return null;
  };
  if (size === undefined) return failed('this snapshot has no database dump (it was made without --db)');
  emit({ event: 'file', action: 'database', path: DATABASE_DUMP_NAME, size });
  if (dryRun) return size;
  try {
    await loader.load(file, signal);
  } catch (err) {
    if (!(err instanceof DatabaseCommandError)) throw err;
    return failed(err.message);
  }
  return size;
}
