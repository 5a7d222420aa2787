/**
 * `--proxy PREFIX=URL` routes: parsed and validated once at start-up, matched on whole path segments.
 */
export interface ProxyRoute {
  /** Site path prefix without a trailing slash ('/api'), or '' for everything. */
  readonly prefix: string;
  readonly target: URL;
}

export class ProxySpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxySpecError';
  }
}

export function parseProxySpec(spec: string): ProxyRoute {
  const eq = spec.indexOf('=');
  if (eq === -1) throw new ProxySpecError(`--proxy ${spec}: expected PREFIX=URL, e.g. /api=http://127.0.0.1:3000`);
  const prefix = spec.slice(0, eq).replace(/\/+$/, '');
  const url = spec.slice(eq + 1);
  if (!spec.startsWith('/')) throw new ProxySpecError(`--proxy ${spec}: the prefix must start with '/'`);
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    throw new ProxySpecError(`--proxy ${spec}: ${JSON.stringify(url)} is not a URL`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new ProxySpecError(`--proxy ${spec}: only http:// and https:// upstreams are supported`);
  }
  return Object.freeze({ prefix, target });
}

/** The longest matching prefix wins, so /api/v2=… can override /api=…. */
export function matchRoute(routes: readonly ProxyRoute[], path: string): ProxyRoute | null {
  let best: ProxyRoute | null = null;
  for (const route of routes) {
    const matches = route.prefix === '' || path === route.prefix || path.startsWith(`${route.prefix}/`);
    if (matches && (best === null || route.prefix.length > best.prefix.length)) best = route;
  }
  return best;
}

/**
 * The upstream request target: the client's raw target (encoding preserved) is kept whole when the upstream URL
 * has no path, else the prefix is replaced by that path ('/api/x' with /api=http://h/v1 → '/v1/x').
 */
export function upstreamTarget(route: ProxyRoute, rawTarget: string): string {
  const basePath = route.target.pathname.replace(/\/+$/, '');
  if (basePath === '') return rawTarget;
  const rest = rawTarget.startsWith(route.prefix) ? rawTarget.slice(route.prefix.length) : rawTarget;
  return basePath + (rest.startsWith('/') || rest.startsWith('?') || rest === '' ? rest : `/${rest}`);
}
