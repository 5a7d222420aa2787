/**
 * A pool of persistent php-cgi FastCGI workers: each is `php-cgi -b SOCKET` with PHP_FCGI_CHILDREN=0, so the
 * process we started is the one that runs the script (php-cgi's own forking mode would hide which child runs
 * which request, and a hung script could then not be killed). PHP_FCGI_MAX_REQUESTS makes a worker exit after
 * that many requests (php-cgi's guard against leaks); exited or killed workers are replaced on demand.
 * Concurrency rule: a worker serves one request at a time; requests beyond `size` wait in a FIFO queue.
 * Each worker keeps one FastCGI connection open across requests (FCGI_KEEP_CONN, FastCGI spec §5.1): php-cgi
 * with PHP_FCGI_CHILDREN=0 reads the next request from the same connection, which saves a connect, an accept
 * and php-cgi's shutdown-and-drain close per request.
 *
 * createFastCgiPool reads as its phases: the socket directory → createWorkers (start, hand out, take back,
 * retire) → killWorkersOnExit; each script runs through executeOnWorker, and closePool undoes all of it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { iniArgs, type ScriptExecution, type ScriptExecutor, type ScriptJob } from '../executor.js';
import { createLineSplitter } from '../line-splitter.js';
import { parentBoundCommand, type ParentBoundCommand } from '../parent-bound.js';
import { hangUp, startFastCgiRequest, type FastCgiExchange } from './client.js';
import { encodeParams, encodeRecord, RecordType } from './records.js';

export interface FastCgiPoolOptions {
  /** php-cgi binary. */
  readonly bin: string;
  /** Fixed php-cgi options (-d settings) from our configuration. */
  readonly args?: readonly string[];
  /** Maximum number of workers (and so of scripts running at once). */
  readonly size: number;
  /** PHP_FCGI_MAX_REQUESTS for each worker. */
  readonly maxRequests: number;
  /** PATH given to the workers. */
  readonly path: string;
  /** Where worker start-up failures and worker-level stderr go. */
  readonly onWorkerLog: (line: string) => void;
}

interface Worker {
  readonly id: number;
  /** The php.ini settings it was started with (`-d` options, joined): a request runs only on a matching worker. */
  readonly settings: string;
  readonly socketPath: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  ready: Promise<void>;
  /** `ready` has resolved: php-cgi listens, so a request need not wait for it. */
  listening: boolean;
  alive: boolean;
  /** Requests handed to this worker; at opts.maxRequests php-cgi exits by itself, so it is not reused. */
  served: number;
  /**
   * Where the worker's own stderr goes: php-cgi writes php://stderr and some errors to its fd 2, not to
   * FCGI_STDERR. A worker runs one request at a time, so its stderr belongs to the request it serves last
   * (kept after the request ends, because the pipe may deliver the last lines after END_REQUEST).
   */
  stderrTarget: ((line: string) => void) | null;
  /** The open FastCGI connection to this worker, kept between requests; null until the first one or after a failure. */
  connection: Socket | null;
}

/**
 * php-cgi binds its socket within a few ms; give up after ~5 s (a broken php.ini, a missing binary). Retried
 * every 10 ms because the first request to a new worker (the first page load, a burst) waits for this.
 */
const CONNECT_ATTEMPTS = 500;
const CONNECT_RETRY_MS = 10;

export function connectOnce(socketPath: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    socket.once('connect', () => { socket.removeAllListeners('error'); resolve(socket); });
    socket.once('error', reject);
  });
}

/**
 * Resolves once the worker has finished the script it was running, or has exited. php-cgi (PHP_FCGI_CHILDREN=0)
 * serves one connection at a time and accepts the next only when its request is over; it answers a management
 * record such as FCGI_GET_VALUES (FastCGI spec §4.1) and closes that connection (main/fastcgi.c
 * fcgi_read_request). A connect() alone says nothing: it succeeds through the listen backlog at once.
 */
