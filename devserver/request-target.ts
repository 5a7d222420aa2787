/**
 * Parses the raw HTTP request target into a site path, once, before any middleware runs. Everything that can
 * smuggle a path past a later check is refused here with 400, so no middleware ever sees an ambiguous path:
 * the history of dev-server CVEs (../shared/notes/anchors.md) is one long list of a check done on one spelling
 * of a path and a file read on another.
 *
 * Rules (RFC 9112 §3.2 origin-form and absolute-form; RFC 3986 §2.1 percent-encoding, decoded exactly once):
 * - a '#' anywhere in the target: browsers never send fragments (CVE-2025-32395 used one) → 400;
 * - a raw or encoded backslash (%5c), an encoded slash (%2f, CVE-2018-3712 / CVE-2026-29087), NUL
 *   (%00, CVE-2025-11149) or malformed percent-encoding → 400;
 * - after decoding, any '.' or '..' segment (%2e%2e, CVE-2014-3744; '/./', Apache CVE-2021-41773) → 400.
 *   Double encoding ('%252e') decodes once to a literal name.
 * - empty segments are merged, as Apache's `MergeSlashes On` (its default since 2.4.39) does: '//etc/passwd' is
 *   looked up as '/etc/passwd' inside the root, so the path every later check sees is the one read on disk
 *   (CVE-2023-34092 was a check made on '//x' and a read of '/x'). Applications still see the target as sent
 *   (REQUEST_URI, the proxy): WordPress's REST routes carry ids such as 'twentytwentythree//home'.
 * The query string never takes part in path resolution ('?raw??', CVE-2025-30208).
 */
export type ParsedTarget =
  | { readonly ok: true; readonly path: string; readonly query: string; readonly rawPath: string }
  | { readonly ok: false; readonly reason: string };

const ABSOLUTE_FORM = /^https?:\/\/[^/?#]*/i;
// Characters that are refused in the raw (still encoded) path.
const RAW_FORBIDDEN = /[#\\\0]|%2f|%5c|%00/i;
const NEEDS_DECODING = /%/;
const EMPTY_SEGMENTS = /\/{2,}/g;

export function parseRequestTarget(target: string): ParsedTarget {
  let rest = target;
  if (rest[0] !== '/') {
    const absolute = ABSOLUTE_FORM.exec(rest);
    if (!absolute) return { ok: false, reason: 'request target is not a path' };
    rest = rest.slice(absolute[0].length) || '/';
    if (rest[0] !== '/') rest = `/${rest}`;
  }
  const q = rest.indexOf('?');
  const rawPath = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q + 1);
  if (RAW_FORBIDDEN.test(rawPath) || query.includes('#')) return { ok: false, reason: 'forbidden character in path' };
  let path = rawPath;
  if (NEEDS_DECODING.test(rawPath)) {
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      // URIError: malformed percent-encoding is the client's mistake, not ours.
      return { ok: false, reason: 'malformed percent-encoding' };
    }
    if (path.includes('\0') || path.includes('\\')) return { ok: false, reason: 'forbidden character in path' };
  }
  if (path.includes('//')) path = path.replace(EMPTY_SEGMENTS, '/');
  if (!segmentsAreClean(path)) return { ok: false, reason: 'dot path segment' };
  return { ok: true, path, query, rawPath };
}

/** True when no segment is '.' or '..'. */
function segmentsAreClean(path: string): boolean {
  if (!path.includes('/.')) return true;
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i];
    if (s === '.' || s === '..') return false;
  }
  return true;
}
