/**
 * The response memo's place in the stack (response-memo.ts): a repeated static GET/HEAD is answered here from the
 * memo, after the access log and the request checks (bad target, Host) have run as for every request, and before
 * everything else; any other request gets a recorder (ctx.locals 'memoRecorder') that send.ts offers its answer to.
 * A hit costs a Map lookup and one write: no file, slot middleware or header assembly is touched.
 */
import type { IncomingMessage } from 'node:http';
import type { Middleware, RequestContext } from '../middleware.js';
import { CountingResponse } from '../response.js';
import { ResponseMemo, type MemoEntry } from '../response-memo.js';
import { isNotModified } from '../send.js';

export function replayMemo(memo: ResponseMemo): Middleware {
  return async function replayMemo(ctx, next) {
    const { req } = ctx;
    const key = isMemoCandidate(req) ? ResponseMemo.keyOf(ctx.rawTarget, req.headers['accept-encoding']) : null;
    if (key !== null) {
      const entry = memo.get(key);
      if (entry !== undefined) {
        replay(ctx, entry);
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

/** GET or HEAD without a Range: the requests the memo may answer (send.ts answers Range itself). */
function isMemoCandidate(req: IncomingMessage): boolean {
  const method = req.method;
  return (method === 'GET' || method === 'HEAD') && req.headers.range === undefined && req.headers['if-range'] === undefined;
}

/** Recorded only from unconditional requests, so the memo holds the plain 200 of send.ts. */
function isRecordable(req: IncomingMessage): boolean {
  return req.headers['if-none-match'] === undefined && req.headers['if-modified-since'] === undefined;
}

/** The memoised answer, with this request's own X-Request-Id; validators as send.ts (RFC 9110 §13.1). */
function replay(ctx: RequestContext, entry: MemoEntry): void {
  const { req, res } = ctx;
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
