/**
 * What `backup` and `restore` print. --json: every event as one NDJSON line on stdout (the last one is the
 * summary). Otherwise: errors on stderr; on a TTY also a progress bar (files, bytes, rate, ETA) and a summary
 * line; a dry run lists its plan on stdout. Without a TTY and without errors, nothing at all (cron mails only
 * when something went wrong).
 */
import { performance } from 'node:perf_hooks';
import cliProgress from 'cli-progress';
import type { BackupEvent, BackupProgress, BackupSummary } from '../../fs/backup/types.js';
import type { RestoreEvent, RestoreSummary } from '../../fs/backup/restore.js';

export interface OutputOptions {
  readonly json: boolean;
  readonly dryRun: boolean;
  readonly stdout?: NodeJS.WriteStream;
  readonly stderr?: NodeJS.WriteStream;
}

/** A path made printable on one line: names may contain newlines and control characters. */
export function printable(path: string): string {
  return /[\u0000-\u001f\u007f]/.test(path) ? JSON.stringify(path) : path;
}

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export interface BackupOutput {
  onEvent(event: BackupEvent): void;
  onProgress(progress: BackupProgress): void;
  finish(summary: BackupSummary): void;
  /** Removes the progress bar; safe to call twice. */
  stop(): void;
}

export function createBackupOutput(options: OutputOptions): BackupOutput {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const tty = stderr.isTTY === true && !options.json;
  let multibar: cliProgress.MultiBar | undefined;
  let bar: cliProgress.SingleBar | undefined;
  let barStarted = 0;
  const line = (text: string) => {
    if (multibar) multibar.log(`${text}\n`);
    else stderr.write(`${text}\n`);
  };
  const stop = () => {
    multibar?.stop();
    multibar = undefined;
    bar = undefined;
  };
  return {
    onEvent(event) {
      if (options.json) {
        stdout.write(`${JSON.stringify(event)}\n`);
        return;
      }
      if (event.event === 'error') line(`devmount: ${event.kind === 'vanished' ? 'vanished' : 'failed'}: ${printable(event.path)}: ${event.message}`);
      else if (options.dryRun && event.event === 'file') stdout.write(`${event.action} ${printable(event.path)}\n`);
      else if (options.dryRun && event.event === 'prune') stdout.write(`prune ${event.snapshot}\n`);
    },
    onProgress(p) {
      if (!tty || options.dryRun) return;
      if (!bar) {
        multibar = new cliProgress.MultiBar({
          format: ' {bar} {percentage}% | {files} files | {doneBytes} of {allBytes} | {speed}/s | ETA {eta_formatted}',
          stream: stderr,
          hideCursor: true,
          clearOnComplete: true,
          etaBuffer: 50,
        }, cliProgress.Presets.shades_classic);
        bar = multibar.create(Math.max(1, p.bytesTotal), 0);
        barStarted = performance.now();
      }
      const seconds = Math.max(0.001, (performance.now() - barStarted) / 1000);
      bar.update(p.bytesDone, {
        files: `${p.filesDone}/${p.filesTotal}`,
        doneBytes: formatBytes(p.bytesDone),
        allBytes: formatBytes(p.bytesTotal),
        speed: formatBytes(p.bytesDone / seconds),
      });
    },
    finish(s) {
      stop();
      if (options.json) return;
      const text = `${s.dryRun ? 'would copy' : 'copied'} ${s.copied} (${formatBytes(s.bytes)}), linked ${s.linked}, skipped ${s.skipped}, failed ${s.failed}`
        + `${s.pruned.length ? `, pruned ${s.pruned.length}` : ''} in ${s.seconds} s${s.dryRun ? '' : ` → ${s.snapshot}`}`;
      if (options.dryRun) stdout.write(`${text}\n`);
      else if (tty) stderr.write(`${text}\n`);
    },
    stop,
  };
}

export interface RestoreOutput {
  onEvent(event: RestoreEvent): void;
  finish(summary: RestoreSummary): void;
}

export function createRestoreOutput(options: OutputOptions): RestoreOutput {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  return {
    onEvent(event) {
      if (options.json) stdout.write(`${JSON.stringify(event)}\n`);
      else if (event.event === 'error') stderr.write(`devmount: failed: ${printable(event.path)}: ${event.message}\n`);
      else if (options.dryRun && event.event === 'file') stdout.write(`${event.action} ${printable(event.path)}\n`);
    },
    finish(s) {
      if (options.json) return;
      const text = `${s.dryRun ? 'would upload' : 'uploaded'} ${s.uploaded} (${formatBytes(s.bytes)}), unchanged ${s.unchanged}, deleted ${s.deleted}, failed ${s.failed} in ${s.seconds} s`;
      if (options.dryRun) stdout.write(`${text}\n`);
      else if (stderr.isTTY) stderr.write(`${text}\n`);
    },
  };
}
