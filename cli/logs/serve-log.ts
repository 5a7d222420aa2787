/**
 * The logger of `devmount serve`: the request log on stderr as before (devserver/logger.ts), and, for a server
 * started in the foreground, the same records as NDJSON in `$XDG_STATE_HOME/devmount/serve-<hash>.log` (one file
 * per served site, rotated, rotating-file.ts), where `devmount logs` finds them. A server whose stderr already
 * goes to a file (started by `devmount up`, whose serve/NAME.log `devmount logs` reads too) keeps no second copy.
 * DEVMOUNT_DEBUG=1 turns on debug records, as for `mount` (e.g. the remote operations done for each request).
 */
import { createHash } from 'node:crypto';
import { fstat } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createLogger, type LogFormat } from '../../devserver/logger.js';
import { devmountStateDir, type Env } from '../config/paths.js';
import { openRotatingLogFile, type RotatingLogFile } from './rotating-file.js';

export interface ServeLog {
  readonly logger: Logger;
  /** The kept log file, or null when stderr is one already. */
  readonly file: string | null;
  /** Flushes the logger, then closes the file: call after the server closed, right before exiting. */
  close(): Promise<void>;
}

/** `$XDG_STATE_HOME/devmount/serve-<12 hex of sha256(site)>.log`: a site served again appends to its own file. */
export function serveLogPath(site: string, env: Env = process.env): string {
  return join(devmountStateDir(env), `serve-${createHash('sha256').update(site).digest('hex').slice(0, 12)}.log`);
}

function stderrIsFile(): Promise<boolean> {
  return new Promise((resolve) => {
    fstat(2, (err, stats) => resolve(err === null && stats.isFile()));
  });
}

export async function openServeLog(format: LogFormat | 'auto', site: string, env: Env = process.env): Promise<ServeLog> {
  const level = env.DEVMOUNT_DEBUG ? 'debug' : 'info';
  let file: RotatingLogFile | null = null;
  if (!(await stderrIsFile())) {
    await mkdir(devmountStateDir(env), { recursive: true, mode: 0o700 });
    file = await openRotatingLogFile(serveLogPath(site, env));
  }
  const kept = file;
  const logger = createLogger({ format, level, ...(kept ? { copyTo: (line: string) => kept.write(line) } : {}) });
  return Object.freeze({
    logger,
    file: kept?.path ?? null,
    async close() {
      await new Promise<void>((resolve) => logger.flush(() => resolve()));
      await kept?.close();
    },
  });
}
