/**
 * The production origin → the local origin, in what the application sends back (`--site-url`), as browser-sync's
 * proxy mode does (lib/server/proxy-utils.js: links in bodies, Location on redirects, cookie domains): every
 * spelling of the origin an application emits — plain, protocol-relative, JSON-escaped (`https:\/\/…`, WordPress's
 * REST and inline data) and percent-encoded (`redirect_to=https%3A%2F%2F…`) — in HTML, CSS, JS, JSON and XML
 * bodies and in the Location, Content-Location, Link, Refresh, Access-Control-Allow-Origin and Content-Security-Policy
 * headers; Set-Cookie loses a Domain that names
 * the production host (a host-only cookie of the local one instead) and, on plain-http localhost, Secure.
 * The local origin is the one the browser used (the Host it sent, kept by middlewares/site-url.ts).
 */
import type { RequestContext } from '../middleware.js';
import type { CountingResponse } from '../response.js';
import type { SiteUrl } from '../site-url.js';
import type { ResponseTransform } from './transform.js';
import { StreamRewriter, type RewriteRule, type TextStage } from './text-rewriter.js';

/** Media types whose text may carry absolute URLs. */
const REWRITTEN = /^(text\/(html|css|javascript|xml|plain)|application\/(javascript|x-javascript|ecmascript|json|[a-z0-9.+-]*\+json|xml|[a-z0-9.+-]*\+xml)|image\/svg\+xml)$/;

/** Headers that name URLs or origins: redirects, preloads, and the policies that list allowed origins. */
const URL_HEADERS = ['location', 'content-location', 'link', 'refresh', 'access-control-allow-origin', 'content-security-policy',
  'content-security-policy-report-only'] as const;

/** A host name goes on with letters, digits, '-' and '.': "www.example.com.au" is another host. */
function endsHost(code: number): boolean {
  return !((code >= 0x30 && code <= 0x39) || (code >= 0x61 && code <= 0x7a) || (code >= 0x41 && code <= 0x5a) || code === 0x2d || code === 0x2e);
}

/**
 * Every spelling of `fromHost` under one of `fromSchemes` (plain, JSON-escaped, percent-encoded, protocol-relative)
 * rewritten to `toScheme://toHost` in the same spelling.
 */
function rulesBetween(fromHost: string, fromSchemes: readonly string[], toScheme: string, toHost: string): RewriteRule[] {
  const rules: RewriteRule[] = [];
  const add = (find: string, replacement: string): void => {
    rules.push({ find, replace: () => replacement, followedBy: endsHost });
  };
  for (const scheme of fromSchemes) {
    add(`${scheme}://${fromHost}`, `${toScheme}://${toHost}`);
    add(`${scheme}:\\/\\/${fromHost}`, `${toScheme}:\\/\\/${toHost}`);
    add(`${scheme}%3A%2F%2F${encodeURIComponent(fromHost)}`, `${toScheme}%3A%2F%2F${encodeURIComponent(toHost)}`);
  }
  add(`//${fromHost}`, `//${toHost}`);
  add(`\\/\\/${fromHost}`, `\\/\\/${toHost}`);
  return rules;
}

/** Responses: the production origin, under either scheme, to the local one ('127.0.0.1:8080', plain http). */
export function originRules(site: SiteUrl, localHost: string): RewriteRule[] {
  return rulesBetween(site.host, ['https', 'http'], 'http', localHost);
}

/**
 * Request bodies: the local origin back to the production one, so that what the browser posts — a settings form
 * showing WordPress's own URL, a post whose content links to its media — is stored as it was before devmount showed
 * it rewritten (else saving Settings → General on localhost would write the local URL into siteurl).
 */
export function requestRules(site: SiteUrl, localHost: string): RewriteRule[] {
  return rulesBetween(localHost, ['http'], site.https ? 'https' : 'http', site.host);
}

/** One whole string (a header value, a query) through the rules. */
export function rewriteText(text: string, rules: readonly RewriteRule[]): string {
  const stage = new StreamRewriter(rules);
  return stage.push(text) + stage.end();
}

/** One Set-Cookie line for the local origin: Domain of the production host dropped, Secure dropped on http. */
export function localCookie(line: string, site: SiteUrl): string {
  const [pair, ...attributes] = line.split(';');
  const kept: string[] = [];
  let droppedSecure = false;
  for (const attribute of attributes) {
    const [rawName, ...rest] = attribute.split('=');
    const name = rawName.trim().toLowerCase();
    const value = rest.join('=').trim().toLowerCase().replace(/^\./, '');
    // RFC 6265 §5.2.3: a leading dot is ignored; a Domain the production host belongs to would be rejected here.
    if (name === 'domain' && (site.hostname === value || site.hostname.endsWith(`.${value}`))) continue;
    if (name === 'secure') { droppedSecure = true; continue; }
    kept.push(attribute);
  }
  // Chromium refuses SameSite=None without Secure (https://www.chromium.org/updates/same-site/): Lax is what a
  // cookie without the attribute gets, and localhost pages are all same-site.
  const attrs = droppedSecure ? kept.map((a) => (/^\s*samesite\s*=\s*none\s*$/i.test(a) ? ' SameSite=Lax' : a)) : kept;
  return [pair, ...attrs].join(';');
}

export function siteOriginTransform(site: SiteUrl): ResponseTransform {
  const rulesFor = (ctx: RequestContext): RewriteRule[] | null => {
    const local = ctx.locals.get('localOrigin');
    return local === undefined ? null : originRules(site, local.replace(/^https?:\/\//, ''));
  };
  return Object.freeze({
    name: 'siteOrigin',
    headers(ctx: RequestContext, res: CountingResponse): void {
      const rules = rulesFor(ctx);
      if (rules === null) return;
      for (const name of URL_HEADERS) {
        const value = res.getHeader(name);
        if (value === undefined) continue;
        res.setHeader(name, Array.isArray(value) ? value.map((v: string) => rewriteText(v, rules)) : rewriteText(String(value), rules));
      }
      const cookies = res.getHeader('set-cookie');
      if (cookies !== undefined) {
        const lines = Array.isArray(cookies) ? cookies : [String(cookies)];
        res.setHeader('Set-Cookie', lines.map((line: string) => localCookie(line, site)));
      }
    },
    accepts(_ctx: RequestContext, mediaType: string): boolean {
      return REWRITTEN.test(mediaType);
    },
    body(ctx: RequestContext, mediaType: string): TextStage | null {
      if (!REWRITTEN.test(mediaType)) return null;
      const rules = rulesFor(ctx);
      return rules === null ? null : new StreamRewriter(rules);
    },
  });
}
