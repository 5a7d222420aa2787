/**
 * `devmount up`: mounts the configured mounts by running `devmount mount` for each (one implementation of
 * mounting), creating mount points, skipping the ones already mounted, waiting for the network with bounded
 * backoff, then starting their dev servers. Every step is logged as a JSON line (log.ts).
 */
import { mkdir } from 'node:fs/promises';
import type { Logger } from 'pino';
import { ExitCode } from '../exit-codes.js';
import type { Env } from '../config/paths.js';
import type { MountConfig } from '../config/types.js';
import { nextDelayMs, sleep } from './backoff.js';
import { mountPointState, mountPoints, waitUntilUnmounted } from './mount-table.js';
import { runSelf } from './run-self.js';
import { liveServeRecord } from './serve-records.js';
import { ServeStartError, startServe } from './start-serve.js';

export interface UpOptions {
  /** How long to keep retrying a mount whose server cannot be reached, from its first failure (`--wait`); 0 = one attempt. */
  readonly waitMs: number;
  /** A terminal is attached: mounts run one after another and may prompt; else in parallel, never prompting. */
  readonly interactive: boolean;
  readonly env: Env;
  /**
   * The config file's directory: `devmount mount` runs there, so a relative `IdentityFile=keys/id` in `options`
   * means the same file whichever directory `up` is started from (the mount parser resolves it against its cwd).
   */
  readonly configDir: string;
}

export type UpStatus = 'mounted' | 'already-mounted' | 'failed';

export interface UpOutcome {
  readonly name: string;
  readonly status: UpStatus;
  /** Exit code of the failure (ExitCode table), 0 when the mount (and its dev server) is up. */
  readonly code: number;
  readonly message: string;
  readonly serveUrl: string | undefined;
}

/** What the person at the terminal sees; the log gets the same events as JSON. */
export interface Reporter {
  info(line: string): void;
  error(line: string): void;
}

export function mountArgs(mount: MountConfig): string[] {
  return [
    'mount', mount.remote, mount.mountpoint,
    ...(mount.port === undefined ? [] : ['-p', String(mount.port)]),
    ...(mount.options === undefined ? [] : ['-o', mount.options]),
  ];
}

function noPromptHint(code: number, interactive: boolean): string {
  if (interactive || code !== ExitCode.auth) return '';
  return ' (no terminal to ask for a password or passphrase: use a key without one, e.g. "options": "IdentityFile=~/.ssh/id_ed25519", or load it into ssh-agent)';
}

async function mountWithRetry(mount: MountConfig, options: UpOptions, log: Logger, reporter: Reporter): Promise<{ code: number; message: string }> {
  // The wait is counted from the first failure, so one slow attempt (a DNS timeout) does not use it all up.
  let deadline: number | undefined;
  for (let attempt = 0; ; attempt++) {
    const result = await runSelf(mountArgs(mount), options.interactive, options.configDir);
    if (result.code !== ExitCode.connect) return result;
    // Exit 4: DNS failure, refused, timeout — what a network that is not up yet looks like at login.
    deadline ??= Date.now() + options.waitMs;
    const delay = nextDelayMs(attempt, Date.now(), deadline);
    if (delay === undefined) return result;
    log.info({ event: 'retry', mount: mount.name, attempt: attempt + 1, delayMs: delay, reason: result.message }, 'server not reachable yet');
    reporter.info(`${mount.name}: cannot reach the server yet (${result.message || 'exit 4'}); retrying in ${Math.ceil(delay / 1000)} s`);
    await sleep(delay);
  }
}

async function ensureServe(mount: MountConfig, env: Env, log: Logger): Promise<string | undefined> {
  if (mount.serve === undefined) return undefined;
  const running = await liveServeRecord(mount.name, env);
  if (running !== undefined) {
    log.info({ event: 'serve-running', mount: mount.name, url: running.url, pid: running.pid }, 'dev server already running');
    return running.url;
  }
  const record = await startServe(mount, mount.serve, env);
  log.info({ event: 'serve-started', mount: mount.name, url: record.url, pid: record.pid }, 'dev server started');
  return record.url;
}

