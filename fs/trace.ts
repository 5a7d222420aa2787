/**
 * On whose behalf a remote operation runs. fs/ knows nothing of HTTP requests; whoever drives it (the dev server
 * serving a remote site) may provide an OperationContext whose `current()` names the caller waiting right now,
 * e.g. `{ reqId: "3f2a…-1" }`. The SFTP layer and the prefetcher ask it when an operation ends and log the
 * operation with those fields and its duration, so one id finds every remote round trip a request caused.
 * Only the interface and the timing live here: the context is carried by whoever implements it (the dev server
 * uses node:async_hooks AsyncLocalStorage), so fs/ imports nothing from the layers above it.
 */
import { isFsError } from './errors.js';

/** Names the caller an operation is done for; undefined when nobody in particular waits for it. */
export interface OperationContext {
  current(): Readonly<Record<string, string>> | undefined;
}

export interface OperationLog {
  debug(obj: object, msg: string): void;
}

/** Times remote operations and logs them at debug level, with the caller's fields, when they have a caller. */
export interface OperationTracer {
  /**
   * Runs `run`; when a caller is known, logs `{ ...caller, op, path, ms }` (plus `errno`/`sftpStatus` on failure).
   * A failure is logged even without a caller: it says why a mount operation failed.
   */
  time<T>(op: string, path: string, run: () => Promise<T>, detail?: Readonly<Record<string, number | string>>): Promise<T>;
}

/** Tracing off: no extra promise, no clock read. */
export const NO_TRACING: OperationTracer = Object.freeze({
  time: <T>(_op: string, _path: string, run: () => Promise<T>) => run(),
});

/** Milliseconds with two decimals, as the access log's durationMs. */
function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

/** The machine fields of a failed operation: its errno and, when a server status caused it, the SFTP status. */
export function failureFields(err: unknown): Record<string, string | number> {
  if (isFsError(err)) return err.sftpStatus === undefined ? { errno: err.code } : { errno: err.code, sftpStatus: err.sftpStatus };
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { errno: code } : { errno: 'EIO' };
}

export function createOperationTracer(context: OperationContext | undefined, log: OperationLog): OperationTracer {
  return Object.freeze({
    time<T>(op: string, path: string, run: () => Promise<T>, detail?: Readonly<Record<string, number | string>>): Promise<T> {
      const caller = context?.current();
      const started = performance.now();
      const promise = run();
      if (caller === undefined) {
        return promise.catch((err: unknown) => {
          log.debug({ op, path, ...detail, ...failureFields(err) }, 'remote operation failed');
          throw err;
        });
      }
      return promise.then((value) => {
        log.debug({ ...caller, op, path, ...detail, ms: elapsedMs(started) }, 'remote operation');
        return value;
      }, (err: unknown) => {
        log.debug({ ...caller, op, path, ...detail, ms: elapsedMs(started), ...failureFields(err) }, 'remote operation failed');
        throw err;
      });
    },
  });
}
