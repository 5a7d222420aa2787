/**
 * Runs one devmount subcommand as a child process and reports its exit code and last stderr line.
 * With a terminal the child shares it (it may ask about a host key or a passphrase); without one its stdin is
 * closed, so nothing can prompt, and its output is captured for the log.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { selfCommand } from './self.js';

export interface SelfRunResult {
  readonly code: number;
  /** The child's last non-empty stderr line without the `devmount: ` prefix ('' when interactive or silent). */
  readonly message: string;
}

// A daemonizing child (`devmount mount`) may hand our pipe to its daemon, which keeps it open: once the child
// itself has exited, wait this long for the remaining output and then stop reading.
const OUTPUT_GRACE_MS = 200;

/**
 * The line that says what went wrong: devmount's own one-line `devmount: …` message when there is one; after a
 * crash (a stack trace ending in "Node.js v20…") the error line itself; else the last line.
 */
export function messageOf(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const own = lines.filter((l) => l.startsWith('devmount:')).pop();
  if (own !== undefined) return own.replace(/^devmount:\s*/, '');
  return lines.find((l) => /^[A-Za-z]*Error\b/.test(l)) ?? lines.pop() ?? '';
}

export async function runSelf(args: readonly string[], interactive: boolean, cwd?: string): Promise<SelfRunResult> {
  const self = selfCommand();
  const child = spawn(self.node, [self.script, ...args], {
    stdio: interactive ? 'inherit' : ['ignore', 'pipe', 'pipe'],
    ...(cwd === undefined ? {} : { cwd }),
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString('utf8')).slice(-8192); });
  // stdout is only drained: the child's progress lines are not ours to repeat.
  child.stdout?.resume();
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (exitCode, signal) => resolve(exitCode ?? 128 + (signal ? constants.signals[signal] : 0)));
  });
  if (!interactive) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, OUTPUT_GRACE_MS);
      child.once('close', () => { clearTimeout(timer); resolve(); });
    });
    child.stdout?.destroy();
    child.stderr?.destroy();
  }
  return { code, message: messageOf(stderr) };
}
