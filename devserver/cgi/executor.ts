/**
 * How a CGI-style script is run: a fresh process per request (spawn-executor.ts: php-cgi or a shebang script)
 * or a persistent FastCGI worker (fastcgi/pool.ts). Both take the same CGI/1.1 environment and request body and
 * hand back the script's raw output (CGI headers, blank line, body), so one piece of code (run-script.ts)
 * handles headers, redirects, timeouts and disconnects for all of them.
 */
import type { Readable } from 'node:stream';

export interface ScriptJob {
  /** The file to run (for php-cgi: the PHP script; for a generic CGI executor: the executable). */
  readonly scriptFilename: string;
  /** CGI/1.1 meta-variables (env.ts). */
  readonly env: Readonly<Record<string, string>>;
  /** Request body, streamed to the script's stdin; null when the request has none. */
  readonly body: Readable | null;
  /** php.ini settings for this script (.htaccess php_value…); an interpreter-less CGI program ignores them. */
  readonly ini?: ReadonlyMap<string, string>;
  /** Each line the script writes to stderr (the caller logs it with the request id). */
  readonly onStderr: (line: string) => void;
}

/** php-cgi's `-d NAME=VALUE` options for a job's settings. */
export function iniArgs(ini: ReadonlyMap<string, string> | undefined): string[] {
  const args: string[] = [];
  for (const [name, value] of ini ?? []) args.push('-d', `${name}=${value}`);
  return args;
}

export interface ScriptExecution {
  /** The script's stdout: CGI response headers, an empty line, then the body. */
  readonly stdout: Readable;
  /** Settles when the script has finished (or was killed); never rejects. */
  readonly finished: Promise<void>;
  /**
   * True once everything the script writes has been handed to `stdout` (FastCGI: END_REQUEST was read with it).
   * Asked by the reader of the response head while it handles a chunk: a page that arrived whole is then sent
   * at once, without reading `stdout` to its end. Absent: not known until `stdout` ends (a process per request).
   */
  outputComplete?(): boolean;
  /** Kill the script now (timeout, unusable response). Idempotent. */
  abort(reason: string): void;
  /**
   * The client went away before the response ended. FastCGI executors close the script's connection, as nginx does
   * (`fastcgi_ignore_client_abort off`): PHP notices at its next write and stops the script unless it called
   * ignore_user_abort(true); the worker counts as busy until the script has ended. Absent (a CGI process per
   * request): the script runs on, its output read and discarded. Idempotent.
   */
  clientGone?(): void;
}

export interface ScriptExecutor {
  /** Human description for the start-up banner ("php-cgi per request", "FastCGI pool of 4 php-cgi"). */
  readonly description: string;
  execute(job: ScriptJob): ScriptExecution;
  /** Stops every process this executor started. */
  close(): Promise<void>;
}
