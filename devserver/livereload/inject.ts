/**
 * Puts the live-reload <script> into an HTML body: before the last </body> (as live-server does), else
 * appended (a fragment or a page without </body> still reloads).
 */
import { LIVERELOAD_SCRIPT_PATH } from './client.js';

export const LIVERELOAD_SNIPPET = Buffer.from(`<script src="${LIVERELOAD_SCRIPT_PATH}"></script>`);
const BODY_CLOSE = /<\/body\s*>/gi;

export function injectLiveReload(html: Buffer): Buffer {
  const text = html.toString('latin1');
  let at = -1;
  for (const m of text.matchAll(BODY_CLOSE)) at = m.index ?? at;
  if (at === -1) return Buffer.concat([html, LIVERELOAD_SNIPPET]);
  // latin1 keeps byte offsets equal to string offsets, so the original bytes (UTF-8 or not) are untouched.
  return Buffer.concat([html.subarray(0, at), LIVERELOAD_SNIPPET, html.subarray(at)]);
}
