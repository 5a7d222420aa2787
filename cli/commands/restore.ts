/**
 * `devmount restore SNAPSHOT [user@]host:path [--dry-run] [--delete]` (issue 7): copies a snapshot back,
 * sending only files that differ, each through a temporary name and an atomic rename on the server; deletes
 * on the server only with --delete. Connection options as `backup` and `mount`.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { runRestore } from '../../fs/backup/restore.js';
import { openRemoteSource, type ConnectionFlags } from '../backup/connection.js';
import { createRestoreOutput } from '../backup/output.js';
import { interruptController } from '../backup/signals.js';
import { ExitCode } from '../exit-codes.js';
import { DEFAULT_JOBS, addConnectionOptions, positiveInt } from './backup.js';

interface RestoreFlags extends ConnectionFlags {
  dryRun?: boolean;
  delete?: boolean;
  json?: boolean;
  jobs?: string;
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
    .action(async (snapshot: string, target: string, flags: RestoreFlags) => {
      const options = Object.freeze({
        dryRun: flags.dryRun ?? false,
        delete: flags.delete ?? false,
        concurrency: positiveInt('--jobs', flags.jobs) ?? DEFAULT_JOBS,
      });
      const output = createRestoreOutput({ json: flags.json ?? false, dryRun: options.dryRun });
      const interrupt = interruptController();
      try {
        const remote = await openRemoteSource(target, flags, 'restore');
        try {
          const summary = await runRestore(resolve(snapshot), remote.source, { ...options, signal: interrupt.signal, onEvent: output.onEvent });
          output.finish(summary);
          process.exitCode = summary.failed > 0 ? ExitCode.partial : ExitCode.ok;
        } finally {
          await remote.close();
        }
      } finally {
        interrupt.dispose();
      }
    });
}