function untilFree(worker: { readonly socketPath: string; readonly exited: Promise<void> }): Promise<void> {
  return new Promise((resolve) => {
    const probe = connect(worker.socketPath);
    const done = (): void => {
      probe.destroy();
      resolve();
    };
    void worker.exited.then(done);
    probe.once('data', done);
    probe.once('close', done);
    // An error is followed by 'close'; without a listener it would be thrown.
    probe.on('error', () => undefined);
    probe.write(encodeRecord(RecordType.getValues, 0, encodeParams({ FCGI_MPXS_CONNS: '' })));
  });
}

export async function createFastCgiPool(options: FastCgiPoolOptions): Promise<ScriptExecutor> {
  const opts = Object.freeze({ ...options, size: Math.max(1, options.size) });
  const dir = await mkdtemp(join(tmpdir(), 'devmount-fcgi-'));
  const workers = createWorkers(opts, dir, await parentBoundCommand());
  const unhookExit = killWorkersOnExit(workers);
  return {
    description: `FastCGI pool of up to ${opts.size} php-cgi workers (${opts.bin})`,
    execute: (job) => executeOnWorker(workers, opts, job),
    close: () => closePool(workers, dir, unhookExit),
  };
}

type PoolOptions = Readonly<FastCgiPoolOptions>;

/** The workers and their bookkeeping: who is idle, who is waiting, starting, reusing and retiring workers. */
interface Workers {
  /** Every live worker (idle or serving). */
  readonly all: Set<Worker>;
  startWorker(extraArgs: readonly string[]): Worker;
  /** A worker at hand is returned as it is, without a promise: the common request makes no hop to get one. */
  acquire(args: readonly string[]): Worker | Promise<Worker>;
  release(worker: Worker): void;
  /** The worker's kept connection when it is still open, else null. */
  keptConnection(worker: Worker): Socket | null;
  connectionTo(worker: Worker): Promise<Socket>;
  dropConnection(worker: Worker): void;
  kill(worker: Worker): void;
  /** No worker is handed out any more (close()). */
  shut(): void;
}

