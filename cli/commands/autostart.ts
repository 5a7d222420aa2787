/**
 * `devmount autostart install [NAME…] | uninstall | status`: run `devmount up` at login through the platform's
 * service manager (a systemd user unit on Linux, a LaunchAgent on macOS; see cli/autostart/).
 */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { loadConfig, selectMounts } from '../config/load.js';
import { devmountStateDir, expandTilde } from '../config/paths.js';
import { UserError } from '../user-error.js';
import { selfCommand } from '../up/self.js';
import { currentPlatform, managerFor, parsePlatform } from '../autostart/platform.js';
import { AUTOSTART_WAIT_SECONDS, type AutostartSpec } from '../autostart/spec.js';

const CONFIG_HELP = 'config file for `up` to use (default: $XDG_CONFIG_HOME/devmount/config.json, looked up at each login)';

interface InstallFlags { readonly config?: string; readonly wait: string; readonly print?: boolean; readonly platform?: string }

function parseWaitSeconds(text: string): number {
  const seconds = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds > 86_400) {
    throw new UserError('usage', `--wait ${text}: expected a whole number of seconds from 0 to 86400`);
  }
  return seconds;
}

export function register(program: Command): void {
  const autostart = program
    .command('autostart')
    .description('run `devmount up` at login (systemd user unit on Linux, LaunchAgent on macOS)');

  autostart
    .command('install')
    .description('write and enable the login service for the named mounts (all when none are named)')
    .argument('[names...]', 'mount names from the config file')
    .option('--config <file>', CONFIG_HELP)
    .option('--wait <seconds>', 'how long `up` waits for the network at login', String(AUTOSTART_WAIT_SECONDS))
    .option('--print', 'print the file that would be written, and the commands that would run, without changing anything')
    .option('--platform <linux|macos>', 'with --print: the platform to write for (default: this one)')
    .action(async (names: string[], flags: InstallFlags) => {
      const waitSeconds = parseWaitSeconds(flags.wait);
      if (flags.platform !== undefined && flags.print !== true) {
        throw new UserError('usage', '--platform only goes with --print: install on the machine that should run it');
      }
      const platform = flags.platform === undefined ? currentPlatform() : parsePlatform(flags.platform);
      const manager = managerFor(platform);
      // Check the config (and the names) now rather than at the next login.
      const config = await loadConfig(flags.config);
      selectMounts(config, names);
      const spec: AutostartSpec = Object.freeze({
        self: selfCommand(),
        configPath: flags.config === undefined ? undefined : resolve(expandTilde(flags.config)),
        names: Object.freeze([...names]),
        waitSeconds,
        logDir: devmountStateDir(),
      });
      if (flags.print === true) {
        // The file on stdout (so `--print > file` gives exactly it), where it would go and what would run on stderr.
        process.stderr.write(`# would write ${manager.filePath(process.env)}\n`);
        process.stdout.write(manager.render(spec));
        for (const command of manager.enableCommands(process.env)) process.stderr.write(`# would run: ${command}\n`);
        return;
      }
      const result = await manager.install(spec, process.env);
      for (const note of result.notes) process.stdout.write(`${note}\n`);
    });

  autostart
    .command('uninstall')
    .description('disable and remove the login service (running mounts stay until `devmount down`)')
    .action(async () => {
      const removed = await managerFor(currentPlatform()).uninstall(process.env);
      process.stdout.write(removed === undefined ? 'autostart is not installed\n' : `removed ${removed}\n`);
    });

  autostart
    .command('status')
    .description('show whether the login service is installed and enabled, and what it runs')
    .action(async () => {
      const status = await managerFor(currentPlatform()).status(process.env);
      if (!status.installed) {
        process.stdout.write(`autostart: not installed (would be ${status.path}; install with: devmount autostart install)\n`);
        return;
      }
      process.stdout.write(`autostart: installed (${status.path})\n`);
      for (const line of status.details) process.stdout.write(`${line}\n`);
    });
}
