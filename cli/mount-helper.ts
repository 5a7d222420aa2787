/**
 * `mount.fuse.devmount`: the helper mount(8) runs for fstab lines and `mount -t fuse.devmount` (as
 * `mount.fuse.sshfs` works for sshfs). mount(8) calls external helpers as
 *   /sbin/mount.TYPE SOURCE MOUNTPOINT [-sfnv] [-N NAMESPACE] [-o OPTIONS] [-t TYPE.SUBTYPE]
 * (mount(8) "External helpers"); the helper runs `devmount mount SOURCE MOUNTPOINT -o OPTIONS` with the same
 * node, so fstab options are the `-o` options of `devmount mount` (fstab's own words — defaults, _netdev,
 * nofail, noauto, user, x-systemd.* — are accepted and left to mount(8) and systemd).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ExitCode } from './exit-codes.js';

export interface HelperCall {
  readonly source: string;
  readonly mountpoint: string;
  readonly options: readonly string[];
  /** -f: "fake", do everything but the mount itself (mount(8)). */
  readonly fake: boolean;
}

/** Parses the helper's arguments; a one-line message for anything else. */
export function parseHelperArgs(argv: readonly string[]): HelperCall | string {
  const positional: string[] = [];
  const options: string[] = [];
  let fake = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '-o' || arg === '-t' || arg === '-N') {
      const value = argv[++i];
      if (value === undefined) return `${arg} needs a value`;
      if (arg === '-o') options.push(value);
    } else if (/^-[sfnvrw]+$/.test(arg)) {
      if (arg.includes('f')) fake = true;
    } else if (arg.startsWith('-')) {
      return `unknown flag ${arg}`;
    } else {
      positional.push(arg);
    }
  }
  const [source, mountpoint] = positional;
  if (positional.length !== 2 || source === undefined || mountpoint === undefined) return 'expected SOURCE MOUNTPOINT';
  return { source, mountpoint, options, fake };
}

export async function runMountHelper(argv: readonly string[]): Promise<number> {
  const call = parseHelperArgs(argv);
  if (typeof call === 'string') {
    process.stderr.write(`mount.fuse.devmount: ${call}: usage: mount.fuse.devmount [user@]host:[path] MOUNTPOINT [-o OPTIONS]\n`);
    return ExitCode.usage;
  }
  if (call.fake) return ExitCode.ok;
  const cli = fileURLToPath(new URL('../../bin/devmount.js', import.meta.url));
  const args = [cli, 'mount', call.source, call.mountpoint, ...call.options.flatMap((o) => ['-o', o])];
  return new Promise<number>((resolve) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit' });
    child.once('error', (err) => {
      process.stderr.write(`mount.fuse.devmount: cannot run devmount: ${err.message}\n`);
      resolve(ExitCode.failure);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.failure)));
  });
}
