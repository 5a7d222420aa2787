/**
 * `devmount serve …` as a child process for the lab tests: started with `--port 0`, resolved once it printed its
 * URL (bounded wait), stopped with SIGTERM (SIGKILL if it does not exit within 15 s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI } from '../mount-cli-helpers.js';

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  stdout(): string;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

export async function startServeProcess(args: readonly string[], env: NodeJS.ProcessEnv, waitMs = 60_000): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args, '--port', '0', '--log-format', 'json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    }
    return child.exitCode;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no URL printed in ${waitMs / 1000} s; stdout=${stdout} stderr=${stderr}`)), waitMs);
      child.stdout.on('data', () => {
        const m = /http:\/\/127\.0\.0\.1:\d+\//.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[0]);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`devmount serve exited with ${code}: ${stdout}${stderr}`));
      });
    });
    return { child, url, stdout: () => stdout, stderr: () => stderr, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