function createWorkers(opts: PoolOptions, dir: string, bound: ParentBoundCommand): Workers {
  const idle: Worker[] = [];
  const all = new Set<Worker>();
  // Requests waiting for a worker, each with the settings its worker must have been started with.
  const waiting: Array<{ readonly settings: string; readonly args: readonly string[]; readonly take: (worker: Worker) => void }> = [];
  let nextId = 0;
  let closed = false;

  function startWorker(extraArgs: readonly string[]): Worker {
    const id = nextId++;
    const socketPath = join(dir, `php-${id}.sock`);
    const command = bound(opts.bin, ['-b', socketPath, ...(opts.args ?? []), ...extraArgs]);
    const child = spawn(command.file, command.args, {
      env: { PATH: opts.path, PHP_FCGI_CHILDREN: '0', PHP_FCGI_MAX_REQUESTS: String(opts.maxRequests) },
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: true,
    });
    const stderr = createLineSplitter((line) => {
      if (worker.stderrTarget !== null) worker.stderrTarget(line);
      else opts.onWorkerLog(`php-cgi worker ${id}: ${line}`);
    });
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    const worker: Worker = {
      id, settings: extraArgs.join('\0'), socketPath, child, alive: true, ready: Promise.resolve(), listening: false, served: 0,
      stderrTarget: null, connection: null,
      exited: new Promise<void>((resolve) => {
        child.on('error', (err) => {
          opts.onWorkerLog(`cannot start ${opts.bin}: ${err.message}`);
          resolve();
        });
        child.on('close', () => resolve());
      }),
    };
    void worker.exited.then(() => {
      worker.alive = false;
      all.delete(worker);
      const at = idle.indexOf(worker);
      if (at !== -1) idle.splice(at, 1);
      void rm(socketPath, { force: true });
    });
    worker.ready = (async () => {
      for (let attempt = 0; attempt < CONNECT_ATTEMPTS && worker.alive; attempt++) {
        try {
          const probe = await connectOnce(socketPath);
          probe.destroy();
          worker.listening = true;
          return;
        } catch {
          // Not listening yet (ENOENT/ECONNREFUSED): php-cgi is still starting; retry, bounded above.
          await delay(CONNECT_RETRY_MS);
        }
      }
      throw new Error(`${opts.bin} -b did not start listening (see the log for its stderr)`);
    })();
    all.add(worker);
    return worker;
  }

  /**
   * A worker started with `args` (php.ini settings from .htaccess php_value: php-cgi takes them only as `-d` at
   * start-up; the per-request PHP_VALUE parameter is php-fpm's alone). Most sites have one set, so workers are
   * reused as before; a request needing other settings gets a new worker, replacing an idle one at the limit.
   */
  function acquire(args: readonly string[]): Worker | Promise<Worker> {
    if (closed) return Promise.reject(new Error('the FastCGI pool is closed'));
    const settings = args.join('\0');
    for (let i = idle.length - 1; i >= 0; i--) {
      const worker = idle[i];
      if (worker === undefined || (worker.settings !== settings && reusable(worker))) continue;
      idle.splice(i, 1);
      if (reusable(worker)) return worker;
    }
    if (all.size < opts.size) return startWorker(args);
    const other = idle.shift();
    if (other !== undefined) {
      retire(other);
      return startWorker(args);
    }
    return new Promise((take) => waiting.push({ settings, args, take }));
  }

  /** Stops an idle worker whose place another takes; it no longer counts against the pool size. */
  function retire(worker: Worker): void {
    dropConnection(worker);
    kill(worker);
    all.delete(worker);
  }

  function reusable(worker: Worker): boolean {
    return worker.alive && worker.served < opts.maxRequests;
  }

  function release(worker: Worker): void {
    // A worker that exited (killed) or is about to (max requests reached) is replaced by a fresh one.
    if (!reusable(worker)) all.delete(worker);
    const next = waiting.shift();
    if (next !== undefined) {
      if (reusable(worker) && worker.settings === next.settings) {
        next.take(worker);
        return;
      }
      if (reusable(worker)) retire(worker);
      next.take(startWorker(next.args));
      return;
    }
    if (reusable(worker)) idle.push(worker);
  }

  function keptConnection(worker: Worker): Socket | null {
    const kept = worker.connection;
    return kept !== null && !kept.destroyed && kept.readyState === 'open' ? kept : null;
  }

  /** The worker's kept connection, or a new one. */
  async function connectionTo(worker: Worker): Promise<Socket> {
    const kept = keptConnection(worker);
    if (kept !== null) return kept;
    const socket = await connectOnce(worker.socketPath);
    // Between requests no exchange listens on the socket; a worker that dies then must not raise an unhandled
    // 'error'. The next request sees the connection gone and reconnects (or replaces the worker).
    socket.on('error', () => undefined);
    socket.once('close', () => {
      if (worker.connection === socket) worker.connection = null;
    });
    worker.connection = socket;
    return socket;
  }

  function dropConnection(worker: Worker): void {
    worker.connection?.destroy();
    worker.connection = null;
  }

  function kill(worker: Worker): void {
    if (!worker.alive || worker.child.pid === undefined) return;
    // Never hand a worker we are killing to another request, even before its 'close' event arrives.
    worker.alive = false;
    try {
      process.kill(-worker.child.pid, 'SIGKILL');
    } catch {
      // Already exited between the check and the kill: the 'close' handler does the bookkeeping.
    }
  }

  return { all, startWorker, acquire, release, keptConnection, connectionTo, dropConnection, kill, shut: () => { closed = true; } };
}

/**
 * Workers run in their own process groups, so they would outlive us if we exit without close() (an uncaught
 * error, process.exit elsewhere): kill them on the way out. process.kill is synchronous, fit for 'exit'.
 * Returns the unhook, for close().
 */
function killWorkersOnExit(workers: Workers): () => void {
  const killAllOnExit = (): void => {
    for (const worker of workers.all) workers.kill(worker);
  };
  process.once('exit', killAllOnExit);
  return () => process.off('exit', killAllOnExit);
}

