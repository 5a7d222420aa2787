/**
 * The devmount entry point: parses arguments with commander and hands them to one module per command.
 * No logic lives here; every command module exports `register(program)`.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode } from './exit-codes.js';
import { reportAndExit } from './report-error.js';
import { VERSION } from './version.js';

type Register = (program: Command) => void;

/**
 * Each command's module, loaded only when that command runs: `devmount backup` from cron should not pay
 * for loading the dev server and FUSE (start-up time is part of a no-change backup's time). `--help`
 * and unknown words load them all, so help and "unknown command" stay complete.
 */
const COMMANDS: ReadonlyArray<{ readonly names: readonly string[]; readonly load: () => Promise<{ register: Register }> }> = [
  { names: ['mount'], load: () => import('./commands/mount.js') },
  { names: ['unmount', 'umount'], load: () => import('./commands/unmount.js') },
  { names: ['status'], load: () => import('./commands/status.js') },
  { names: ['refresh'], load: () => import('./commands/refresh.js') },
  { names: ['serve'], load: () => import('./commands/serve.js') },
  { names: ['backup'], load: () => import('./commands/backup.js') },
  { names: ['restore'], load: () => import('./commands/restore.js') },
  { names: ['up', 'down'], load: () => import('./commands/up-down.js') },
  { names: ['autostart'], load: () => import('./commands/autostart.js') },
  { names: ['logs'], load: () => import('./commands/logs.js') },
];

/** The command modules needed for these arguments: the named command's, or all of them. */
function commandsFor(argv: readonly string[]): typeof COMMANDS {
  const word = argv.find((a) => !a.startsWith('-'));
  const match = COMMANDS.filter((c) => word !== undefined && c.names.includes(word));
  return match.length > 0 ? match : COMMANDS;
}

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const program = new Command('devmount')
    .description('Mount, serve and back up remote website trees over SFTP.')
    .version(VERSION)
    // commander's own errors ("error: missing required argument …") become one line like ours: the
    // `devmount:` prefix, what is wrong, and where to look.
    .configureOutput({
      outputError: (text, write) => write(`devmount: ${text.trim().replace(/^error: /, '')} (run devmount --help for usage)\n`),
    })
    .exitOverride();
  for (const command of commandsFor(argv)) (await command.load()).register(program);
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = await buildProgram(argv.slice(2));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander already printed its one-line message (or the help/version text).
      const helpOrVersion = err.code === 'commander.helpDisplayed' || err.code === 'commander.version'
        || err.code === 'commander.help';
      process.exit(helpOrVersion ? ExitCode.ok : ExitCode.usage);
    }
    reportAndExit(err);
  }
}

await main(process.argv);
