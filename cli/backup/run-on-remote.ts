/**
 * The frame `backup` and `restore` share: Ctrl-C handling, the SFTP connection closed whatever happens, the
 * summary printed, and exit 0 or "partial" by whether any file failed (cli/exit-codes.ts).
 */
import { ExitCode } from '../exit-codes.js';
import { openRemoteSource, type ConnectionFlags } from './connection.js';
import type { BackupSource } from '../../fs/backup/types.js';
import { interruptController } from './signals.js';

export interface SummaryOutput<S> {
  finish(summary: S): void;
  /** Stops progress bars; called last, also on failure. */
  stop?(): void;
}

export async function runOnRemote<S extends { readonly failed: number }>(
  spec: string,
  flags: ConnectionFlags,
  purpose: 'backup' | 'restore',
  output: SummaryOutput<S>,
  work: (source: BackupSource, signal: AbortSignal) => Promise<S>,
): Promise<void> {
  const interrupt = interruptController();
  try {
    const remote = await openRemoteSource(spec, flags, purpose);
    try {
      const summary = await work(remote.source, interrupt.signal);
      output.finish(summary);
      process.exitCode = summary.failed > 0 ? ExitCode.partial : ExitCode.ok;
    } finally {
      await remote.close();
    }
  } finally {
    output.stop?.();
    interrupt.dispose();
  }
}
