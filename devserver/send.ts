/**
 * Sends one file: one job, like Vite's send.ts. Validators (ETag, Last-Modified → 304, RFC 9110 §13),
 * single byte ranges (206/416, If-Range, RFC 9110 §14), content coding (precompressed .br/.gz siblings,
 * else on-the-fly gzip/brotli for text), `Cache-Control: no-cache` (always revalidate, so edits are seen at
 * once while an unchanged file costs a 304), HEAD.
 *
 * Small files are sent from memory. Everything derived from a file's bytes (ETag, headers, live-reload
 * injection, compressed variants) is memoised in a WeakMap keyed by the Buffer the cached source returned:
 * when the cache drops that Buffer after a watch event, the derived data goes with it, so there is no second
 * cache to invalidate.
 */
import { lookup as mimeLookup } from 'mime-types';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream';
import type { SourceStat } from './file-source.js';
import type { RequestContext } from './middleware.js';
import { applyContextHeaders, sendStatus } from './respond.js';
import { COMPRESS_MIN_BYTES, compressBuffer, compressStream, isCompressible, negotiateCoding, type Coding } from './compression.js';
import { injectLiveReload } from './livereload/inject.js';
import { memoEntry } from './response-memo.js';

export interface SendOptions {
  /** Files up to this size are read whole (and cached by a caching source); larger ones are streamed. */
  readonly maxInMemoryBytes: number;
  readonly liveReload: boolean;
}

interface Representation {
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified: string;
  readonly contentType: string;
  readonly compressible: boolean;
  /** The live-reload script is in `body` already (body-transform/ must not add it again). */
  readonly injected: boolean;
  readonly variants: Map<Coding, Promise<Buffer>>;
  /** The complete header list of the plain 200 answer, built once (no per-request allocation). */
  readonly identityHeaders: readonly string[];
}

const representations = new WeakMap<Buffer, Representation>();

export function contentTypeFor(path: string): string {
  const type = mimeLookup(path);
  if (!type) return 'application/octet-stream';
  return type.startsWith('text/') || type === 'application/javascript' || type === 'application/json'
    || type === 'image/svg+xml' ? `${type}; charset=utf-8` : type;
}

function etagFor(stat: SourceStat, suffix: string): string {
  return `"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}${suffix}"`;
}

function isHtml(contentType: string): boolean {
  return contentType.startsWith('text/html');
}

export async function sendFile(ctx: RequestContext, path: string, stat: SourceStat, options: SendOptions): Promise<void> {
  const coding = negotiateCoding(ctx.req.headers['accept-encoding'] as string | undefined);
  const range = ctx.req.headers.range;
  if (coding && !range) {
    const sibling = `${path}.${coding === 'br' ? 'br' : 'gz'}`;
    const siblingStat = await ctx.source.stat(sibling);
    if (siblingStat?.kind === 'file') {
      return sendPrecompressed(ctx, path, sibling, siblingStat, coding, options);
    }
  }
  if (stat.size > options.maxInMemoryBytes) return sendStreamed(ctx, path, stat, coding);
  const data = await ctx.source.readFile(path);
  let rep = representations.get(data);
  if (!rep) {
    const contentType = contentTypeFor(path);
    const inject = options.liveReload && isHtml(contentType);
    const body = inject ? injectLiveReload(data) : data;
    const etag = etagFor(stat, inject ? '-lr' : '');
    const lastModified = new Date(stat.mtimeMs).toUTCString();
    rep = {
      body,
      etag,
      lastModified,
      contentType,
      compressible: isCompressible(contentType),
      injected: inject,
      variants: new Map(),
      identityHeaders: fileHeaders({ etag, lastModified, contentType, contentLength: body.length }),
    };
    representations.set(data, rep);
  }
  if (rep.injected) ctx.locals.delete('liveReload');
  return sendRepresentation(ctx, rep, coding);
}

