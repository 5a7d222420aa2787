/**
 * Keys of RequestContext.locals shared between middlewares (including the PHP/CGI/.htaccess ones), in one
 * place so a typo cannot silently read undefined.
 */
export const LOCAL = Object.freeze({
  /** Why the request target was refused (string), set by the server before the stack runs. */
  badTarget: 'devmount.badTarget',
  /** SourceStat | null for ctx.path after resolve.ts (index file applied, symlinks checked). */
  stat: 'devmount.stat',
  /** true while the live-reload script is still to be injected into an HTML response (send.ts injects static pages
   *  itself and clears it; body-transform/ injects into every other one). */
  liveReload: 'devmount.liveReload',
  /** SiteUrl (site-url.ts) when the application is shown its production URL (--site-url). */
  siteUrl: 'devmount.siteUrl',
  /** 'http://127.0.0.1:8080': the origin the browser used, before the Host header was replaced (--site-url). */
  localOrigin: 'devmount.localOrigin',
  /** Buffer: the request body as rewritten by a middleware, sent instead of the client's (request-body.ts). */
  requestBody: 'devmount.requestBody',
  /** () => Promise<void>: re-runs the stack for ctx.path from the dotfile check on (CGI local redirects). */
  redispatch: 'devmount.redispatch',
});
