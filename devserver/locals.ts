/**
 * Keys of RequestContext.locals shared between middlewares (including the PHP/CGI/.htaccess ones), in one
 * place so a typo cannot silently read undefined.
 */
export const LOCAL = Object.freeze({
  /** Why the request target was refused (string), set by the server before the stack runs. */
  badTarget: 'devmount.badTarget',
  /** SourceStat | null for ctx.path after resolve.ts (index file applied, symlinks checked). */
  stat: 'devmount.stat',
  /** true when the live-reload script should be injected into HTML responses. */
  liveReload: 'devmount.liveReload',
  /** () => Promise<void>: re-runs the stack for ctx.path from the dotfile check on (CGI local redirects). */
  redispatch: 'devmount.redispatch',
});
