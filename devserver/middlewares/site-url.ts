/**
 * `--site-url`: the application is shown its production origin. The Host header becomes the production host
 * (after the DNS-rebinding check has seen the real one), and Origin/Referer headers naming the local origin are
 * turned into the production origin — WordPress compares them with its own URL (check_admin_referer(),
 * wp_validate_redirect()), so a form posted from localhost is accepted as its own. The query string and form and
 * JSON bodies get the local origin turned back into the production one too (body-transform/site-origin.ts requestRules), so what was
 * shown rewritten is stored as it was. PHP, CGI and .htaccess read the scheme and port through publicServerOf
 * (site-url.ts). The way back (responses) is body-transform/site-origin.ts.
 * Nothing here makes a connection: the production host is only ever a name in headers.
 */
import type { IncomingMessage } from 'node:http';
import type { Middleware } from '../middleware.js';
import { sendStatus } from '../respond.js';
import type { SiteUrl } from '../site-url.js';
import { readWholeBody, replaceRequestBody } from '../request-body.js';
import { requestRules, rewriteText } from '../body-transform/site-origin.js';
import { rewriteWhole, StreamRewriter } from '../body-transform/text-rewriter.js';
import { mediaTypeOf } from '../body-transform/transform.js';

/** Bodies made of text a browser fills in: forms, JSON (the block editor, REST), text. Uploads (multipart) pass as they are. */
const TEXT_BODY = /^(application\/(x-www-form-urlencoded|json|[a-z0-9.+-]*\+json)|text\/plain)$/;

/** Such bodies are read whole to be rewritten; past this they are refused rather than passed half-rewritten. */
const MAX_REWRITTEN_BODY_BYTES = 16 << 20;

function rewritableBody(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  if (type === undefined || !TEXT_BODY.test(mediaTypeOf(type))) return false;
  return req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
}

export function presentSiteUrl(site: SiteUrl): Middleware {
  return async function presentSiteUrl(ctx, next) {
    const { req } = ctx;
    const { headers } = req;
    const localHost = headers.host ?? `${req.socket.localAddress ?? '127.0.0.1'}:${req.socket.localPort ?? 80}`;
    const localOrigin = `http://${localHost}`;
    ctx.locals.set('localOrigin', localOrigin);
    ctx.locals.set('siteUrl', site);
    headers.host = site.host;
    if (headers.origin === localOrigin) headers.origin = site.origin;
    const referer = headers.referer;
    if (referer !== undefined && (referer === localOrigin || referer.startsWith(`${localOrigin}/`))) {
      headers.referer = site.origin + referer.slice(localOrigin.length);
    }
    // The query too (redirect_to=, the Customizer's url=): $_GET holds what the page was built from. REQUEST_URI
    // stays as sent, as it does after an .htaccess rewrite.
    const back = requestRules(site, localHost);
    if (ctx.query !== '') ctx.query = rewriteText(ctx.query, back);
    if (rewritableBody(req)) {
      const body = Number(headers['content-length'] ?? 0) > MAX_REWRITTEN_BODY_BYTES ? null : await readWholeBody(req, MAX_REWRITTEN_BODY_BYTES);
      if (body === null) {
        sendStatus(ctx, 413, `form and JSON bodies above ${MAX_REWRITTEN_BODY_BYTES >> 20} MiB are not accepted with --site-url`);
        return;
      }
      replaceRequestBody(ctx, rewriteWhole(new StreamRewriter(back), body));
    }
    await next();
  };
}
