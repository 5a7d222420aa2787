/**
 * `devmount up [NAME…]` and `devmount down [NAME…]`: the named mounts of the config file. The work is in
 * cli/up/ (up.ts, down.ts); this module only parses the command line and sets the exit code.
 */
import type { Command } from 'commander';
import { dirname } from 'node:path';
import { loadConfig, selectMounts } from '../config/load.js';
import { UserError } from '../user-error.js';
import { downMounts } from '../up/down.js';
import { openUpLog } from '../up/log.js';
import { exitCodeOf, upMounts, type Reporter } from '../up/up.js';

const CONFIG_HELP = 'config file (default: $XDG_CONFIG_HOME/devmount/config.json, i.e. ~/.config/devmount/config.json)';
export const DEFAULT_WAIT_SECONDS = 60;
const MAX_WAIT_SECONDS = 86_400;

function parseWait(text: string): number {
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isFinite(seconds) || seconds > MAX_WAIT_SECONDS) {
    throw new UserError('usage', `--wait ${text}: expected a number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
  }
  return seconds;
}

const terminalReporter: Reporter = Object.freeze({
  info: (line: string) => { process.stdout.write(`${line}\n`); },
  error: (line: string) => { process.stderr.write(`devmount: ${line}\n`); },
});

interface UpFlags { readonly config?: string; readonly wait: string }
interface DownFlags { readonly config?: string }

export function register(program: Command): void {
  program
    .command('up')
    .description('mount the mounts named in the config file (all when none are named), creating mount points, skipping mounted ones and starting their dev servers')
    .argument('[names...]', 'mount names from the config file')
    .option('--config <file>', CONFIG_HELP)
    .option('--wait <seconds>', 'keep retrying a server that cannot be reached (network not up yet) for this long after the first failure, with backoff; 0 = try once', String(DEFAULT_WAIT_SECONDS))
    .action(async (names: string[], flags: UpFlags) => {
      const waitMs = parseWait(flags.wait) * 1000;
      const config = await loadConfig(flags.config);
      const mounts = selectMounts(config, names);
      if (mounts.length === 0) throw new UserError('usage', `no mounts in ${config.path}: add one under "mounts"`);
      const log = await openUpLog('up');
      try {
        const outcomes = await upMounts(mounts, { waitMs, interactive: process.stdin.isTTY === true, env: process.env, configDir: dirname(config.path) }, log.logger, terminalReporter);
        process.exitCode = exitCodeOf(outcomes);
      } finally {
        await log.close();
      }
    });

  program
    .command('down')
    .description('stop the dev servers `up` started and unmount the mounts named in the config file (all when none are named)')
    .argument('[names...]', 'mount names from the config file')
    .option('--config <file>', CONFIG_HELP)
    .action(async (names: string[], flags: DownFlags) => {
      const config = await loadConfig(flags.config);
      const mounts = selectMounts(config, names);
      const log = await openUpLog('down');
      try {
        const outcomes = await downMounts(mounts, process.env, log.logger, terminalReporter);
        process.exitCode = exitCodeOf(outcomes);
      } finally {
        await log.close();
      }
    });
}
