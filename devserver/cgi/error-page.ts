/**
 * The small HTML page we answer with when a script or an upstream fails (502/504): says what failed and why, so
 * the person looking at the browser does not have to dig in the log.
 */
import type { RequestContext } from '../middleware.js';

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function sendErrorPage(ctx: RequestContext, status: number, title: string, detail: string): void {
  const { res } = ctx;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `<!doctype html>\n<html><head><meta charset="utf-8"><title>${status} ${escapeHtml(title)}</title></head>`
    + `<body><h1>${status} ${escapeHtml(title)}</h1><p>${escapeHtml(detail)}</p>`
    + `<p><small>devmount serve, request ${escapeHtml(ctx.id)}</small></p></body></html>\n`;
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('Cache-Control', 'no-store');
  res.end(body);
}
