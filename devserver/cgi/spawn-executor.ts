/**
 * One process per request: php-cgi (the script path travels in SCRIPT_FILENAME) or a generic CGI executable
 * (the kernel runs its shebang line). RFC 3875 §4.4 says a query string without '=' MAY be passed as command-line
 * arguments; we never pass any, because php-cgi then reads them as its own options (CVE-2012-1823: `?-s` prints
 * the source, `?-d+allow_url_include=1` runs code).
 */
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { iniArgs, type ScriptExecution, type ScriptExecutor, type ScriptJob } from './executor.js';
import { createLineSplitter } from './line-splitter.js';

export interface SpawnExecutorOptions {
  /** The interpreter (php-cgi), or null to execute the script file itself (generic CGI). */
  readonly interpreter: string | null;
  /** Fixed interpreter options from our own configuration (e.g. php-cgi -d settings); never from a request. */
  readonly interpreterArgs?: readonly string[];
  readonly description: string;
  /** PATH given to scripts (they get no other variable from our own environment). */
  readonly path: string;
}

export function createSpawnExecutor(options: SpawnExecutorOptions): ScriptExecutor {
  const frozen = Object.freeze({ ...options });
  const live = new Set<ScriptExecution>();
  return {
    description: frozen.description,
    execute(job: ScriptJob): ScriptExecution {
      const execution = spawnScript(frozen, job);
      live.add(execution);
      void execution.finished.then(() => live.delete(execution));
      return execution;
    },
    async close(): Promise<void> {
      for (const execution of live) execution.abort('server closing');
      await Promise.allSettled([...live].map((e) => e.finished));
    },
  };
}

function spawnScript(options: SpawnExecutorOptions, job: ScriptJob): ScriptExecution {
  const command = options.interpreter ?? job.scriptFilename;
  const scriptDir = job.scriptFilename.slice(0, job.scriptFilename.lastIndexOf('/')) || '/';
  // RFC 3875 §7.2: the current directory SHOULD be the script's directory. No argv (see the header comment).
  // detached: the script gets its own process group, so abort() also kills whatever it started.
  const args = options.interpreter === null ? [] : [...(options.interpreterArgs ?? []), ...iniArgs(job.ini)];
  const child = spawn(command, args, {
    cwd: scriptDir,
    env: { ...job.env, PATH: options.path },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const stdout = new PassThrough();
  child.stdout.pipe(stdout);
  const stderr = createLineSplitter(job.onStderr);
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  // A script may exit without reading its body (EPIPE) or be killed mid-upload: the response side reports what
  // happened, so the stdin error itself carries no information.
  child.stdin.on('error', () => undefined);
  if (job.body !== null) job.body.pipe(child.stdin);
  else child.stdin.end();

  let exited = false;
  const finished = new Promise<void>((resolve) => {
    child.on('error', (err) => {
      job.onStderr(`cannot start ${command}: ${err.message}`);
      exited = true;
      stdout.destroy(err);
      resolve();
    });
    child.on('close', () => {
      exited = true;
      stderr.end();
      resolve();
    });
  });
  return {
    stdout,
    finished,
    abort(reason: string): void {
      if (exited || child.pid === undefined) return;
      job.onStderr(`killing script: ${reason}`);
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone (the script exited between our check and the kill): nothing left to stop.
      }
      job.body?.unpipe(child.stdin);
    },
  };
}
