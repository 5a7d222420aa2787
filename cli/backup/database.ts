/**
 * `backup --db` / `restore --db` wiring: the site's database settings read from its configuration on the
 * server, turned into the engine's dumper/loader over the connection's exec channel. Errors a person must fix
 * (no settings, no shell) become one-line UserErrors here.
 */
import { DatabaseConfigError, dumpDatabase, loadDatabase, readSiteDatabase, type DbEngineSetting } from '../../fs/backup/database.js';
import type { DatabaseDumper, DatabaseLoader } from '../../fs/backup/database-snapshot.js';
import type { BackupSource } from '../../fs/backup/types.js';
import { UserError } from '../user-error.js';

export const DB_ENGINE_SETTINGS: readonly DbEngineSetting[] = Object.freeze(['auto', 'mysql', 'postgres']);

export async function siteDatabaseAccess(source: BackupSource, setting: DbEngineSetting): Promise<DatabaseDumper & DatabaseLoader> {
  const shell = source.shell;
  if (shell === undefined) {
    throw new UserError('usage', '--db needs a server that runs commands (mysqldump/pg_dump run there); this one allows SFTP only');
  }
  let database;
  try {
    database = await readSiteDatabase(source.fs, setting);
  } catch (err) {
    if (err instanceof DatabaseConfigError) throw new UserError('usage', err.message);
    throw err;
  }
  return Object.freeze({
    dump: (file: string, signal?: AbortSignal) => dumpDatabase(shell, database, file, signal),
    load: (file: string, signal?: AbortSignal) => loadDatabase(shell, database, file, signal),
  });
}
