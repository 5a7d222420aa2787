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
  const redispatch = ctx.locals.get('redispatch');
  if (doc.kind === 'path' && /\.php$/i.test(doc.path.split('?')[0] ?? '')) {
    if (redispatch === undefined || ctx.locals.has('errorDocument')) {
      // No way to run it (or the error document itself failed): the plain error, never the script's source.
      sendStatus(ctx, status, detail);
      return;
    }
    // A script as error document (`ErrorDocument 404 /index.php`): re-dispatched like an internal redirect, the
    // script sees REDIRECT_STATUS/REDIRECT_URL and the response keeps the error status unless it sets its own.
    const q = doc.path.indexOf('?');
    ctx.locals.set('errorDocument', { status, url: ctx.path });
    ctx.path = q === -1 ? doc.path : doc.path.slice(0, q);
    ctx.query = q === -1 ? '' : doc.path.slice(q + 1);
    await redispatch();
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
