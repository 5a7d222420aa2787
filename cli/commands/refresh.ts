/**
 * `devmount refresh [PATH]`: drops cached metadata and data for PATH (and below) on the mount that contains it,
 * default the current directory, so server-side changes show at once (sshfs has no way: its issue #45).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { sendControlRequest } from '../control/client.js';
import { findMountContaining } from '../control/registry.js';
import { UserError } from '../user-error.js';

export async function refreshCommand(pathArg: string | undefined): Promise<string> {
  // resolve() is pure string work: no stat, so this never touches the mount itself.
  const target = resolve(pathArg ?? process.cwd());
  const found = await findMountContaining(target);
  if (!found) throw new UserError('usage', `${target} is not on a running devmount mount (see devmount status)`);
  const reply = await sendControlRequest(found.mount.socketPath, { op: 'refresh', path: found.inner });
  if (!reply.ok) throw new UserError('failure', reply.error);
  return `refreshed ${target}`;
}

export function register(program: Command): void {
  program
    .command('refresh')
    .description('drop cached state so changes made on the server show at once')
    .argument('[path]', 'a path on a mount (default: the current directory)')
    .action(async (path: string | undefined) => {
      process.stdout.write(`${await refreshCommand(path)}\n`);
    });
}