async function sendRepresentation(ctx: RequestContext, rep: Representation, coding: Coding | null): Promise<void> {
  const { req, res } = ctx;
  applyContextHeaders(ctx);
  const size = rep.body.length;
  const rangeHeader = req.headers.range;
  const compress = coding !== null && rep.compressible && size >= COMPRESS_MIN_BYTES && rangeHeader === undefined;
  // A strong ETag names one representation (RFC 9110 §8.8.3): the compressed bytes get their own.
  const etag = compress ? `${rep.etag.slice(0, -1)}-${coding}"` : rep.etag;
  if (!compress && rangeHeader === undefined && req.headers['if-none-match'] === undefined
    && req.headers['if-modified-since'] === undefined) {
    // The common case, answered from headers built once per file version.
    res.writeHead(200, rep.identityHeaders as string[]);
    res.end(req.method === 'HEAD' ? undefined : rep.body);
    offerToMemo(ctx, rep.identityHeaders, rep.body, etag, rep.lastModified);
    return;
  }
  const validators = { etag, lastModified: rep.lastModified };
  if (isNotModified(req.headers, etag, rep.lastModified)) {
    res.writeHead(304, fileHeaders(validators));
    res.end();
    return;
  }
  if (rangeHeader && ifRangeMatches(headerValue(req.headers['if-range']), etag, rep.lastModified)) {
    const r = parseRange(rangeHeader, size);
    if (r === 'unsatisfiable') {
      res.writeHead(416, fileHeaders({ ...validators, contentType: 'text/plain; charset=utf-8', contentRange: `bytes */${size}`, contentLength: 0 }));
      res.end();
      return;
    }
    if (r) {
      res.writeHead(206, fileHeaders({ ...validators, contentType: rep.contentType, contentRange: `bytes ${r.start}-${r.end}/${size}`,
        contentLength: r.end - r.start + 1 }));
      res.end(req.method === 'HEAD' ? undefined : rep.body.subarray(r.start, r.end + 1));
      return;
    }
  }
  if (compress) {
    let variant = rep.variants.get(coding);
    if (!variant) {
      variant = compressBuffer(rep.body, coding);
      rep.variants.set(coding, variant);
    }
    const body = await variant;
    const head = fileHeaders({ ...validators, contentType: rep.contentType, contentEncoding: coding, contentLength: body.length });
    res.writeHead(200, head);
    res.end(req.method === 'HEAD' ? undefined : body);
    offerToMemo(ctx, head, body, etag, rep.lastModified);
    return;
  }
  res.writeHead(200, rep.identityHeaders as string[]);
  res.end(req.method === 'HEAD' ? undefined : rep.body);
}

/** What distinguishes one file answer's head; a field left out is not sent. */
interface FileHead {
  readonly etag: string;
  readonly lastModified: string;
  /** Default true; false where Range is never honoured (precompressed siblings). */
  readonly acceptRanges?: boolean;
  readonly contentType?: string;
  readonly contentEncoding?: Coding;
  readonly contentRange?: string;
  /** Left out for an on-the-fly compressed stream, whose length is not known before it is sent. */
  readonly contentLength?: number;
}

/**
 * The header list of every file answer (200, 206, 304, 416), as writeHead takes it. The validators and
 * `Cache-Control: no-cache` (always revalidate) come first, so a 304 is the same head cut short: a 304 carries the
 * fields a 200 would have sent that describe the representation's validators and caching (RFC 9110 §15.4.5).
 */
function fileHeaders(f: FileHead): string[] {
  const head = ['ETag', f.etag, 'Last-Modified', f.lastModified, 'Cache-Control', 'no-cache', 'Vary', 'Accept-Encoding'];
  if (f.acceptRanges !== false) head.push('Accept-Ranges', 'bytes');
  if (f.contentType !== undefined) head.push('Content-Type', f.contentType);
  if (f.contentEncoding !== undefined) head.push('Content-Encoding', f.contentEncoding);
  if (f.contentRange !== undefined) head.push('Content-Range', f.contentRange);
  if (f.contentLength !== undefined) head.push('Content-Length', String(f.contentLength));
  return head;
}

/** Hands a whole 200 answer to the response memo (response-memo.ts) when the memo replay started a recorder for it (middlewares/memo-replay.ts). */
function offerToMemo(ctx: RequestContext, head: readonly string[], body: Buffer, etag: string, lastModified: string): void {
  const recorder = ctx.locals.get('memoRecorder');
  if (recorder === undefined) return;
  recorder.offer(memoEntry(ctx.headers, head, fileHeaders({ etag, lastModified }), body, etag, lastModified));
}

