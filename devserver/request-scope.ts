/**
 * The request as an operation context for fs/ (fs/trace.ts): the server runs each request's middleware stack
 * inside `run(reqId, …)`, and whatever the VFS does on its behalf — in the same async call chain, however deep —
 * finds the id with `current()` and logs its remote operations under it. node:async_hooks AsyncLocalStorage
 * carries the id across awaits, timers and stream callbacks started within the request
 * (https://nodejs.org/docs/latest-v20.x/api/async_context.html).
 *
 * On Node 20 an AsyncLocalStorage in use costs something on every promise of the process, so the server takes a
 * scope only when somebody reads it: a remote site logged at debug level (cli/remote-serve.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { OperationContext } from '../fs/trace.js';

export interface RequestScope extends OperationContext {
  /** Runs `fn` (the request's middleware stack) with `reqId` as the current caller. */
  run<T>(reqId: string, fn: () => T): T;
}

export function createRequestScope(): RequestScope {
  const storage = new AsyncLocalStorage<Readonly<Record<string, string>>>();
  return Object.freeze({
    run: <T>(reqId: string, fn: () => T): T => storage.run(Object.freeze({ reqId }), fn),
    current: () => storage.getStore(),
  });
}
