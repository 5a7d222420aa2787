/**
 * PHP through php-fpm: one php-fpm master started by us with a generated configuration in a temp dir (a static
 * pool of `size` children on a Unix socket, `--nodaemonize`), and up to `size` FastCGI connections kept open to
 * it (FCGI_KEEP_CONN, FastCGI spec §5.1: php-fpm serves the next request on the same connection, each connection
 * held by one child). Requests beyond `size` wait in a FIFO queue.
 * A script that runs too long is stopped by php-fpm itself (request_terminate_timeout, the --php-timeout);
 * abort() drops our connection, which php-fpm notices when the script next writes (its own client-abort
 * behaviour), and never kills the whole pool.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { ScriptExecution, ScriptExecutor, ScriptJob } from '../executor.js';
import { createLineSplitter } from '../line-splitter.js';
import { parentBoundCommand } from '../parent-bound.js';
import { hangUp, startFastCgiRequest, type FastCgiExchange } from './client.js';
import { connectOnce, type FastCgiPoolOptions } from './pool.js';

/** As the php-cgi pool's (bin: php-fpm8.2; args: `-d KEY=VALUE` pairs; size: children in the static pool). */
export interface PhpFpmOptions extends Pick<FastCgiPoolOptions, 'bin' | 'args' | 'size' | 'path'> {
  /** request_terminate_timeout, in seconds. */
  readonly timeoutSeconds: number;
  /** Lines php-fpm writes to its stderr (before its error_log is open). */
  readonly onLog: (line: string) => void;
}

/** php-fpm binds its socket within a few hundred ms; give up after ~10 s (a broken configuration). */
const START_ATTEMPTS = 1000;
const START_RETRY_MS = 10;

/** The php-fpm configuration (php-fpm.conf(5) / www.conf keys). */
function fpmConfig(dir: string, socket: string, opts: PhpFpmOptions): string {
  const asRoot = process.getuid?.() === 0;
  return [
    '[global]',
    `pid = ${join(dir, 'php-fpm.pid')}`,
    // A file: php-fpm open()s error_log, which fails for the socket Node gives a child as stderr (ENXIO).
    // Start-up errors are read from it; a script's errors arrive as FCGI_STDERR with its request.
    `error_log = ${join(dir, 'php-fpm.log')}`,
    'log_level = warning',
    'daemonize = no',
    '[devmount]',
    // Run as whoever runs devmount (as php-cgi does); as root php-fpm wants it said (and -R).
    ...(asRoot ? ['user = root', 'group = root'] : []),
    `listen = ${socket}`,
    'pm = static',
    `pm.max_children = ${opts.size}`,
    'pm.max_requests = 0',
    `request_terminate_timeout = ${opts.timeoutSeconds}s`,
    `env[PATH] = ${opts.path}`,
    '',
  ].join('\n');
}