/** One script on one worker: acquire, connect (replacing a worker that died between requests), the FastCGI exchange, release. */
function executeOnWorker(workers: Workers, opts: PoolOptions, job: ScriptJob): ScriptExecution {
  const { acquire, keptConnection, connectionTo, dropConnection, kill, all, startWorker, release } = workers;
  const stdout = new PassThrough();
  let aborted: string | null = null;
  let current: Worker | null = null;
  let socket: Socket | null = null;
  let released = false;
  let clientLeft = false;
  let exchange: FastCgiExchange | null = null;
  const args = iniArgs(job.ini);
  /** The worker died between requests (max requests reached, killed while idle): replaced, once. */
  async function replaceDead(worker: Worker): Promise<Socket> {
    dropConnection(worker);
    kill(worker);
    all.delete(worker);
    const fresh = startWorker(args);
    current = fresh;
    await fresh.ready;
    return connectionTo(fresh);
  }
  const finished = (async () => {
    // The common request (an idle worker, listening, its connection open) reaches its FastCGI write without
    // waiting on a promise: each await is a hop through the microtask queue.
    const handed = acquire(args);
    const worker = handed instanceof Promise ? await handed : handed;
    current = worker;
    try {
      if (aborted !== null) return;
      if (!worker.listening) await worker.ready;
      if (aborted !== null) return;
      // A connect failure here means the worker died between requests: the next attempt gets a fresh worker.
      socket = keptConnection(worker) ?? await connectionTo(worker).catch(() => replaceDead(worker));
      const serving: Worker = current;
      serving.served += 1;
      serving.stderrTarget = job.onStderr;
      if (aborted !== null) { dropConnection(serving); return; }
      // Past PHP_FCGI_MAX_REQUESTS php-cgi exits after this request anyway, so it need not keep the connection.
      exchange = startFastCgiRequest(socket, job.env, job.body, job.onStderr,
        { keepConn: serving.served < opts.maxRequests, stdout });
      // The client left while the request waited for a worker: sent all the same (nginx's request would be
      // in php-fpm's listen backlog by then; WordPress's cron spawn leaves after 10 ms), then hung up.
      if (clientLeft) hangUp(socket);
      const result = await exchange.finished;
      // The client left and its connection was closed before END_REQUEST: the script may still be running (it
      // ignores user aborts, or has not written since). The worker is released once it has finished.
      if (clientLeft && result.appStatus === null) await untilFree(serving);
      if (!result.connectionReusable || aborted !== null) dropConnection(serving);
    } catch (err) {
      if (current !== null) dropConnection(current);
      job.onStderr(err instanceof Error ? err.message : String(err));
      stdout.destroy(err instanceof Error ? err : new Error(String(err)));
    } finally {
      if (!stdout.destroyed && !stdout.writableEnded && (aborted !== null || clientLeft)) stdout.end();
      released = true;
      release(current ?? worker);
    }
  })();
  return {
    stdout,
    finished,
    outputComplete: () => exchange?.outputComplete() ?? false,
    abort(reason: string): void {
      if (aborted !== null) return;
      aborted = reason;
      // After END_REQUEST (a client leaving while a large response is still being written) the script is done
      // and its worker is back in the pool, possibly serving another request on the same connection: leave it.
      if (released) return;
      job.onStderr(`killing script: ${reason}`);
      // FCGI_ABORT_REQUEST is only a hint to the application (§5.4) and php-cgi does not stop a running
      // script for it, so the worker process itself is killed; the pool replaces it.
      if (current !== null && socket !== null) {
        kill(current);
        dropConnection(current);
      }
      if (!stdout.writableEnded) stdout.end();
    },
    clientGone(): void {
      if (released || clientLeft) return;
      clientLeft = true;
      // nginx's default (fastcgi_ignore_client_abort off): the connection is closed, and php-cgi's next write
      // fails (cgi_main.c sapi_fcgi_ub_write → php_handle_aborted_connection), which stops the script unless
      // it called ignore_user_abort(true).
      if (socket !== null) hangUp(socket);
    },
  };
}

/** Every worker killed and waited for, then the socket directory removed. */
async function closePool(workers: Workers, dir: string, unhookExit: () => void): Promise<void> {
  workers.shut();
  unhookExit();
  const running = [...workers.all];
  for (const worker of running) workers.kill(worker);
  await Promise.allSettled(running.map((w) => w.exited));
  await rm(dir, { recursive: true, force: true });
}
