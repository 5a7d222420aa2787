import type { SourceStat } from '../file-source.js';
import type { Next, RequestContext } from '../middleware.js';
import { isGetOrHead, sendStatus } from '../respond.js';

/**
 * The guard the file and the listing middleware share: each answers only for a path whose stat is `kind` (any
 * other goes on to the next middleware), and only GET and HEAD (any other method gets 405 with Allow, RFC 9110
 * §15.5.6). Returns the stat when the caller is to answer, null when the request has been dealt with here.
 */
export async function statToServe(ctx: RequestContext, next: Next, kind: SourceStat['kind']): Promise<SourceStat | null> {
  const stat = ctx.locals.get('stat');
  if (stat?.kind !== kind) {
    await next();
    return null;
  }
  if (!isGetOrHead(ctx.req.method)) {
    sendStatus(ctx, 405, undefined, { Allow: 'GET, HEAD' });
    return null;
  }
  return stat;
}
