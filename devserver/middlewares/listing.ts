/**
 * Directory listing when a directory has no index file: HTML with every name escaped (serve-index's XSS
 * through file names) and linked with encodeURIComponent (names with '#', '%', '?' or spaces work),
 * directories first then by name, sizes and dates; JSON when the client prefers application/json.
 * Hidden entries are left out, as dotfiles are never served.
 */
import type { SourceEntry } from '../file-source.js';
import type { Middleware } from '../middleware.js';
import { applyContextHeaders } from '../respond.js';
import { statToServe } from './stat-to-serve.js';
import { formatBytes } from '../logger.js';
import { injectLiveReload } from '../livereload/inject.js';

export function directoryListing(): Middleware {
  return async function directoryListing(ctx, next) {
    if (!(await statToServe(ctx, next, 'directory'))) return;
    const entries = sortEntries((await ctx.source.readdir(ctx.path))
      .filter((e) => !e.name.startsWith('.') || (ctx.path === '/' && e.name === '.well-known')));
    const wantsJson = prefersJson(ctx.req.headers.accept);
    let body: Buffer;
    let type: string;
    if (wantsJson) {
      body = Buffer.from(JSON.stringify(entries.map((e) => ({
        name: e.name,
        type: e.stat.kind,
        size: e.stat.size,
        mtime: new Date(e.stat.mtimeMs).toISOString(),
      }))));
      type = 'application/json; charset=utf-8';
    } else {
      body = Buffer.from(renderHtml(ctx.path, entries));
      if (ctx.locals.get('liveReload') === true) body = injectLiveReload(body);
      type = 'text/html; charset=utf-8';
    }
    applyContextHeaders(ctx);
    ctx.res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-cache', Vary: 'Accept' });
    ctx.res.end(ctx.req.method === 'HEAD' ? undefined : body);
  };
}

function sortEntries(entries: SourceEntry[]): SourceEntry[] {
  const rank = (e: SourceEntry) => (e.stat.kind === 'directory' ? 0 : 1);
  return entries.sort((a, b) => rank(a) - rank(b) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function prefersJson(accept: string | undefined): boolean {
  if (!accept) return false;
  const json = accept.indexOf('application/json');
  if (json === -1) return false;
  const html = accept.indexOf('text/html');
  return html === -1 || json < html;
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function renderHtml(dirPath: string, entries: SourceEntry[]): string {
  const rows = entries.map((e) => {
    const dir = e.stat.kind === 'directory';
    const href = encodeURIComponent(e.name) + (dir ? '/' : '');
    const size = dir ? '-' : formatBytes(e.stat.size);
    const date = new Date(e.stat.mtimeMs).toISOString().replace('T', ' ').slice(0, 16);
    return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(e.name)}${dir ? '/' : ''}</a></td><td>${size}</td><td>${date}</td></tr>`;
  });
  const up = dirPath === '/' ? '' : '<tr><td><a href="../">../</a></td><td></td><td></td></tr>';
  const title = escapeHtml(`Index of ${dirPath}`);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em}td{padding:2px 1.5em 2px 0}td:nth-child(2){text-align:right}</style>
</head><body><h1>${title}</h1>
<table><thead><tr><th align="left">Name</th><th>Size</th><th align="left">Modified (UTC)</th></tr></thead><tbody>
${up}${rows.join('\n')}
</tbody></table></body></html>
`;
}
