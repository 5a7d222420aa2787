/**
 * Puts the live-reload <script> into an HTML body as it streams past: before the first `</body>`, else before
 * `</html>`, else at the end (a fragment or a page without those tags still reloads). The first closing tag rather
 * than the last, because a streamed page cannot be searched backwards; a literal "</body" inside an inline
 * script would have ended that script in the HTML parser anyway (HTML Living Standard, "script data end tag").
 */
import { LIVERELOAD_SCRIPT_PATH } from './client.js';
import type { IncomingHttpHeaders } from 'node:http';
import { rewriteWhole, StreamRewriter, type TextStage } from '../body-transform/text-rewriter.js';
import type { ResponseTransform } from '../body-transform/transform.js';
import type { RequestContext } from '../middleware.js';

export const LIVERELOAD_SNIPPET = Buffer.from(`<script src="${LIVERELOAD_SCRIPT_PATH}"></script>`);
const SNIPPET = LIVERELOAD_SNIPPET.toString('latin1');

/** A tag name ends at whitespace, '/' or '>' (HTML tokenizer, "tag name state"). */
function endsTagName(code: number): boolean {
  return code === 0x3e || code === 0x2f || code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d;
}

export function liveReloadStage(): TextStage {
  let injected = false;
  const before = (tag: string): string | null => {
    if (injected) return null;
    injected = true;
    return SNIPPET + tag;
  };
  return new StreamRewriter(
    [{ find: '</body', replace: before, followedBy: endsTagName }, { find: '</html', replace: before, followedBy: endsTagName }],
    () => (injected ? '' : SNIPPET),
  );
}

export function injectLiveReload(html: Buffer): Buffer {
  return rewriteWhole(liveReloadStage(), html);
}

/**
 * Pages a browser shows as a document: Sec-Fetch-Dest (Fetch Metadata, https://w3c.github.io/webappsec-fetch-metadata/)
 * says so when present; jQuery's X-Requested-With marks XHR from older code. An HTML fragment fetched by a script
 * (WordPress admin-ajax answers "0" or a snippet as text/html) must come back byte for byte.
 */
function isDocumentRequest(headers: IncomingHttpHeaders): boolean {
  if (headers['x-requested-with'] !== undefined) return false;
  const dest = headers['sec-fetch-dest'];
  return dest === undefined || dest === 'document' || dest === 'iframe' || dest === 'frame';
}

/** Live reload for every HTML document not already injected by send.ts (PHP, CGI, proxied and streamed pages). */
export function liveReloadTransform(): ResponseTransform {
  return Object.freeze({
    name: 'liveReload',
    accepts(ctx: RequestContext, mediaType: string): boolean {
      return mediaType === 'text/html' && ctx.locals.get('liveReload') === true && isDocumentRequest(ctx.req.headers);
    },
    body(ctx: RequestContext, mediaType: string): TextStage | null {
      if (!this.accepts(ctx, mediaType)) return null;
      ctx.locals.delete('liveReload');
      return liveReloadStage();
    },
  });
}
