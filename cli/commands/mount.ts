/**
 * `devmount mount [options] [user@]host:[path] MOUNTPOINT`: the sshfs command line. Checks the cheap things
 * first (options, remote spec, mount point, FUSE) in the calling process, then daemonizes (cli/daemon.ts)
 * unless -f; the process that serves the mount runs `serveMount` (cli/mount-service.ts).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseRemoteSpec } from '../../fs/remote-spec.js';
import { readPasswordFromStdin } from '../password-stdin.js';
import { daemonLogPath, isDaemonChild, receivePassword, reportToParent, runDetached } from '../daemon.js';
import { resolveMountCommandOptions, SUPPORTED_OPTIONS, type RawMountFlags } from '../mount-options.js';
import { checkFuseAvailable, checkMountpoint } from '../mount-preflight.js';
import { serveMount } from '../mount-service.js';
import { translateError } from '../translate-error.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function runMount(remoteArg: string, mountpointArg: string, flags: RawMountFlags): Promise<void> {
  const options = resolveMountCommandOptions(flags);
  const spec = parseRemoteSpec(remoteArg);
  const mountpoint = resolve(mountpointArg);

  if (isDaemonChild()) {
    try {
      const password = options.passwordStdin ? await receivePassword() : undefined;
      const logPath = await daemonLogPath(mountpoint);
      await serveMount({
        spec, remoteArg, mountpoint, options, password, logFile: logPath,
        onReady: () => reportToParent({ type: 'ready' }),
      });
    } catch (err) {
      const userError = translateError(err);
      await reportToParent({ type: 'error', message: userError.message, exitCode: userError.exitCode });
      process.exit(userError.exitCode);
    }
    return;
  }

  for (const note of options.notes) process.stderr.write(`devmount: note: ${note}\n`);
  await checkMountpoint(mountpoint);
  await checkFuseAvailable();
  const password = options.passwordStdin ? await readPasswordFromStdin() : undefined;
  if (options.foreground) {
    await serveMount({ spec, remoteArg, mountpoint, options, password, logFile: undefined, onReady: async () => undefined });
    return;
  }
  const code = await runDetached(process.argv.slice(2), { password, logPath: await daemonLogPath(mountpoint) });
  process.exit(code);
}

export function register(program: Command): void {
  program
    .command('mount')
    .description('mount a remote directory over SFTP through FUSE (like sshfs; survives network drops)')
    .argument('<remote>', '[user@]host:[path] (empty path: the remote home directory)')
    .argument('<mountpoint>', 'an empty local directory')
    .option('-p, --port <port>', 'SSH port (same as -o Port=N)')
    .option('-C', 'compression, as sshfs -C (same as -o Compression=yes)')
    .option('-o, --option <options>', `comma-separated options, repeatable: ${SUPPORTED_OPTIONS.join(', ')}`, collect, [])
    .option('-f, --foreground', 'stay in the foreground (do not daemonize)')
    .option('-d, --debug', 'debug logging, including libfuse\'s (implies -f)')
    .option('--log-format <format>', 'log format: pretty or json', 'pretty')
    .option('--password-stdin', 'read the SSH password from the first line of stdin')
    .option('--serve [port]', 'also serve the mounted site on http://127.0.0.1:PORT with live reload (default 8080 or the next free one)')
    .action(async (remote: string, mountpoint: string, flags: RawMountFlags) => {
      await runMount(remote, mountpoint, flags);
    });
}
