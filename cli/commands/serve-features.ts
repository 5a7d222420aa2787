/**
 * The dev server's features assembled from serve flags, in one place for `devmount serve DIR`,
 * `devmount serve user@host:/path` and `devmount mount … --serve`: the nginx server block, PHP/CGI/.htaccess/
 * proxy, application routing and the remote-only flags (each a hook: serve-routing.ts, serve-php.ts,
 * serve-remote.ts), then the options every serve shares (port, host, headers, site URL, live reload …).
 * `mount --serve` has no flags of its own for these: it is `serve` with mountServeFlags().
 */
import { UserError } from '../user-error.js';
import type { DevServerOptions } from '../../devserver/server.js';
import { mergeSlots, type Slots } from '../../devserver/stack.js';
import { parseSiteUrl, SiteUrlError, type SiteUrl } from '../../devserver/site-url.js';
import { phpServeHook } from './serve-php.js';
import { routingServeHook, serverConfigServeHook, FRONT_CONTROLLER_OFF } from './serve-routing.js';
import { remoteServeHook } from './serve-remote.js';
import { wholeNumberFlag, type ServeFlagHook, type ServeFlags, type ServeHookContext, type ServeHookResult } from './serve-flags.js';

// Order matters for the slots: each hook's middlewares follow the previous hooks' in the same slot (.htaccess
// before the front controller).
// The server config comes first: with an nginx server block in charge, .htaccess and the front controller stand aside.
export const serveFlagHooks: readonly ServeFlagHook[] = Object.freeze([serverConfigServeHook, phpServeHook, routingServeHook, remoteServeHook]);

export interface ResolvedFlags {
  readonly port: number;
  readonly strictPort: boolean;
  readonly headers: readonly (readonly [string, string])[];
  readonly pollMs: number | null;
  readonly allowedHosts: readonly string[] | 'all';
  readonly siteUrl: SiteUrl | null;
}

/** The flags every serve shares, checked once (a bad one is a usage error before anything is opened). */
export function resolveFlags(flags: ServeFlags): ResolvedFlags {
  const port = flags.port === undefined ? 8080 : wholeNumberFlag(flags.port, '--port', 0, 65535);
  const headers = flags.header.map((h): readonly [string, string] => {
    const colon = h.indexOf(':');
    const name = colon > 0 ? h.slice(0, colon).trim() : '';
    // RFC 9110 §5.1 token characters; values must not carry CR/LF (header injection).
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(h)) {
      throw new UserError('usage', `--header "${h}" is not NAME:VALUE (example: --header "X-Frame-Options: DENY")`);
    }
    return [name, h.slice(colon + 1).trim()];
  });
  const pollMs = flags.poll === undefined ? null : wholeNumberFlag(flags.poll, '--poll', 50, 3_600_000);
  const allowedHosts = flags.allowedHost.includes('all') ? 'all' : flags.allowedHost.map((h) => h.toLowerCase());
  return Object.freeze({ port, strictPort: flags.port !== undefined, headers, pollMs, allowedHosts, siteUrl: siteUrlFlag(flags.siteUrl) });
}

function siteUrlFlag(value: string | undefined): SiteUrl | null {
  if (value === undefined) return null;
  try {
    return parseSiteUrl(value);
  } catch (err) {
    if (err instanceof SiteUrlError) throw new UserError('usage', `--site-url: ${err.message}`);
    throw err;
  }
}

/**
 * The dev server's options from the flags, the same for a local site, a remote one and a mount's: the hooks'
 * features first, then what every serve shares. The hooks' closers (PHP workers, .htaccess watchers) are in
 * the result's `closers`, released with the server.
 */
export async function assembleServeFeatures(flags: ServeFlags, resolved: ResolvedFlags, context: ServeHookContext): Promise<Omit<DevServerOptions, 'source'>> {
  const siteUrl = resolved.siteUrl ?? context.site?.siteUrl;
  const extra = await resolveHooks(flags, context);
  return {
    ...extra,
    logger: context.log,
    host: flags.host,
    port: resolved.port,
    strictPort: resolved.strictPort,
    allowedHosts: resolved.allowedHosts,
    cors: flags.cors ?? false,
    headers: resolved.headers,
    liveReload: flags.livereload,
    // --site-url wins over the URL detected from a remote site's database (cli/remote-serve.ts).
    ...(siteUrl !== undefined ? { siteUrl } : {}),
    spa: flags.spa ?? false,
    listing: flags.listing,
    followSymlinks: flags.followSymlinks ?? false,
  };
}

/** Every hook's extras; slots and closers add up in hook order (a later hook's middlewares follow in a slot). */
export async function resolveHooks(flags: ServeFlags, context: ServeHookContext): Promise<Partial<DevServerOptions>> {
  let extra: Partial<DevServerOptions> = {};
  let slots: Slots = {};
  let closers: NonNullable<DevServerOptions['closers']> = [];
  let current = context;
  try {
    for (const hook of serveFlagHooks) {
      const added = await hook.resolve(flags, current);
      if (added.routedBy !== undefined) current = { ...current, routedBy: added.routedBy };
      extra = { ...extra, ...added };
      slots = mergeSlots(slots, added.slots ?? {});
      closers = [...closers, ...(added.closers ?? [])];
    }
  } catch (err) {
    // A later hook's bad flag must not leave an earlier hook's PHP workers running.
    await Promise.allSettled(closers.map(async (close) => close()));
    throw err;
  }
  const { routedBy: _routedBy, ...options } = extra as ServeHookResult;
  return { ...options, slots, closers };
}

/**
 * `mount --serve[=PORT]` as serve flags: `devmount serve`'s defaults (PHP when the root has .php files,
 * .htaccess, live reload, listings), on the given port. The mount command has no --front-controller or
 * --no-server-config to turn routing off again, so neither is guessed: no front-controller detection and no
 * nginx server block.
 */
export function mountServeFlags(serve: { readonly port: number; readonly strictPort: boolean }): ServeFlags {
  return Object.freeze({
    host: '127.0.0.1', listing: true, header: [], livereload: true, allowedHost: [], logFormat: 'json' as const,
    cgi: [], proxy: [], htaccess: true, frontController: FRONT_CONTROLLER_OFF, serverConfig: false,
    ...(serve.strictPort ? { port: String(serve.port) } : {}),
  });
}
