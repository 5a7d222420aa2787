/**
 * Helper processes that must not outlive devmount — php-cgi workers, the php-fpm master — even when devmount is
 * killed with SIGKILL (`kill -9`, the OOM killer), which no exit handler sees: otherwise they run on for ever,
 * reparented to init. Linux has the parent-death signal for this (PR_SET_PDEATHSIG, prctl(2)); util-linux's
 * setpriv(1) sets it with `--pdeathsig` and then execs the program, which keeps it (prctl(2): it is cleared only
 * on execve of a set-user-ID or set-group-ID program), in the same process (same pid). SIGTERM is the signal: the
 * php-fpm master then stops its children as on any SIGTERM (php-fpm(8)), and a php-cgi worker exits.
 * Where setpriv is missing (macOS, a minimal container), the program is started as given, and only a clean
 * exit of devmount stops it (the exit handlers of the pool and of the php-fpm executor).
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';

const SETPRIV = '/usr/bin/setpriv';

/** What to spawn for `bin args`: the same, or through setpriv with the parent-death signal set. */
export type ParentBoundCommand = (bin: string, args: readonly string[]) => { readonly file: string; readonly args: string[] };

/** Decided once, at construction: setpriv is looked for once (asynchronously: no sync fs call in devserver/). */
export async function parentBoundCommand(): Promise<ParentBoundCommand> {
  const available = process.platform === 'linux' && await access(SETPRIV, constants.X_OK).then(() => true, () => false);
  if (!available) return (bin, args) => ({ file: bin, args: [...args] });
  return (bin, args) => ({ file: SETPRIV, args: ['--pdeathsig', 'TERM', '--', bin, ...args] });
}
