/**
 * First in the stack: one log record per request when the response finishes (or the client hangs up):
 * time, request id, method, path, status, bytes, duration, remote address, user agent.
 */
import type { Logger } from 'pino';
import type { Middleware } from '../middleware.js';
import { CountingResponse } from '../response.js';

export function accessLog(log: Logger): Middleware {
  return async function accessLog(ctx, next) {
    const started = performance.now();
    const { req, res } = ctx;
    res.once('close', () => {
      // The base logger, not ctx.log: a pino child per request costs more than the whole static hit.
      log.info({
        reqId: ctx.id,
        method: req.method,
        path: ctx.rawTarget,
        status: res.headersSent ? res.statusCode : 0,
        // Body bytes as written by whichever middleware answered (server.ts installs CountingResponse).
        bytes: res instanceof CountingResponse ? res.bodyBytes : null,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        remote: req.socket.remoteAddress,
        userAgent: req.headers['user-agent'],
        ...(res.writableFinished ? {} : { aborted: true }),
      }, 'request');
    });
    await next();
  };
}
