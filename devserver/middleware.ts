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
import type { Locals } from './locals.js';

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
  /** Per-request facts shared between middlewares, each key typed in locals.ts. */
  readonly locals: Locals;
}

export type Next = () => Promise<void>;

/**
 * What a slot middleware (stack.ts) declares so that the response memo (response-memo.ts) may answer a repeated
 * static GET/HEAD before any slot middleware runs. A slot middleware WITHOUT this declaration turns the memo off for
 * the whole server: "may depend on anything" is the safe default.
 */
export interface MemoPolicy {
  /**
   * True when, for a GET or HEAD of site path `path` (ctx.path as this middleware receives it), the middleware
   * calls next() without changing ctx or the response and without reading request headers, the client address
   * or the clock. Asked once per recorded response, never on a memo hit. Every FileSource change drops the whole
   * memo, so the answer may depend on the file tree (for example "no .htaccess applies to this path").
   */
  passesOn(path: string): boolean | Promise<boolean>;
  /**
   * For a middleware whose pass-on answer can change without a FileSource change (a remote server becoming
   * unreachable): registers `drop`, which empties the memo, to be called on such a change; returns the
   * unsubscriber. A memo hit skips the middleware, so whatever it would now add must not be replayed without it.
   */
  onInvalidate?(drop: () => void): () => void;
}

export type Middleware = ((ctx: RequestContext, next: Next) => Promise<void>) & {
  /** Optional; see MemoPolicy. Only read for slot middlewares. */
  readonly memo?: MemoPolicy;
};
