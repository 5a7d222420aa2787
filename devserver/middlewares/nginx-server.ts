/**
 * `beforeResolve` slot: the site's nginx server block (devserver/nginx/) decides what a request becomes —
 * a file or script to serve, a redirect, an answer of its own, or a closed connection — before the path is
 * resolved; add_header and error_page statuses are applied to whatever answer follows.
 */
import type { Middleware } from '../middleware.js';
import { applyContextHeaders, sendStatus } from '../respond.js';
import { installResponseEdits } from '../htaccess/header-hook.js';
import type { HeaderEdit } from '../htaccess/config.js';
import { expiresFields, headersForStatus, runNginx, type AnswerHeaders, type NginxOutcome } from '../nginx/executor.js';
import type { ServerConfig } from '../nginx/server-config.js';
import { isHiddenPath } from './dotfiles.js';

export interface NginxServerOptions {
  readonly server: ServerConfig;
  /** Local path of the site root ($document_root), '' when the source has none. */
  readonly documentRoot: string;
}

function asEdits(answer: AnswerHeaders, status: number): readonly HeaderEdit[] {
  // expires replaces the response's Expires and Cache-Control (ngx_http_set_expires); add_header adds a field and
  // never replaces one the response already has. nginx runs them in this order.
  const expires = expiresFields(answer.expires, status, Date.now()).map(([name, value]): HeaderEdit => ({ action: 'set', name, value, always: true }));
  const added = headersForStatus(answer.headers, status).map((h): HeaderEdit => ({ action: 'add', name: h.name, value: h.value, always: true }));
  return [...expires, ...added];
}

export function nginxServer(options: NginxServerOptions): Middleware {
  const { server, documentRoot } = Object.freeze({ ...options });
  const self: Middleware = async function nginxServer(ctx, next) {
    const { req } = ctx;
    const https = 'encrypted' in req.socket && req.socket.encrypted === true;
    const outcome: NginxOutcome = await runNginx(server, {
      uri: ctx.path,
      args: ctx.query,
      requestUri: ctx.rawTarget,
      method: req.method ?? 'GET',
      host: req.headers.host ?? `${req.socket.localAddress ?? '127.0.0.1'}:${req.socket.localPort ?? 80}`,
      scheme: https ? 'https' : 'http',
      serverPort: req.socket.localPort ?? 80,
      clientIp: req.socket.remoteAddress ?? '',
      documentRoot,
    }, { stat: (path) => ctx.source.stat(path) });
    if (outcome.kind === 'close') {
      req.socket.destroy();
      return;
    }
    const forced = outcome.kind === 'serve' ? outcome.status : null;
    if (!ctx.locals.has('nginxEditsInstalled') && (outcome.headers.length > 0 || outcome.expires !== null || forced !== null)) {
      ctx.locals.set('nginxEditsInstalled', true);
      installResponseEdits(ctx.res, {
        headers: (status) => asEdits(outcome, status),
        contentType: () => null,
        ...(forced === null ? {} : { status: () => forced }),
      });
    }
    switch (outcome.kind) {
      case 'redirect':
        sendStatus(ctx, outcome.status, undefined, { Location: outcome.location });
        return;
      case 'respond':
        if (outcome.body === null) {
          sendStatus(ctx, outcome.status);
          return;
        }
        applyContextHeaders(ctx);
        ctx.res.writeHead(outcome.status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(outcome.body) });
        ctx.res.end(req.method === 'HEAD' ? undefined : outcome.body);
        return;
      case 'serve':
        // A rewrite may name a dotfile the request itself could not (denyDotfiles ran on the original path).
        if (isHiddenPath(outcome.path)) {
          sendStatus(ctx, 404);
          return;
        }
        if (outcome.path !== ctx.path || outcome.args !== ctx.query) ctx.log.debug({ from: ctx.path, to: outcome.path, query: outcome.args }, 'nginx rules');
        ctx.path = outcome.path;
        ctx.query = outcome.args;
        await next();
        return;
      default:
    }
  };
  // Response memo (middleware.ts MemoPolicy): the block's decisions read the client address (allow/deny) and the
  // Host header ($host), so no answer passing through it may be replayed.
  return Object.assign(self, { memo: { passesOn: () => false } });
}
