/** Runs a service manager's command-line tool (systemctl, launchctl) without a shell and reports how it went. */
import { execFile } from 'node:child_process';

export interface ToolResult {
  readonly ok: boolean;
  /** False when the tool itself is not installed (ENOENT). */
  readonly found: boolean;
  readonly stdout: string;
  /** First line of stderr (or of the spawn error). */
  readonly error: string;
}

export function runTool(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<ToolResult> {
  return new Promise((resolve) => {
    execFile(command, [...args], { env, encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const firstLine = (text: string): string => text.split('\n').map((l) => l.trim()).find(Boolean) ?? '';
      if (err === null) {
        resolve({ ok: true, found: true, stdout, error: '' });
        return;
      }
      const found = (err as NodeJS.ErrnoException).code !== 'ENOENT';
      resolve({ ok: false, found, stdout, error: firstLine(stderr) || firstLine(stdout) || err.message.split('\n')[0] || 'failed' });
    });
  });
}
