/**
 * The request body a script or an upstream receives: the client's own stream, or a replacement a middleware made
 * (--site-url turns the local origin back into the production one, middlewares/site-url.ts). A replacement is
 * small and whole, so its Content-Length is exact.
 */
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { RequestContext } from './middleware.js';

export function requestBodyOf(ctx: RequestContext): Readable {
  const replaced = ctx.locals.get('requestBody');
  return replaced === undefined ? ctx.req : Readable.from([replaced]);
}

export function replaceRequestBody(ctx: RequestContext, body: Buffer): void {
  ctx.locals.set('requestBody', body);
  const { headers } = ctx.req;
  delete headers['transfer-encoding'];
  headers['content-length'] = String(body.length);
}

/** The whole body, or null when it is larger than `maxBytes` (the rest is read and dropped). */
export function readWholeBody(req: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.once('end', () => resolve(size <= maxBytes ? Buffer.concat(chunks) : null));
    req.once('error', reject);
  });
}