export async function createPhpFpmExecutor(options: PhpFpmOptions): Promise<ScriptExecutor> {
  const opts = Object.freeze({ ...options, size: Math.max(1, options.size) });
  const dir = await mkdtemp(join(tmpdir(), 'devmount-fpm-'));
  const socketPath = join(dir, 'php-fpm.sock');
  const configFile = join(dir, 'php-fpm.conf');
  await writeFile(configFile, fpmConfig(dir, socketPath, opts));
  const command = (await parentBoundCommand())(opts.bin, ['--nodaemonize', '--fpm-config', configFile, ...(process.getuid?.() === 0 ? ['-R'] : []), ...(opts.args ?? [])]);
  const child = spawn(command.file, command.args, {
    env: { PATH: opts.path },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log = createLineSplitter(opts.onLog);
  child.stderr?.on('data', (chunk: Buffer) => log.push(chunk));
  let running = true;
  const exited = new Promise<void>((resolve) => {
    child.on('error', (err) => {
      opts.onLog(`cannot start ${opts.bin}: ${err.message}`);
      resolve();
    });
    child.on('close', () => resolve());
  });
  void exited.then(() => { running = false; });
  const stopMaster = (): void => {
    if (running) child.kill('SIGKILL');
  };
  process.once('exit', stopMaster);

  for (let attempt = 0; ; attempt++) {
    const probe = await connectOnce(socketPath).catch(() => null);
    if (probe !== null) {
      probe.destroy();
      break;
    }
    if (!running || attempt >= START_ATTEMPTS) {
      stopMaster();
      process.off('exit', stopMaster);
      await exited;
      const fpmLog = await readFile(join(dir, 'php-fpm.log'), 'utf8').catch(() => '');
      await rm(dir, { recursive: true, force: true });
      throw new Error(`${opts.bin} did not start: ${fpmLog.trim().split('\n').slice(-3).join(' / ') || 'no log'}`);
    }
    await delay(START_RETRY_MS);
  }

  // Kept connections not in use, connections open, and requests waiting for one.
  const idle: Socket[] = [];
  let open = 0;
  const waiting: Array<(socket: Socket | null) => void> = [];

  const acquire = async (): Promise<Socket | null> => {
    for (;;) {
      const socket = idle.pop();
      if (socket === undefined) break;
      if (!socket.destroyed && socket.readyState === 'open') return socket;
    }
    if (open < opts.size) {
      open++;
      const socket = await connectOnce(socketPath).catch(() => null);
      if (socket === null) {
        open--;
        return null;
      }
      // Between requests nothing listens on the socket; a close then must not raise an unhandled 'error'.
      socket.on('error', () => undefined);
      socket.once('close', () => {
        open--;
        const at = idle.indexOf(socket);
        if (at !== -1) idle.splice(at, 1);
        // A slot came free: a waiting request opens its own connection.
        const next = waiting.shift();
        if (next !== undefined) void acquire().then(next);
      });
      return socket;
    }
    return new Promise((resolve) => waiting.push(resolve));
  };

  const release = (socket: Socket, reusable: boolean): void => {
    if (!reusable) {
      socket.destroy(); // its 'close' hands the slot on
      return;
    }
    const next = waiting.shift();
    if (next !== undefined) next(socket);
    else idle.push(socket);
  };

  return {
    description: `php-fpm, a static pool of ${opts.size} (${opts.bin})`,
    execute(job: ScriptJob): ScriptExecution {
      const stdout = new PassThrough();
      let aborted: string | null = null;
      let socket: Socket | null = null;
      let clientLeft = false;
      let exchange: FastCgiExchange | null = null;
      const finished = (async () => {
        socket = await acquire();
        if (socket === null) {
          job.onStderr(`cannot connect to ${opts.bin}`);
          stdout.destroy(new Error(`cannot connect to ${opts.bin}`));
          return;
        }
        if (aborted !== null) {
          release(socket, true);
          return;
        }
        exchange = startFastCgiRequest(socket, job.env, job.body, job.onStderr, { keepConn: true, stdout });
        // The client left while the request waited for a connection: sent all the same, then hung up (client.ts).
        if (clientLeft) hangUp(socket);
        const result = await exchange.finished;
        release(socket, result.connectionReusable && aborted === null && !clientLeft);
      })();
      return {
        stdout,
        finished,
        outputComplete: () => exchange?.outputComplete() ?? false,
        abort(reason: string): void {
          if (aborted !== null) return;
          aborted = reason;
          job.onStderr(`request ended: ${reason}`);
          // Dropping the connection is all php-fpm offers: the script stops when it next writes (or at
          // request_terminate_timeout); its child then serves another connection.
          socket?.destroy();
          if (!stdout.writableEnded) stdout.end();
        },
        clientGone(): void {
          // As nginx (fastcgi_ignore_client_abort off): the connection goes, the script stops at its next write
          // unless it ignores user aborts, and php-fpm gives the next connection to a child that is free.
          if (aborted !== null || clientLeft) return;
          clientLeft = true;
          if (socket !== null) hangUp(socket);
        },
      };
    },
    async close(): Promise<void> {
      process.off('exit', stopMaster);
      for (const socket of idle) socket.destroy();
      for (const next of waiting.splice(0)) next(null);
      // SIGQUIT: graceful stop (php-fpm(8)); SIGKILL if it does not go within 5 s.
      if (running) child.kill('SIGQUIT');
      const forced = setTimeout(stopMaster, 5000);
      await exited;
      clearTimeout(forced);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
