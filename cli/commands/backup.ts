/**
 * `devmount backup [options] [user@]host:path DEST` and `devmount backup list DEST`. Flags are
 * parsed and checked here, resolved once into frozen BackupOptions, and handed to the engine (fs/backup/).
 * Output: a progress bar on a TTY, nothing but errors otherwise; --json prints NDJSON events on stdout.
 * Connection options (-p, -o, --password-stdin) are those of `mount` (cli/mount-options.ts).
 */
import { readFile, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { DbEngineSetting } from '../../fs/backup/database.js';
import { DB_ENGINE_SETTINGS, siteDatabaseAccess } from '../backup/database.js';
import { createExcludeFilter, parseExcludeFile } from '../../fs/backup/exclude.js';
import { runBackup } from '../../fs/backup/run-backup.js';
import { LATEST } from '../../fs/backup/snapshot-names.js';
import { listPartials, listSnapshots } from '../../fs/backup/store.js';
import type { BackupEvent, BackupOptions, RetentionPolicy } from '../../fs/backup/types.js';
import { UserError } from '../user-error.js';
import { type ConnectionFlags } from '../backup/connection.js';
import { createBackupOutput } from '../backup/output.js';
import { runOnRemote } from '../backup/run-on-remote.js';

export interface BackupFlags extends ConnectionFlags {
  checksum?: boolean;
  dryRun?: boolean;
  verify?: boolean;
  json?: boolean;
  keep?: string;
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  exclude: string[];
  excludeFrom: string[];
  jobs?: string;
  db?: DbEngineSetting;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export const DEFAULT_JOBS = 256;

export function positiveInt(flag: string, text: string | undefined, min = 1): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new UserError('usage', `${flag} ${text}: expected a whole number ≥ ${min}`);
  return n;
}

async function resolveExcludes(flags: BackupFlags): Promise<string[]> {
  const patterns = [...flags.exclude];
  for (const file of flags.excludeFrom) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UserError('usage', `--exclude-from ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    patterns.push(...parseExcludeFile(text));
  }
  try {
    createExcludeFilter(patterns);
  } catch (err) {
    throw new UserError('usage', `bad exclude pattern: ${(err as Error).message}`);
  }
  return patterns;
}

async function resolveOptions(dest: string, flags: BackupFlags): Promise<Omit<BackupOptions, 'signal' | 'onEvent' | 'onProgress'>> {
  const retention: RetentionPolicy = Object.freeze({
    keepLast: positiveInt('--keep', flags.keep),
    keepDaily: positiveInt('--keep-daily', flags.keepDaily),
    keepWeekly: positiveInt('--keep-weekly', flags.keepWeekly),
    keepMonthly: positiveInt('--keep-monthly', flags.keepMonthly),
  });
  return Object.freeze({
    dest: resolve(dest),
    checksum: flags.checksum ?? false,
    dryRun: flags.dryRun ?? false,
    verify: flags.verify ?? false,
    excludes: Object.freeze(await resolveExcludes(flags)),
    retention,
    concurrency: positiveInt('--jobs', flags.jobs) ?? DEFAULT_JOBS,
  });
}

export function addConnectionOptions(command: Command): Command {
  return command
    .option('-p, --port <port>', 'SSH port (as ssh -p)')
    .option('-o, --option <opts>', 'SSH/sshfs options as for mount, e.g. -o IdentityFile=~/.ssh/site (repeatable)', collect, [])
    .option('--password-stdin', 'read the SSH password from the first line of stdin');
}

export function register(program: Command): void {
  const backup = addConnectionOptions(program.command('backup')
    .description('Snapshot a remote tree into DEST/<UTC time>/, hard-linking files unchanged since the last snapshot.')
    .argument('<source>', 'remote tree, [user@]host:path')
    .argument('<dest>', 'local backup directory (created if missing)'))
    .option('--checksum', 'compare unchanged-looking files by SHA-256, not size and mtime')
    .option('--dry-run', 'list what would be copied, linked and pruned; write nothing')
    .option('--verify', 'after the copy, compare every file\'s SHA-256 with the server\'s')
    .option('--json', 'NDJSON events and a final summary on stdout')
    .option('--keep <n>', 'after a run, keep only the newest N snapshots')
    .option('--keep-daily <n>', 'keep the newest snapshot of each of the last N days')
    .option('--keep-weekly <n>', 'keep the newest snapshot of each of the last N weeks')
    .option('--keep-monthly <n>', 'keep the newest snapshot of each of the last N months')
    .option('--exclude <pattern>', 'skip paths matching PATTERN (gitignore syntax; repeatable)', collect, [])
    .option('--exclude-from <file>', 'read exclude patterns from FILE, one per line (repeatable)', collect, [])
    .option('--jobs <n>', `files in flight at once (default ${DEFAULT_JOBS})`)
    .addOption(new Option('--db [engine]', "also dump the site's database on the server (settings from wp-config.php or .env) into the snapshot")
      .choices([...DB_ENGINE_SETTINGS]).preset('auto'))
    .action(async (source: string, dest: string, flags: BackupFlags) => {
      const options = await resolveOptions(dest, flags);
      const output = createBackupOutput({ json: flags.json ?? false, dryRun: options.dryRun });
      await runOnRemote(source, flags, 'backup', output, async (remote, signal) => runBackup(remote, {
        ...options, signal, onEvent: output.onEvent, onProgress: output.onProgress,
        ...(flags.db === undefined ? {} : { database: await siteDatabaseAccess(remote, flags.db) }),
      }));
    });

  backup.command('list')
    .description('List the snapshots in DEST, oldest first.')
    .argument('<dest>', 'local backup directory')
    .option('--json', 'one JSON object per snapshot')
    .action(async (dest: string, flags: { json?: boolean }, command: Command) => {
      const json = flags.json ?? (command.parent?.opts() as { json?: boolean } | undefined)?.json ?? false;
      await listCommand(resolve(dest), json);
    });
}

async function listCommand(dest: string, json: boolean): Promise<void> {
  let snapshots;
  try {
    snapshots = await listSnapshots(dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError('usage', `${dest} does not exist: no backups there yet`);
    throw err;
  }
  const latest = await readlink(join(dest, LATEST)).catch(() => undefined);
  const partials = await listPartials(dest);
  for (const s of snapshots) {
    const record = { snapshot: s.name, path: join(dest, s.name), date: s.date.toISOString(), latest: s.name === latest, complete: true };
    process.stdout.write(json ? `${JSON.stringify(record)}\n` : `${s.name}  ${record.date}${record.latest ? '  (latest)' : ''}\n`);
  }
  for (const p of partials) {
    const record = { snapshot: p, path: join(dest, p), date: null, latest: false, complete: false };
    process.stdout.write(json ? `${JSON.stringify(record)}\n` : `${p}  (interrupted run: the next backup reuses it)\n`);
  }
}

export type { BackupEvent };
