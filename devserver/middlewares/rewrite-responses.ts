/**
 * Hands every response of the request to the configured response transforms (body-transform/transform.ts:
 * live-reload injection, the production origin → local origin rewrite), whoever ends up writing it — a static
 * file, PHP, CGI, the proxy or an error page.
 */
import type { Middleware } from '../middleware.js';
import { CountingResponse } from '../response.js';
import { TransformInterceptor, type ResponseTransform } from '../body-transform/transform.js';

export function rewriteResponses(transforms: readonly ResponseTransform[]): Middleware {
  const list = Object.freeze([...transforms]);
  return async function rewriteResponses(ctx, next) {
    if (ctx.res instanceof CountingResponse) ctx.res.interceptor = new TransformInterceptor(ctx, list);
    await next();
  };
}
