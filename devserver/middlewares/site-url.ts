/**
 * `--site-url`: the application is shown its production origin. The Host header becomes the production host
 * (after the DNS-rebinding check has seen the real one), and Origin/Referer headers naming the local origin are
 * turned into the production origin — WordPress compares them with its own URL (check_admin_referer(),
 * wp_validate_redirect()), so a form posted from localhost is accepted as its own. PHP, CGI and .htaccess read the
 * scheme and port through publicServerOf (site-url.ts). The way back (responses) is body-transform/site-origin.ts.
 * Nothing here makes a connection: the production host is only ever a name in headers.
 */
import type { Middleware } from '../middleware.js';
import { LOCAL } from '../locals.js';
import type { SiteUrl } from '../site-url.js';

export function presentSiteUrl(site: SiteUrl): Middleware {
  return async function presentSiteUrl(ctx, next) {
    const { headers } = ctx.req;
    const localHost = headers.host ?? `${ctx.req.socket.localAddress ?? '127.0.0.1'}:${ctx.req.socket.localPort ?? 80}`;
    const localOrigin = `http://${localHost}`;
    ctx.locals.set(LOCAL.localOrigin, localOrigin);
    ctx.locals.set(LOCAL.siteUrl, site);
    headers.host = site.host;
    if (headers.origin === localOrigin) headers.origin = site.origin;
    const referer = headers.referer;
    if (referer !== undefined && (referer === localOrigin || referer.startsWith(`${localOrigin}/`))) {
      headers.referer = site.origin + referer.slice(localOrigin.length);
    }
    await next();
  };
}
