/**
 * Small response helpers every middleware uses, so that every response carries ctx.headers (CORS, --header,
 * .htaccess `Header set`) and error bodies look the same.
 */
import { STATUS_CODES } from 'node:http';
import type { RequestContext } from './middleware.js';

/** Copies ctx.headers onto the response; call before writeHead. */
export function applyContextHeaders(ctx: RequestContext): void {
  for (const [name, value] of ctx.headers) ctx.res.setHeader(name, value);
}

/** A short text/plain answer ("404 Not Found\n"), body omitted for HEAD. */
export function sendStatus(ctx: RequestContext, status: number, detail?: string, extra?: Record<string, string>): void {
  const { res } = ctx;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${status} ${STATUS_CODES[status] ?? ''}${detail ? `: ${detail}` : ''}\n`;
  applyContextHeaders(ctx);
  res.writeHead(status, {
    ...extra,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  res.end(ctx.req.method === 'HEAD' ? undefined : body);
}

export function isGetOrHead(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD';
}
