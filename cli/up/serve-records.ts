/**
 * Dev servers started by `up` for mounts with a `serve` block run as detached `devmount serve` processes; each
 * is recorded in `$XDG_STATE_HOME/devmount/serve/NAME.json` (pid, URL, mount point) so `down` can stop it and
 * `status` can show its URL. A record whose process is gone, or whose pid now belongs to another program, is
 * treated as absent.
 */
import { mkdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { devmountStateDir, type Env } from '../config/paths.js';

export interface ServeRecord {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  readonly mountpoint: string;
  readonly logFile: string;
  readonly startedAt: string;
}

export function serveDir(env: Env = process.env): string {
  return join(devmountStateDir(env), 'serve');
}

function recordPath(name: string, env: Env): string {
  return join(serveDir(env), `${name}.json`);
}

export async function writeServeRecord(record: ServeRecord, env: Env = process.env): Promise<void> {
  await mkdir(serveDir(env), { recursive: true, mode: 0o700 });
  const path = recordPath(record.name, env);
  // Write then rename, so a reader never sees half a record.
  await writeFile(`${path}.tmp`, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

export async function removeServeRecord(name: string, env: Env = process.env): Promise<void> {
  await rm(recordPath(name, env), { force: true });
}

function isServeRecord(value: unknown): value is ServeRecord {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return typeof r.name === 'string' && typeof r.pid === 'number' && typeof r.url === 'string'
    && typeof r.mountpoint === 'string' && typeof r.logFile === 'string' && typeof r.startedAt === 'string';
}

/** Whether `pid` is still a `devmount serve` of this mount point (pids are reused). */
export async function isServeProcess(pid: number, mountpoint: string): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: alive but someone else's, so not ours; ESRCH: gone.
    if ((err as NodeJS.ErrnoException).code === 'EPERM' || (err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  if (process.platform !== 'linux') return true;
  try {
    const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return argv.includes('serve') && argv.includes(mountpoint);
  } catch {
    return false; // exited between the two checks
  }
}

/** The record of a dev server that is still running, else undefined (a stale record is removed). */
export async function liveServeRecord(name: string, env: Env = process.env): Promise<ServeRecord | undefined> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(recordPath(name, env), 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (err instanceof SyntaxError) {
      await removeServeRecord(name, env);
      return undefined;
    }
    throw err;
  }
  if (isServeRecord(value) && await isServeProcess(value.pid, value.mountpoint)) return value;
  await removeServeRecord(name, env);
  return undefined;
}
