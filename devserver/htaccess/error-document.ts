/**
 * Answers an error status honouring ErrorDocument (https://httpd.apache.org/docs/2.4/mod/core.html#errordocument):
 * a local path is served with the error status, a URL becomes a 302, anything else is the message text.
 */
import { lookup as mimeLookup } from 'mime-types';
import type { RequestContext } from '../middleware.js';
import { applyContextHeaders, sendStatus } from '../respond.js';
import type { DirectoryConfig } from './config.js';

export async function sendHtaccessError(ctx: RequestContext, status: number, config: DirectoryConfig | null, detail?: string): Promise<void> {
  const doc = config?.errorDocuments.get(status);
  const { res } = ctx;
  if (doc === undefined || res.headersSent) {
    sendStatus(ctx, status, detail);
    return;
  }
  if (doc.kind === 'url') {
    sendStatus(ctx, 302, undefined, { Location: doc.url });
    return;
  }
  let body: Buffer;
  let type = 'text/html; charset=utf-8';
  if (doc.kind === 'text') {
    body = Buffer.from(doc.text);
  } else {
    const path = doc.path.split('?')[0] ?? doc.path;
    const stat = path.includes('/.') ? null : await ctx.source.stat(path);
    if (stat?.kind !== 'file') {
      ctx.log.warn({ errorDocument: doc.path, status }, 'ErrorDocument not found; sending the plain error');
      sendStatus(ctx, status, detail);
      return;
    }
    body = await ctx.source.readFile(path);
    const found = mimeLookup(path);
    if (found) type = found.startsWith('text/') ? `${found}; charset=utf-8` : found;
  }
  applyContextHeaders(ctx);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-cache' });
  res.end(ctx.req.method === 'HEAD' ? undefined : body);
}
