/**
 * What a response transform is, and the per-request interceptor that runs the configured ones
 * (middlewares/rewrite-responses.ts installs it; response.ts calls it when the head is written).
 *
 * One pass decides everything once the status and headers are final: each transform may edit headers, and offers
 * a text stage for the body when it wants this media type. When at least one does, the body goes through a
 * BodyPipe: the upstream's content coding undone, the stages applied in order, the client's coding applied, and
 * the length recomputed (or dropped for a streamed body).
 */
import type { RequestContext } from '../middleware.js';
import type { CountingResponse, InterceptedBody, ResponseInterceptor } from '../response.js';
import { isCompressible, negotiateCoding } from '../compression.js';
import { BodyPipe, upstreamCodingOf } from './body-pipe.js';
import { chainStages, type TextStage } from './text-rewriter.js';

export interface ResponseTransform {
  readonly name: string;
  /** Edits this response's headers (status and headers final); called for every response of the request. */
  headers?(ctx: RequestContext, res: CountingResponse, status: number): void;
  /** Whether body() may offer a stage for this media type (lower-case, without parameters); no side effects. */
  accepts(ctx: RequestContext, mediaType: string): boolean;
  /** The stage this transform applies to the body, or null. */
  body(ctx: RequestContext, mediaType: string): TextStage | null;
}

/** Responses that carry no body to rewrite (RFC 9110 §6.4.1: 1xx, 204, 304; a 206 is a slice of one). */
function bodyless(ctx: RequestContext, status: number): boolean {
  return ctx.req.method === 'HEAD' || status < 200 || status === 204 || status === 206 || status === 304;
}

function headerText(value: number | string | readonly string[] | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : String(value);
}

export function mediaTypeOf(contentType: string): string {
  return contentType.split(';', 1)[0].trim().toLowerCase();
}

export class TransformInterceptor implements ResponseInterceptor {
  private readonly editsHeaders: boolean;

  constructor(private readonly ctx: RequestContext, private readonly transforms: readonly ResponseTransform[]) {
    this.editsHeaders = transforms.some((t) => t.headers !== undefined);
  }

  declines(contentType: string): boolean {
    if (this.editsHeaders) return false;
    const mediaType = mediaTypeOf(contentType);
    return !this.transforms.some((t) => t.accepts(this.ctx, mediaType));
  }

  intercept(res: CountingResponse, status: number): InterceptedBody | null {
    const { ctx } = this;
    for (const t of this.transforms) t.headers?.(ctx, res, status);
    const contentType = headerText(res.getHeader('content-type'));
    if (contentType === '') return null;
    const stages: TextStage[] = [];
    for (const t of this.transforms) {
      const stage = t.body(ctx, mediaTypeOf(contentType));
      if (stage !== null) stages.push(stage);
    }
    if (stages.length === 0) return null;
    if (bodyless(ctx, status)) {
      // The length of the body a GET would get is not known before it is rewritten.
      if (ctx.req.method === 'HEAD') res.removeHeader('content-length');
      return null;
    }
    const upstream = upstreamCodingOf(headerText(res.getHeader('content-encoding')));
    if (upstream === null) {
      ctx.log.debug({ contentEncoding: res.getHeader('content-encoding') }, 'response not rewritten: unknown content coding');
      return null;
    }
    // The rewritten body depends on this request (its Host), so it is never replayed from the response memo.
    ctx.locals.get('memoRecorder')?.refuse();
    const coding = isCompressible(contentType) ? negotiateCoding(ctx.req.headers['accept-encoding']) : null;
    res.removeHeader('content-length');
    if (coding === null) res.removeHeader('content-encoding');
    else res.setHeader('Content-Encoding', coding);
    if (coding !== null || upstream !== 'identity') addVary(res, 'Accept-Encoding');
    // A strong validator names exact bytes (RFC 9110 §8.8.1); these bytes are devmount's, so it becomes weak.
    const etag = headerText(res.getHeader('etag'));
    if (etag.startsWith('"')) res.setHeader('ETag', `W/${etag}`);
    return new BodyPipe(res, chainStages(stages), upstream === 'identity' ? null : upstream, coding,
      (err) => ctx.log.warn({ err: err.message }, 'response rewrite failed'));
  }
}

function addVary(res: CountingResponse, field: string): void {
  const current = headerText(res.getHeader('vary'));
  if (current.split(',').some((f) => f.trim().toLowerCase() === field.toLowerCase() || f.trim() === '*')) return;
  res.setHeader('Vary', current === '' ? field : `${current}, ${field}`);
}
