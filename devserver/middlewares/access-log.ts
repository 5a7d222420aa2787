/**
 * First in the stack: one log record per request when the response finishes (or the client hangs up):
 * time, request id, method, path, status, bytes, duration, remote address, user agent.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Middleware, RequestContext } from '../middleware.js';
import { CountingResponse } from '../response.js';
import { jsonLineSink } from '../logger.js';

/** Starts timing one request; its record is written when the response closes. */
export type AccessTracker = (req: IncomingMessage, res: ServerResponse, id: string, rawTarget: string) => void;

const INFO = 30;

export type AccessFields = Readonly<Record<string, string | number>>;

/** Machine fields an answer adds to its request's access line (a 404's errno, a 502's upstream): see docs/logging.md. */
const annotations = new WeakMap<ServerResponse, AccessFields>();

/**
 * Adds fields to this request's access line: why it was answered as it was, for machines (`devmount logs`, jq).
 * Names must not be the line's own (time, level, msg, reqId, method, path, status, bytes, durationMs …).
 */
export function annotateAccess(ctx: RequestContext, fields: AccessFields): void {
  annotations.set(ctx.res, { ...annotations.get(ctx.res), ...fields });
}

/** One per server: the access log middleware and the memo's early replay (stack.ts) share it. */
export function accessTracker(log: Logger): AccessTracker {
  const sink = jsonLineSink(log);
  return (req, res, id, rawTarget) => {
    const started = performance.now();
    // 'close' is emitted once per response (node lib/_http_server.js emitCloseNT sets res._closed first): `on`
    // spares the once-wrapper that `once` allocates for every request.
    res.on('close', () => {
      if (log.levelVal > INFO) return;
      const status = res.headersSent ? res.statusCode : 0;
      // Body bytes as written by whichever middleware answered (server.ts installs CountingResponse).
      const bytes = res instanceof CountingResponse ? res.bodyBytes : null;
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      const aborted = !res.writableFinished;
      const extra = annotations.get(res);
      if (sink !== null) {
        sink(jsonLine(id, req, rawTarget, status, bytes, durationMs, aborted, extra));
        return;
      }
      // The base logger, not ctx.log: a pino child per request costs more than the whole static hit.
      log.info({
        reqId: id,
        method: req.method,
        path: rawTarget,
        status,
        bytes,
        durationMs,
        remote: req.socket.remoteAddress,
        userAgent: req.headers['user-agent'],
        ...(aborted ? { aborted: true } : {}),
        ...extra,
      }, 'request');
    });
  };
}

/**
 * The record pino would write for the object above, built as one string: pino's generic serialiser and the
 * object literal were a measurable share of a static hit. Same keys, same order; undefined
 * values are left out, as JSON.stringify and pino do. Appended piece by piece rather than as one template of
 * nested templates, and strings without escapes quoted without JSON.stringify: built for every request, this
 * form takes about a third of the time (docs/performance.md).
 */
function jsonLine(id: string, req: IncomingMessage, rawTarget: string, status: number, bytes: number | null,
  durationMs: number, aborted: boolean, extra: AccessFields | undefined): string {
  const remote = req.socket.remoteAddress;
  const userAgent = req.headers['user-agent'];
  let line = '{"level":30,"time":"' + isoNow() + '","reqId":' + jsonString(id) + ',"method":' + jsonString(req.method ?? '')
    + ',"path":' + jsonString(rawTarget) + ',"status":' + status + ',"bytes":' + bytes + ',"durationMs":' + durationMs;
  if (remote !== undefined) line += ',"remote":' + jsonString(remote);
  if (userAgent !== undefined) line += ',"userAgent":' + jsonString(userAgent);
  if (aborted) line += ',"aborted":true';
  if (extra !== undefined) line += extraFields(extra);
  return line + ',"msg":"request"}\n';
}

// What JSON.stringify escapes in a string (ECMA-262 QuoteJSONString): '"', '\\', U+0000–U+001F and lone surrogates.
// Request ids, methods, addresses and nearly every path have none of them, and are quoted as they are.
const NEEDS_JSON_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** JSON.stringify(text), without its call for the strings that need no escape (the result is the same). */
function jsonString(text: string): string {
  return NEEDS_JSON_ESCAPE.test(text) ? JSON.stringify(text) : '"' + text + '"';
}

function extraFields(extra: AccessFields): string {
  let out = '';
  for (const [name, value] of Object.entries(extra)) out += `,${JSON.stringify(name)}:${JSON.stringify(value)}`;
  return out;
}

// The same millisecond's timestamp is formatted once: at tens of thousands of requests a second, dozens share it.
let isoMs = 0;
let isoText = '';
function isoNow(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = new Date(now).toISOString();
  }
  return isoText;
}

export function accessLog(track: AccessTracker): Middleware {
  return async function accessLog(ctx, next) {
    track(ctx.req, ctx.res, ctx.id, ctx.rawTarget);
    await next();
  };
}
