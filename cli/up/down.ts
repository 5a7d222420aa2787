/**
 * `devmount down`: stops the dev servers `up` started, then unmounts with `devmount unmount` (which flushes
 * pending writes and also clears a stale mount). Mounts that are not mounted are left alone.
 */
import type { Logger } from 'pino';
import type { Env } from '../config/paths.js';
import type { MountConfig } from '../config/types.js';
import { sleep } from './backoff.js';
import { mountPointState, mountPoints } from './mount-table.js';
import { runSelf } from './run-self.js';
import { isServeProcess, liveServeRecord, removeServeRecord } from './serve-records.js';
import type { Reporter } from './up.js';

export type DownStatus = 'unmounted' | 'not-mounted' | 'failed';

export interface DownOutcome {
  readonly name: string;
  readonly status: DownStatus;
  readonly code: number;
  readonly message: string;
}

const SERVE_STOP_WAIT_MS = 5_000;

async function stopServe(mount: MountConfig, env: Env, log: Logger, reporter: Reporter): Promise<void> {
  const record = await liveServeRecord(mount.name, env);
  if (record === undefined) return;
  process.kill(record.pid, 'SIGTERM');
  const deadline = Date.now() + SERVE_STOP_WAIT_MS;
  while (Date.now() < deadline && await isServeProcess(record.pid, record.mountpoint)) await sleep(50);
  if (await isServeProcess(record.pid, record.mountpoint)) process.kill(record.pid, 'SIGKILL');
  await removeServeRecord(mount.name, env);
  log.info({ event: 'serve-stopped', mount: mount.name, pid: record.pid }, 'dev server stopped');
  reporter.info(`${mount.name}: dev server stopped`);
}

async function downOne(mount: MountConfig, points: ReadonlySet<string>, env: Env, log: Logger, reporter: Reporter): Promise<DownOutcome> {
  await stopServe(mount, env, log, reporter);
  const state = await mountPointState(mount.mountpoint, points);
  if (state === 'unmounted') {
    log.info({ event: 'not-mounted', mount: mount.name, mountpoint: mount.mountpoint }, 'not mounted');
    reporter.info(`${mount.name}: not mounted`);
    return { name: mount.name, status: 'not-mounted', code: 0, message: '' };
  }
  const result = await runSelf(['unmount', mount.mountpoint], false);
  if (result.code !== 0) {
    const message = result.message || `devmount unmount exited with ${result.code}`;
    log.error({ event: 'unmount-failed', mount: mount.name, mountpoint: mount.mountpoint, exitCode: result.code, reason: message }, 'unmount failed');
    reporter.error(`down ${mount.name}: ${message}`);
    return { name: mount.name, status: 'failed', code: result.code, message };
  }
  log.info({ event: 'unmounted', mount: mount.name, mountpoint: mount.mountpoint }, 'unmounted');
  reporter.info(`${mount.name}: unmounted ${mount.mountpoint}`);
  return { name: mount.name, status: 'unmounted', code: 0, message: '' };
}

export async function downMounts(mounts: readonly MountConfig[], env: Env, log: Logger, reporter: Reporter): Promise<DownOutcome[]> {
  log.info({ event: 'down', mounts: mounts.map((m) => m.name) }, 'down');
  const points = await mountPoints();
  return Promise.all(mounts.map((mount) => downOne(mount, points, env, log, reporter)));
}
