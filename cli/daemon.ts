/**
 * Daemonizing `devmount mount`: Node cannot fork(2), so the command re-runs itself as a detached child
 * (setsid, like daemon(3)) with an IPC channel. The child connects and mounts, then sends "ready" or the
 * one-line error and exit code; the parent prints nothing on success and exits 0 only once the mount is live
 * (sshfs exits 0 once mounted, too). Until "ready", the child may prompt on the caller's terminal (host key,
 * passphrase) because it inherits stdin/stderr when they are terminals; pipes are never inherited, so a
 * script capturing our output sees EOF when the parent exits rather than waiting for the daemon.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { ExitCode } from './exit-codes.js';
import { UserError } from './user-error.js';

const CHILD_ENV = 'DEVMOUNT_DAEMON_CHILD';

/**
 * V8 flags of the mount process. --single-threaded-gc: its heap is small (tens of MB) but a large read makes a
 * full collection every 64 MiB of socket buffers; V8's parallel and concurrent GC threads then compete with the
 * FUSE threads, sshd and the reader for the cores. Measured on 2 cores, 256 MiB read at 0 ms RTT:
 * daemon CPU 550–690 ms instead of 710–830 ms (peak RSS +15 MB).
 */
const DAEMON_V8_FLAGS = ['--single-threaded-gc'];

/** Messages on the IPC channel, parent ↔ child. */
export type DaemonMessage =
  | { readonly type: 'ready' }
  | { readonly type: 'error'; readonly message: string; readonly exitCode: number }
  | { readonly type: 'need-password' }
  | { readonly type: 'password'; readonly password: string };

export function isDaemonChild(): boolean {
  return process.env[CHILD_ENV] === '1' && typeof process.send === 'function';
}

/** Where a daemonized mount writes its log: `${XDG_STATE_HOME:-~/.local/state}/devmount/mount-<hash>.log`. */
export async function daemonLogPath(mountpoint: string): Promise<string> {
  const base = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  const dir = join(base, 'devmount');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return join(dir, `mount-${createHash('sha256').update(mountpoint).digest('hex').slice(0, 12)}.log`);
}

/**
 * Parent side: starts the detached child with the same arguments and waits for its verdict. Resolves with the
 * exit code to use; an error message (already formatted for the user) is printed here.
 */
export async function runDetached(args: readonly string[], options: { password?: string; logPath: string }): Promise<number> {
  const entry = process.argv[1];
  if (!entry) throw new UserError('failure', 'cannot find the devmount entry script to start the mount process');
  const flags = DAEMON_V8_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  const child = spawn(process.execPath, [...process.execArgv, ...flags, entry, ...args], {
    detached: true,
    stdio: [process.stdin.isTTY ? 'inherit' : 'ignore', 'ignore', process.stderr.isTTY ? 'inherit' : 'ignore', 'ipc'],
    env: { ...process.env, [CHILD_ENV]: '1' },
  });
  const verdict = await new Promise<{ code: number; message?: string }>((resolve) => {
    child.on('message', (raw: unknown) => {
      const msg = raw as DaemonMessage;
      // The child asks once it listens: a message sent before its listener exists would be dropped.
      if (msg.type === 'need-password') child.send({ type: 'password', password: options.password ?? '' } satisfies DaemonMessage);
      else if (msg.type === 'ready') resolve({ code: ExitCode.ok });
      else if (msg.type === 'error') resolve({ code: msg.exitCode, message: msg.message });
    });
    child.on('error', (err) => resolve({ code: ExitCode.failure, message: `cannot start the mount process: ${err.message}` }));
    child.on('exit', (code, signal) => resolve({
      code: ExitCode.failure,
      message: `the mount process ended (${signal ?? `exit code ${code}`}) before the mount was ready: see ${options.logPath}`,
    }));
  });
  if (child.connected) child.disconnect();
  child.unref();
  if (verdict.message !== undefined) process.stderr.write(`devmount: ${verdict.message}\n`);
  return verdict.code;
}

/** Child side: the password the parent read from its stdin (--password-stdin). */
export function receivePassword(): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (raw: unknown) => {
      const msg = raw as DaemonMessage;
      if (msg.type !== 'password') return;
      process.removeListener('message', onMessage);
      resolve(msg.password);
    };
    process.on('message', onMessage);
    process.send?.({ type: 'need-password' } satisfies DaemonMessage);
  });
}

/** Child side: tells the parent how it went, then drops the channel so nothing ties the daemon to the parent. */
export async function reportToParent(message: DaemonMessage): Promise<void> {
  if (!process.send || !process.connected) return;
  await new Promise<void>((resolve) => {
    process.send?.(message, () => resolve());
  });
  if (process.connected) process.disconnect();
}
