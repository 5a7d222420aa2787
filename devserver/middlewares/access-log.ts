/**
 * First in the stack: one log record per request when the response finishes (or the client hangs up):
 * time, request id, method, path, status, bytes, duration, remote address, user agent.
 */
import type { Logger } from 'pino';
import type { Middleware } from '../middleware.js';

export function accessLog(log: Logger): Middleware {
  return async function accessLog(ctx, next) {
    const started = performance.now();
    const { req, res } = ctx;
    let bytes = 0;
    const write = res.write;
    const end = res.end;
    // Count body bytes as written (headers excluded), whatever middleware produced them (static, PHP, proxy).
    res.write = function countingWrite(this: typeof res, chunk: unknown, ...rest: unknown[]) {
      bytes += byteLength(chunk);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof res.write;
    res.end = function countingEnd(this: typeof res, chunk?: unknown, ...rest: unknown[]) {
      if (typeof chunk !== 'function') bytes += byteLength(chunk);
      return (end as (...a: unknown[]) => typeof res).call(this, chunk, ...rest);
    } as typeof res.end;
    const writeLine = () => {
      // The base logger, not ctx.log: a pino child per request costs more than the whole static hit.
      log.info({
        reqId: ctx.id,
        method: req.method,
        path: ctx.rawTarget,
        status: res.headersSent ? res.statusCode : 0,
        bytes,
        durationMs: Math.round((performance.now() - started) * 100) / 100,
        remote: req.socket.remoteAddress,
        userAgent: req.headers['user-agent'],
        ...(res.writableFinished ? {} : { aborted: true }),
      }, 'request');
    };
    res.once('close', writeLine);
    await next();
  };
}

function byteLength(chunk: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
