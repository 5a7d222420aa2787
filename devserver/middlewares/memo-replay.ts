/**
 * The response memo's place in the stack (response-memo.ts): a repeated static GET/HEAD is answered here from the
 * memo, after the access log and the request checks (bad target, Host) have run as for every request, and before
 * everything else; any other request gets a recorder (ctx.locals 'memoRecorder') that send.ts offers its answer to.
 * A hit costs a Map lookup and one write: no file, slot middleware or header assembly is touched.
 *
 * replayBeforeStack is the same hit taken before the stack runs (server.ts): the access line, the Host check and
 * the replay called in a row, synchronously, for a request whose target parsed. A Context, four async middlewares
 * and their promises were a measurable share of a hit's CPU time (docs/performance.md). Every other request — a
 * miss, a refused target or Host — runs the stack, whose middlewares give the same answers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Middleware } from '../middleware.js';
import { CountingResponse } from '../response.js';
import { ResponseMemo, type MemoEntry } from '../response-memo.js';
import { isNotModified } from '../send.js';
import type { AccessTracker } from './access-log.js';
import type { HostPolicy } from './host-check.js';

/** Answers a memo hit before the stack: true when it did (the access line is then tracked), false to run the stack. */
export type EarlyReplay = (req: IncomingMessage, res: ServerResponse, id: string, rawTarget: string) => boolean;

/**
 * Steps 1–3a of the stack (stack.ts) for a request whose target parsed (step 2 is then a pass): the Host check,
 * the memo lookup, and only on a hit the access line and the replay, so a request that goes on to the stack is
 * tracked there once.
 */
export function replayBeforeStack(memo: ResponseMemo, allowsHost: HostPolicy, track: AccessTracker): EarlyReplay {
  return function replayBeforeStack(req, res, id, rawTarget) {
    if (!allowsHost(req.headers.host)) return false;
    const key = memoKey(req, rawTarget);
    const entry = key === null ? undefined : memo.get(key);
    if (entry === undefined) return false;
    track(req, res, id, rawTarget);
    replay(req, res, entry);
    return true;
  };
}

export function replayMemo(memo: ResponseMemo): Middleware {
  return async function replayMemo(ctx, next) {
    const { req } = ctx;
    const key = memoKey(req, ctx.rawTarget);
    if (key !== null) {
      const entry = memo.get(key);
      if (entry !== undefined) {
        replay(req, ctx.res, entry);
        return;
      }
      if (isRecordable(req)) {
        const recorder = memo.recorder(key);
        if (recorder !== null) ctx.locals.set('memoRecorder', recorder);
      }
    }
    await next();
  };
}

/** The memo key of a GET or HEAD without a Range (send.ts answers Range itself); null for any other request. */
function memoKey(req: IncomingMessage, rawTarget: string): string | null {
  const method = req.method;
  const h = req.headers;
  if ((method !== 'GET' && method !== 'HEAD') || h.range !== undefined || h['if-range'] !== undefined) return null;
  return ResponseMemo.keyOf(rawTarget, h['accept-encoding']);
}

/** Recorded only from unconditional requests, so the memo holds the plain 200 of send.ts. */
function isRecordable(req: IncomingMessage): boolean {
  return req.headers['if-none-match'] === undefined && req.headers['if-modified-since'] === undefined;
}

/** The memoised answer, with this request's own X-Request-Id; validators as send.ts (RFC 9110 §13.1). */
function replay(req: IncomingMessage, res: ServerResponse, entry: MemoEntry): void {
  // --header already sets X-Request-Id: the memoised head carries that one, as on the stack's path.
  if (entry.fixedRequestId) {
    if (res instanceof CountingResponse) res.requestId = '';
    else res.removeHeader('X-Request-Id');
  }
  const h = req.headers;
  if ((h['if-none-match'] !== undefined || h['if-modified-since'] !== undefined) && isNotModified(h, entry.etag, entry.lastModified)) {
    res.writeHead(304, entry.notModifiedHead as string[]);
    res.end();
    return;
  }
  res.writeHead(200, entry.head as string[]);
  res.end(req.method === 'HEAD' ? undefined : entry.body);
}