async function upOne(mount: MountConfig, points: ReadonlySet<string>, options: UpOptions, log: Logger, reporter: Reporter): Promise<UpOutcome> {
  const fail = (code: number, message: string): UpOutcome => {
    log.error({ event: 'failed', mount: mount.name, remote: mount.remote, mountpoint: mount.mountpoint, exitCode: code, reason: message }, 'mount failed');
    reporter.error(`up ${mount.name}: ${message}`);
    return { name: mount.name, status: 'failed', code, message, serveUrl: undefined };
  };
  const state = await mountPointState(mount.mountpoint, points);
  let status: UpStatus = 'already-mounted';
  if (state === 'mounted') {
    log.info({ event: 'skip', mount: mount.name, mountpoint: mount.mountpoint }, 'already mounted');
    reporter.info(`${mount.name}: already mounted on ${mount.mountpoint}`);
  } else {
    if (state === 'stale') {
      // A mount whose process is gone ("Transport endpoint is not connected"): clear it, then mount afresh.
      log.warn({ event: 'stale', mount: mount.name, mountpoint: mount.mountpoint }, 'stale mount: unmounting first');
      const cleared = await runSelf(['unmount', mount.mountpoint], false);
      if (cleared.code !== 0) return fail(cleared.code, `stale mount on ${mount.mountpoint} could not be cleared: ${cleared.message}`);
      // A lazy detach returns before the kernel drops the entry; mounting on top of it too early fails.
      if (!await waitUntilUnmounted(mount.mountpoint)) return fail(ExitCode.mountpoint, `stale mount on ${mount.mountpoint} is still listed after unmounting it`);
    }
    try {
      await mkdir(mount.mountpoint, { recursive: true });
    } catch (err) {
      return fail(ExitCode.mountpoint, `cannot create mount point ${mount.mountpoint}: ${(err as Error).message}`);
    }
    const result = await mountWithRetry(mount, options, log, reporter);
    if (result.code !== 0) {
      return fail(result.code, `${result.message || `devmount mount exited with ${result.code}`}${noPromptHint(result.code, options.interactive)}`);
    }
    status = 'mounted';
    log.info({ event: 'mounted', mount: mount.name, remote: mount.remote, mountpoint: mount.mountpoint }, 'mounted');
    reporter.info(`${mount.name}: mounted ${mount.remote} on ${mount.mountpoint}`);
  }
  try {
    const serveUrl = await ensureServe(mount, options.env, log);
    if (serveUrl !== undefined) reporter.info(`${mount.name}: dev server at ${serveUrl}`);
    return { name: mount.name, status, code: 0, message: '', serveUrl };
  } catch (err) {
    if (err instanceof ServeStartError) return fail(ExitCode.failure, err.message);
    throw err;
  }
}

/** Brings up every mount given; never throws for a single mount's failure (see the outcomes). */
export async function upMounts(mounts: readonly MountConfig[], options: UpOptions, log: Logger, reporter: Reporter): Promise<UpOutcome[]> {
  log.info({ event: 'up', mounts: mounts.map((m) => m.name), waitMs: options.waitMs, interactive: options.interactive }, 'up');
  const points = await mountPoints();
  if (options.interactive) {
    // One at a time: a mount may ask a question on the terminal, and two at once would interleave.
    const outcomes: UpOutcome[] = [];
    for (const mount of mounts) outcomes.push(await upOne(mount, points, options, log, reporter));
    return outcomes;
  }
  return Promise.all(mounts.map((mount) => upOne(mount, points, options, log, reporter)));
}

/** The command's exit code: 0 when everything is up, else the first failure's code in config order. */
export function exitCodeOf(outcomes: readonly { code: number }[]): number {
  return outcomes.find((o) => o.code !== 0)?.code ?? ExitCode.ok;
}
