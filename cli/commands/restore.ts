/**
 * `devmount restore SNAPSHOT [user@]host:path [--dry-run] [--delete]`: copies a snapshot back,
 * sending only files that differ, each through a temporary name and an atomic rename on the server; deletes
 * on the server only with --delete. Connection options as `backup` and `mount`.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { runRestore } from '../../fs/backup/restore.js';
import { type ConnectionFlags } from '../backup/connection.js';
import { createRestoreOutput } from '../backup/output.js';
import { runOnRemote } from '../backup/run-on-remote.js';
import { UserError } from '../user-error.js';
import { siteDatabaseAccess } from '../backup/database.js';
import { DEFAULT_JOBS, addConnectionOptions, positiveInt } from './backup.js';

interface RestoreFlags extends ConnectionFlags {
  dryRun?: boolean;
  delete?: boolean;
  json?: boolean;
  jobs?: string;
  db?: boolean;
}

export function register(program: Command): void {
  addConnectionOptions(program.command('restore')
    .description('Copy a snapshot back to the server: only changed files, each replaced atomically.')
    .argument('<snapshot>', 'snapshot directory, e.g. /backups/site/latest')
    .argument('<target>', 'remote tree, [user@]host:path'))
    .option('--dry-run', 'list what would be uploaded and deleted; change nothing')
    .option('--delete', 'also delete files on the server that the snapshot does not have')
    .option('--json', 'NDJSON events and a final summary on stdout')
    .option('--jobs <n>', `files in flight at once (default ${DEFAULT_JOBS})`)
    .option('--db', "also load the snapshot's database dump into the site's database (made by backup --db)")
    .action(async (snapshot: string, target: string, flags: RestoreFlags) => {
      const options = Object.freeze({
        dryRun: flags.dryRun ?? false,
        delete: flags.delete ?? false,
        concurrency: positiveInt('--jobs', flags.jobs) ?? DEFAULT_JOBS,
      });
      const snapshotDir = resolve(snapshot);
      await requireSnapshotDir(snapshotDir);
      const output = createRestoreOutput({ json: flags.json ?? false, dryRun: options.dryRun });
      await runOnRemote(target, flags, 'restore', output, async (remote, signal) => runRestore(snapshotDir, remote, {
        ...options, signal, onEvent: output.onEvent,
        ...(flags.db ? { database: await siteDatabaseAccess(remote, 'auto') } : {}),
      }));
    });
}

/** Checked before connecting: a mistyped snapshot path should not cost a login (or a password prompt). */
async function requireSnapshotDir(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    throw new UserError('failure', `${dir} is not a snapshot directory: name one listed by \`devmount backup list DEST\`, e.g. DEST/latest`);
  }
}
