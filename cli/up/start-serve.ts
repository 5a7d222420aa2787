/**
 * Starts `devmount serve MOUNTPOINT --port N [--php]` as a detached process for a mount with a `serve` block,
 * its output going to `$XDG_STATE_HOME/devmount/serve/NAME.log`, and waits until it prints its URL (or exits).
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Env } from '../config/paths.js';
import type { MountConfig, ServeConfig } from '../config/types.js';
import { sleep } from './backoff.js';
import { messageOf } from './run-self.js';
import { selfCommand } from './self.js';
import { serveDir, writeServeRecord, type ServeRecord } from './serve-records.js';

const URL_WAIT_MS = 15_000;
const URL_POLL_MS = 100;

export class ServeStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServeStartError';
  }
}

export function serveArgs(mount: MountConfig, serve: ServeConfig): string[] {
  return ['serve', mount.mountpoint, '--port', String(serve.port), ...(serve.php ? ['--php'] : [])];
}

export async function startServe(mount: MountConfig, serve: ServeConfig, env: Env = process.env): Promise<ServeRecord> {
  const logFile = join(serveDir(env), `${mount.name}.log`);
  await mkdir(serveDir(env), { recursive: true, mode: 0o700 });
  const log = await open(logFile, 'a', 0o600);
  const start = (await log.stat()).size;
  const self = selfCommand();
  const child = spawn(self.node, [self.script, ...serveArgs(mount, serve)], {
    detached: true, // its own session: it outlives `up` and is not killed with the terminal
    stdio: ['ignore', log.fd, log.fd],
  });
  await log.close();
  // Filled in by the child's events while we poll its output.
  const ended: { code: number | undefined; error: string | undefined } = { code: undefined, error: undefined };
  child.once('exit', (code, signal) => { ended.code = code ?? (signal ? 128 : 0); });
  child.once('error', (err) => { ended.error = err.message; });
  const pid = child.pid;
  if (pid === undefined) throw new ServeStartError(`could not start devmount serve for ${mount.name}: ${ended.error ?? 'no process'}`);
  try {
    const deadline = Date.now() + URL_WAIT_MS;
    while (Date.now() < deadline) {
      const output = (await readFile(logFile)).subarray(start).toString('utf8');
      const url = /https?:\/\/[^\s"',]+/.exec(output)?.[0];
      if (url !== undefined) {
        const record: ServeRecord = { name: mount.name, pid, url, mountpoint: mount.mountpoint, logFile, startedAt: new Date().toISOString() };
        await writeServeRecord(record, env);
        return record;
      }
      if (ended.code !== undefined || ended.error !== undefined) {
        const why = messageOf(output) || ended.error || `exit code ${String(ended.code)}`;
        throw new ServeStartError(`dev server for ${mount.name} did not start: ${why}`);
      }
      await sleep(URL_POLL_MS);
    }
    child.kill('SIGTERM');
    throw new ServeStartError(`dev server for ${mount.name} printed no URL within ${URL_WAIT_MS / 1000} s (see ${logFile})`);
  } finally {
    child.unref();
  }
}
