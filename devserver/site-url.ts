/**
 * The site's production URL (`--site-url https://www.example.com`, or detected by the caller from the
 * application's own configuration) and what a request looks like to the application when it is set: PHP, CGI and
 * .htaccess see the production host, scheme and port (so the application builds its own URLs and never redirects
 * to production), while devmount rewrites that origin back to the local one in what goes out
 * (body-transform/site-origin.ts).
 */
import type { IncomingMessage } from 'node:http';
import type { RequestContext } from './middleware.js';

export interface SiteUrl {
  /** 'https://www.example.com' — scheme, host and a non-default port; no path. */
  readonly origin: string;
  readonly https: boolean;
  /** 'www.example.com' (an IPv6 literal without brackets). */
  readonly hostname: string;
  /** The Host header the application sees: hostname, plus ':port' when not the scheme's default. */
  readonly host: string;
  readonly port: number;
}

export class SiteUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SiteUrlError';
  }
}

/** Parses an absolute http(s) URL; a path, query or credentials are refused, so nothing is silently dropped. */
export function parseSiteUrl(text: string): SiteUrl {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new SiteUrlError(`"${text}" is not a URL (example: https://www.example.com)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SiteUrlError(`"${text}" is not an http or https URL`);
  if (url.username !== '' || url.password !== '') throw new SiteUrlError(`"${text}" carries credentials; give only scheme and host`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    throw new SiteUrlError(`"${text}" has a path or query; give only scheme and host (example: https://www.example.com)`);
  }
  const https = url.protocol === 'https:';
  return Object.freeze({
    origin: url.origin,
    https,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    host: url.host,
    port: url.port === '' ? (https ? 443 : 80) : Number(url.port),
  });
}

/** Host, scheme and port of the server as the application must see them for this request. */
export interface PublicServer {
  /** Host header value. */
  readonly host: string;
  readonly serverName: string;
  readonly serverPort: number;
  readonly https: boolean;
}

/** The production site when --site-url is set (middlewares/site-url.ts), else the connection's own facts. */
export function publicServerOf(ctx: RequestContext): PublicServer {
  const site = ctx.locals.get('siteUrl');
  if (site !== undefined) return { host: site.host, serverName: site.hostname, serverPort: site.port, https: site.https };
  const { req } = ctx;
  const socket = req.socket;
  const host = req.headers.host ?? `${socket.localAddress ?? 'localhost'}:${socket.localPort ?? 80}`;
  return { host, serverName: hostnameOf(req.headers.host, socket.localAddress ?? 'localhost'), serverPort: socket.localPort ?? 80, https: isEncrypted(req) };
}

function isEncrypted(req: IncomingMessage): boolean {
  return 'encrypted' in req.socket && req.socket.encrypted === true;
}

/** "[::1]:8080" → "::1"; "example.test:8080" → "example.test". */
function hostnameOf(hostHeader: string | undefined, fallback: string): string {
  if (hostHeader === undefined || hostHeader === '') return fallback;
  const bracketed = /^\[([^\]]+)\]/.exec(hostHeader);
  if (bracketed !== null) return bracketed[1] ?? fallback;
  return hostHeader.replace(/:\d+$/, '');
}
