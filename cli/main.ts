/**
 * The devmount entry point: parses arguments with commander and hands them to one module per command.
 * No logic lives here; every command module exports `register(program)`.
 */
import { Command, CommanderError } from 'commander';
import { ExitCode } from './exit-codes.js';
import { reportAndExit } from './report-error.js';
import { register as registerMount } from './commands/mount.js';
import { register as registerUnmount } from './commands/unmount.js';
import { register as registerStatus } from './commands/status.js';
import { register as registerRefresh } from './commands/refresh.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerBackup } from './commands/backup.js';
import { register as registerRestore } from './commands/restore.js';
import { register as registerUpDown } from './commands/up-down.js';
import { register as registerAutostart } from './commands/autostart.js';
import { VERSION } from './version.js';

export function buildProgram(): Command {
  const program = new Command('devmount')
    .description('Mount, serve and back up remote website trees over SFTP.')
    .version(VERSION)
    // commander's own errors ("error: missing required argument …") become one line like ours: the
    // `devmount:` prefix, what is wrong, and where to look.
    .configureOutput({
      outputError: (text, write) => write(`devmount: ${text.trim().replace(/^error: /, '')} (run devmount --help for usage)\n`),
    })
    .exitOverride();
  for (const register of [registerMount, registerUnmount, registerStatus, registerRefresh, registerServe,
    registerBackup, registerRestore, registerUpDown, registerAutostart]) {
    register(program);
  }
  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
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