async function sendPrecompressed(ctx: RequestContext, path: string, sibling: string, siblingStat: SourceStat,
  coding: Coding, options: SendOptions): Promise<void> {
  const { req, res } = ctx;
  const etag = etagFor(siblingStat, `-${coding}`);
  const lastModified = new Date(siblingStat.mtimeMs).toUTCString();
  applyContextHeaders(ctx);
  const validators = { etag, lastModified, acceptRanges: false };
  if (isNotModified(req.headers, etag, lastModified)) {
    res.writeHead(304, fileHeaders(validators));
    res.end();
    return;
  }
  res.writeHead(200, fileHeaders({ ...validators, contentType: contentTypeFor(path), contentEncoding: coding, contentLength: siblingStat.size }));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  if (siblingStat.size <= options.maxInMemoryBytes) {
    res.end(await ctx.source.readFile(sibling));
    return;
  }
  pipeStream(ctx, ctx.source.createReadStream(sibling));
}

function sendStreamed(ctx: RequestContext, path: string, stat: SourceStat, coding: Coding | null): void {
  const { req, res } = ctx;
  const etag = etagFor(stat, '');
  const lastModified = new Date(stat.mtimeMs).toUTCString();
  const contentType = contentTypeFor(path);
  applyContextHeaders(ctx);
  const rangeHeader = req.headers.range;
  const compress = coding !== null && isCompressible(contentType) && rangeHeader === undefined;
  const responseEtag = compress ? `${etag.slice(0, -1)}-${coding}"` : etag;
  const validators = { etag: responseEtag, lastModified };
  if (isNotModified(req.headers, responseEtag, lastModified)) {
    res.writeHead(304, fileHeaders(validators));
    res.end();
    return;
  }
  if (rangeHeader && ifRangeMatches(headerValue(req.headers['if-range']), etag, lastModified)) {
    const r = parseRange(rangeHeader, stat.size);
    if (r === 'unsatisfiable') {
      sendStatus(ctx, 416, undefined, { 'Content-Range': `bytes */${stat.size}` });
      return;
    }
    if (r) {
      res.writeHead(206, fileHeaders({ ...validators, contentType, contentRange: `bytes ${r.start}-${r.end}/${stat.size}`,
        contentLength: r.end - r.start + 1 }));
      if (req.method === 'HEAD') res.end();
      else pipeStream(ctx, ctx.source.createReadStream(path, r));
      return;
    }
  }
  if (compress && coding) {
    res.writeHead(200, fileHeaders({ ...validators, contentType, contentEncoding: coding }));
    if (req.method === 'HEAD') res.end();
    else pipeStream(ctx, ctx.source.createReadStream(path), compressStream(coding));
    return;
  }
  res.writeHead(200, fileHeaders({ ...validators, contentType, contentLength: stat.size }));
  if (req.method === 'HEAD') res.end();
  else pipeStream(ctx, ctx.source.createReadStream(path));
}

function pipeStream(ctx: RequestContext, input: Readable, transform?: NodeJS.ReadWriteStream): void {
  const done = (err: NodeJS.ErrnoException | null) => {
    // The client hanging up mid-body is normal; anything else is logged. The response is already
    // committed, so pipeline's destroy of res is the only possible answer.
    if (err && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') ctx.log.warn({ err: err.message }, 'stream failed');
  };
  if (transform) pipeline(input, transform, ctx.res, done);
  else pipeline(input, ctx.res, done);
}

type Headers = import('node:http').IncomingHttpHeaders;

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** RFC 9110 §13.1.2/§13.1.3: If-None-Match (weak comparison) wins over If-Modified-Since. */
export function isNotModified(headers: Headers, etag: string, lastModified: string): boolean {
  const inm = headers['if-none-match'];
  if (inm !== undefined) {
    if (inm.trim() === '*') return true;
    const opaque = etag.replace(/^W\//, '');
    return inm.split(',').some((t) => t.trim().replace(/^W\//, '') === opaque);
  }
  const ims = headers['if-modified-since'];
  if (ims !== undefined) {
    const since = Date.parse(ims);
    return !Number.isNaN(since) && Date.parse(lastModified) <= since;
  }
  return false;
}

/** RFC 9110 §13.1.5: If-Range needs a strong match of the ETag or an exact Last-Modified date. */
function ifRangeMatches(ifRange: string | undefined, etag: string, lastModified: string): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return v === etag;
  return v === lastModified;
}

/**
 * One range of `bytes=` (RFC 9110 §14.1.2). Several ranges are answered with the whole body (allowed by
 * §14.2: a server may ignore Range); null means "ignore the header".
 */
export function parseRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return null;
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return null;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}
