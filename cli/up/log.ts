/**
 * The `up`/`down` log: JSON lines (pino) appended to `$XDG_STATE_HOME/devmount/devmount.log`, so what happened
 * at login can be read afterwards (`tail ~/.local/state/devmount/devmount.log | jq`). Written asynchronously;
 * `close()` flushes before the command exits.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { devmountStateDir, type Env } from '../config/paths.js';

export interface UpLog {
  readonly path: string;
  readonly logger: Logger;
  close(): Promise<void>;
}

export function upLogPath(env: Env = process.env): string {
  return join(devmountStateDir(env), 'devmount.log');
}

export async function openUpLog(command: string, env: Env = process.env): Promise<UpLog> {
  const path = upLogPath(env);
  await mkdir(devmountStateDir(env), { recursive: true, mode: 0o700 });
  const destination = pino.destination({ dest: path, sync: false, append: true });
  await new Promise<void>((resolve, reject) => {
    destination.once('ready', () => resolve());
    destination.once('error', reject);
  });
  const logger = pino({ base: { pid: process.pid, command }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
  return Object.freeze({
    path,
    logger,
    close: () => new Promise<void>((resolve) => {
      destination.once('close', () => resolve());
      destination.once('error', () => resolve());
      destination.end();
    }),
  });
}
