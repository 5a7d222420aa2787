/**
 * The CGI/1.1 meta-variables for one request (RFC 3875 §4.1), plus what php-cgi needs on top
 * (SCRIPT_FILENAME, REQUEST_URI, DOCUMENT_ROOT, REDIRECT_STATUS). Pure: no I/O, so it is tested on its own and
 * shared by the per-request runner and the FastCGI client (FastCGI PARAMS carry the same variables).
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface CgiRequestFacts {
  readonly method: string;
  /** The original request target as the client sent it, path and query ('/blog/?p=1'). */
  readonly requestUri: string;
  /** Raw query string, without '?'. */
  readonly query: string;
  readonly headers: IncomingHttpHeaders;
  readonly httpVersion: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly serverName: string;
  readonly serverPort: number;
  readonly https: boolean;
  /** SERVER_SOFTWARE (SERVER_SOFTWARE or APACHE_COMPATIBLE_SOFTWARE). */
  readonly serverSoftware: string;
  /** The request id of the logs and the X-Request-Id response header; given to the script (see buildCgiEnv). */
  readonly requestId?: string;
}

export interface CgiScriptFacts {
  /** Site path of the script ('/index.php'). */
  readonly scriptName: string;
  /** Absolute local path of the script file. */
  readonly scriptFilename: string;
  /** Extra path after the script name, already checked to stay inside the site ('' when none). */
  readonly pathInfo: string;
  /** Absolute local path of the site root. */
  readonly documentRoot: string;
}

export const SERVER_SOFTWARE = 'devmount';
/**
 * SERVER_SOFTWARE while .htaccess files are honoured. Applications decide from this name whether the server
 * reads .htaccess rewrite rules: WordPress's `$is_apache` (wp-includes/vars.php) looks for "Apache" or
 * "LiteSpeed", and only then does got_mod_rewrite() say yes, pretty permalinks get chosen at install and
 * Settings → Permalinks writes .htaccess. The "(devmount)" comment keeps the real server visible, as Apache's
 * own ServerTokens Full comment does.
 */
export const APACHE_COMPATIBLE_SOFTWARE = 'Apache/2.4 (devmount)';

/**
 * Request headers never passed to a script:
 * - `Proxy` would become HTTP_PROXY, which many HTTP libraries read as their outgoing proxy (httpoxy,
 *   CVE-2016-5385 and friends, https://httpoxy.org).
 * - `Redirect-Status` would become HTTP_REDIRECT_STATUS; php-cgi's force-redirect check accepts it as proof that
 *   the request came through the web server (GHSA-94p6-54jq-9mwp), so a client must not be able to send it.
 * - Content-Type/Content-Length have their own meta-variables (RFC 3875 §4.1.2/§4.1.3).
 */
const DROPPED_HEADERS: ReadonlySet<string> = new Set(['proxy', 'redirect-status', 'content-type', 'content-length']);

/** RFC 3875 §4.1.18: HTTP_ + upper-cased name with '-' replaced by '_'. Names with other characters are dropped
 *  because two distinct headers must never map to the same variable (e.g. "X_Foo" vs "X-Foo"). */
function headerVariableName(name: string): string | null {
  const known = variableNames.get(name);
  if (known !== undefined) return known;
  const variable = /^[A-Za-z0-9-]+$/.test(name) ? `HTTP_${name.toUpperCase().replace(/-/g, '_')}` : null;
  // Every request repeats the same dozen names; bounded, so a client inventing names cannot grow it.
  if (variableNames.size < MAX_KNOWN_NAMES) variableNames.set(name, variable);
  return variable;
}

const MAX_KNOWN_NAMES = 512;
const variableNames = new Map<string, string | null>();

export function buildCgiEnv(request: CgiRequestFacts, script: CgiScriptFacts,
  extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_SOFTWARE: request.serverSoftware,
    SERVER_NAME: request.serverName,
    SERVER_PORT: String(request.serverPort),
    SERVER_PROTOCOL: `HTTP/${request.httpVersion}`,
    REQUEST_METHOD: request.method,
    REQUEST_URI: request.requestUri,
    QUERY_STRING: request.query,
    SCRIPT_NAME: script.scriptName,
    SCRIPT_FILENAME: script.scriptFilename,
    DOCUMENT_ROOT: script.documentRoot,
    REMOTE_ADDR: request.remoteAddress,
    REMOTE_PORT: String(request.remotePort),
    // php-cgi refuses to run without it when cgi.force_redirect is on (the Debian default): it proves the
    // request came through a server, not a direct CGI call (php.ini "cgi.force_redirect").
    REDIRECT_STATUS: '200',
  };
  if (script.pathInfo !== '') {
    env.PATH_INFO = script.pathInfo;
    // RFC 3875 §4.1.6: PATH_INFO mapped through the server's document root.
    env.PATH_TRANSLATED = script.documentRoot.replace(/\/+$/, '') + script.pathInfo;
  }
  if (request.https) env.HTTPS = 'on';
  // Apache's REQUEST_SCHEME (mod_core, 2.4): frameworks read it to build absolute URLs.
  env.REQUEST_SCHEME = request.https ? 'https' : 'http';
  const contentType = request.headers['content-type'];
  if (contentType !== undefined) env.CONTENT_TYPE = contentType;
  const contentLength = request.headers['content-length'];
  if (contentLength !== undefined) env.CONTENT_LENGTH = contentLength;
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || DROPPED_HEADERS.has(name)) continue;
    const variable = headerVariableName(name);
    if (variable === null) continue;
    // RFC 3875 §4.1.18: repeated headers are joined with ', ' (cookies with '; ', as PHP expects).
    env[variable] = Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value;
  }
  if (request.requestId !== undefined) {
    // The id the server logs under, also when it generated it or refused the client's (context.ts): a script's
    // own log lines can then be matched with ours. UNIQUE_ID is Apache mod_unique_id's name, which frameworks read.
    env.HTTP_X_REQUEST_ID = request.requestId;
    env.UNIQUE_ID = request.requestId;
  }
  for (const [name, value] of Object.entries(extra)) {
    // Variables set by RewriteRule [E=…] (e.g. WordPress's HTTP_AUTHORIZATION); they never override the
    // security-relevant ones above.
    if (name === 'REDIRECT_STATUS' || name === 'HTTP_PROXY') continue;
    env[name] = value;
  }
  return env;
}
