/**
 * The mount's logger: pino JSON lines (--log-format json) or one readable line per record (pretty, the
 * default), to stderr in the foreground or to the log file of a daemonized mount.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { LogFormat } from './mount-options.js';

const LEVEL_NAMES: Readonly<Record<number, string>> = Object.freeze({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' });

/** Turns pino's JSON lines into `HH:MM:SS level message key=value …`. */
function prettyStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        let record: Record<string, unknown>;
        try {
          record = JSON.parse(line) as Record<string, unknown>;
        } catch {
          out.write(`${line}\n`); // not a pino record: pass it through unchanged
          continue;
        }
        const { time, level, msg, pid: _pid, hostname: _host, ...rest } = record;
        const when = typeof time === 'string' ? time.slice(11, 19) : new Date(typeof time === 'number' ? time : Date.now()).toISOString().slice(11, 19);
        const extras = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
        out.write(`${when} ${LEVEL_NAMES[level as number] ?? String(level)} ${String(msg ?? '')}${extras ? ` ${extras}` : ''}\n`);
      }
      callback();
    },
  });
}

export function createMountLogger(options: { format: LogFormat; debug: boolean; destination: NodeJS.WritableStream }): Logger {
  const level = options.debug || process.env.DEVMOUNT_DEBUG ? 'debug' : 'info';
  const stream = options.format === 'json' ? options.destination : prettyStream(options.destination);
  // ISO times, as every devmount log (docs/logging.md), so `devmount logs` merges them by one clock format.
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}
