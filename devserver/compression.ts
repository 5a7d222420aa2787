/**
 * Content-coding decisions: which types are worth compressing, which coding the client takes
 * (Accept-Encoding, RFC 9110 §12.5.3), and the compressors. Brotli at quality 5 and gzip at level 6: for a dev
 * server the result is cached per file version, so ratio matters less than not stalling the first request.
 */
import { constants as zlibConstants, createBrotliCompress, createGzip, brotliCompress, gzip, type Zlib } from 'node:zlib';
import { promisify } from 'node:util';
import type { Transform } from 'node:stream';

export type Coding = 'br' | 'gzip';

/** Bodies smaller than this are sent as they are: the headers would eat the gain. */
export const COMPRESS_MIN_BYTES = 1024;

const COMPRESSIBLE = /^(text\/|application\/(javascript|ecmascript|json|ld\+json|manifest\+json|xml|xhtml\+xml|rss\+xml|atom\+xml|wasm|x-javascript)|image\/svg\+xml|image\/x-icon|font\/(ttf|otf))/;

export function isCompressible(contentType: string): boolean {
  return COMPRESSIBLE.test(contentType);
}

/** The preferred coding the client accepts with q > 0: br, then gzip; null for identity. */
export function negotiateCoding(acceptEncoding: string | undefined): Coding | null {
  if (!acceptEncoding) return null;
  let br = false;
  let gz = false;
  for (const part of acceptEncoding.split(',')) {
    const [tokenRaw, ...params] = part.split(';');
    const token = tokenRaw.trim().toLowerCase();
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (q !== undefined && !(Number(q.slice(2)) > 0)) continue;
    if (token === 'br') br = true;
    else if (token === 'gzip' || token === 'x-gzip') gz = true;
    else if (token === '*') { br = true; gz = true; }
  }
  return br ? 'br' : gz ? 'gzip' : null;
}

const brotliAsync = promisify(brotliCompress);
const gzipAsync = promisify(gzip);
const BROTLI_PARAMS = { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5 } };

export function compressBuffer(data: Buffer, coding: Coding): Promise<Buffer> {
  return coding === 'br' ? brotliAsync(data, BROTLI_PARAMS) : gzipAsync(data, { level: 6 });
}

/** A compressing stream; Zlib's flush() lets a streamed response push out what it has (body-transform/body-pipe.ts). */
export function compressStream(coding: Coding): Transform & Zlib {
  return coding === 'br' ? createBrotliCompress(BROTLI_PARAMS) : createGzip({ level: 6 });
}
