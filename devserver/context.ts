/** The per-request context object (RequestContext, middleware.ts), created once per request by server.ts. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { FileSource } from './file-source.js';
import { Locals } from './locals.js';
import type { RequestContext } from './middleware.js';

export class Context implements RequestContext {
  readonly headers = new Map<string, string | string[]>();
  readonly locals = new Locals();
  private childLog: Logger | undefined;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly id: string,
    readonly source: FileSource,
    private readonly baseLog: Logger,
    readonly rawTarget: string,
    public path: string,
    public query: string,
  ) {}

  /** Created on first use: most requests never log anything but the access line. */
  get log(): Logger {
    this.childLog ??= this.baseLog.child({ reqId: this.id });
    return this.childLog;
  }
}

// X-Request-Id from the client is echoed only when it is a short token (no header injection, no log spam).
const VALID_REQUEST_ID = /^[A-Za-z0-9._:@\-]{1,128}$/;

export function clientRequestId(value: string | string[] | undefined): string | null {
  return typeof value === 'string' && VALID_REQUEST_ID.test(value) ? value : null;
}
