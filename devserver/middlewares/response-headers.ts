/**
 * Headers every response gets: --cors (Access-Control-Allow-Origin: *, and answers preflights) and each
 * --header K:V. Added to ctx.headers, which every sender applies (respond.ts).
 */
import type { Middleware } from '../middleware.js';

export interface ResponseHeaderOptions {
  readonly cors: boolean;
  readonly headers: readonly (readonly [string, string])[];
}

export function responseHeaders(options: ResponseHeaderOptions): Middleware {
  const fixed: (readonly [string, string])[] = [];
  if (options.cors) fixed.push(['Access-Control-Allow-Origin', '*'], ['Access-Control-Expose-Headers', '*']);
  fixed.push(...options.headers);
  const cors = options.cors;
  return async function responseHeaders(ctx, next) {
    for (const [name, value] of fixed) ctx.headers.set(name, value);
    const { req, res } = ctx;
    // CORS preflight (Fetch standard §3.2.2): OPTIONS with Access-Control-Request-Method.
    if (cors && req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined) {
      for (const [name, value] of ctx.headers) res.setHeader(name, value);
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS',
        'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? '*',
        'Access-Control-Max-Age': '600',
        'Content-Length': '0',
      });
      res.end();
      return;
    }
    await next();
  };
}
