/**
 * The middleware contract. One middleware per file under middlewares/, each a factory returning a *named*
 * async function; the stack is assembled in one place (stack.ts), in one commented order.
 *
 * A middleware either answers (writes ctx.res) or calls next(). It may rewrite ctx.path (mod_rewrite,
 * DirectoryIndex) before calling next(), and may add response headers to ctx.headers, which the sender
 * applies to whatever response is finally written (Header set, CORS, --header).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { FileSource } from './file-source.js';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** X-Request-Id: the client's own when valid, else generated; in every log line for this request. */
  readonly id: string;
  /** Child logger bound to the request id. */
  readonly log: Logger;
  readonly source: FileSource;
  /** The original request target, as sent (for REQUEST_URI and logs). */
  readonly rawTarget: string;
  /** Raw query string without '?', '' when none. */
  query: string;
  /** Decoded, normalised, traversal-checked site path ('/a/b.html'); middlewares may rewrite it. */
  path: string;
  /** Headers every response to this request carries (merged by the sender). */
  readonly headers: Map<string, string | string[]>;
  /** Free-form per-request facts shared between middlewares (e.g. resolved stat, htaccess config). */
  readonly locals: Map<string, unknown>;
}

export type Next = () => Promise<void>;
export type Middleware = (ctx: RequestContext, next: Next) => Promise<void>;
