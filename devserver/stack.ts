/**
 * The middleware stack, assembled in ONE place and in one commented order. Other features plug into named
 * slots (DevServerOptions.slots) instead of editing this list:
 *   early          – before any file lookup, after the safety checks (the reverse proxy)
 *   beforeResolve  – may rewrite ctx.path before it is resolved (.htaccess: rewrite, DirectoryIndex, deny)
 *   beforeStatic   – sees the resolved path and stat (PHP, CGI); answers or passes on
 *   beforeNotFound – last chance before the 404 (custom error documents)
 */
import type { Logger } from 'pino';
import type { Middleware } from './middleware.js';
import type { LiveReloadHub } from './livereload/hub.js';
import { accessLog, accessTracker } from './middlewares/access-log.js';
import { replayBeforeStack, replayMemo, type EarlyReplay } from './middlewares/memo-replay.js';
import type { ResponseMemo } from './response-memo.js';
import { rejectBadTarget } from './middlewares/bad-target.js';
import { hostCheck, hostPolicy } from './middlewares/host-check.js';
import { responseHeaders } from './middlewares/response-headers.js';
import { liveReloadEndpoints } from './middlewares/livereload.js';
import { presentSiteUrl } from './middlewares/site-url.js';
import { rewriteResponses } from './middlewares/rewrite-responses.js';
import type { ResponseTransform } from './body-transform/transform.js';
import { siteOriginTransform } from './body-transform/site-origin.js';
import { liveReloadTransform } from './livereload/inject.js';
import type { SiteUrl } from './site-url.js';
import { denyDotfiles } from './middlewares/dotfiles.js';
import { spaFallback } from './middlewares/spa-fallback.js';
import { resolvePath } from './middlewares/resolve.js';
import { serveStatic } from './middlewares/static.js';
import { directoryListing } from './middlewares/listing.js';
import { notFound } from './middlewares/not-found.js';

export type SlotName = 'early' | 'beforeResolve' | 'beforeStatic' | 'beforeNotFound';
export type Slots = Partial<Readonly<Record<SlotName, readonly Middleware[]>>>;

export interface StackOptions {
  readonly boundHost: string;
  readonly allowedHosts: readonly string[] | 'all';
  readonly cors: boolean;
  readonly headers: readonly (readonly [string, string])[];
  readonly hub: LiveReloadHub | null;
  /** The production URL shown to the application and rewritten back in responses (--site-url), or null. */
  readonly siteUrl: SiteUrl | null;
  readonly spa: boolean;
  readonly listing: boolean;
  readonly indexNames: readonly string[];
  readonly followSymlinks: boolean;
  readonly maxInMemoryBytes: number;
  readonly slots: Slots;
  readonly logger: Logger;
  /** The response memo (server.ts), or null when off: replayed in the stack, and slot middlewares report the
   *  path they saw to the request's recorder. */
  readonly memo: ResponseMemo | null;
}

/** Two features' slots as one: in each slot, `a`'s middlewares run before `b`'s. */
export function mergeSlots(a: Slots, b: Slots): Slots {
  const names = new Set([...Object.keys(a), ...Object.keys(b)] as SlotName[]);
  return Object.fromEntries([...names].map((name) => [name, [...(a[name] ?? []), ...(b[name] ?? [])]]));
}

/** Slots whose middlewares run before a static file is sent, so they decide whether its answer may be replayed. */
const SLOTS_BEFORE_STATIC: readonly SlotName[] = ['early', 'beforeResolve', 'beforeStatic'];

/** True when every middleware that can run before a static answer declares a MemoPolicy (middleware.ts). */
export function slotsDeclareMemo(slots: Slots): boolean {
  return SLOTS_BEFORE_STATIC.every((name) => (slots[name] ?? []).every((mw) => mw.memo !== undefined));
}

/** The slot middleware, telling the request's memo recorder which path it saw (its policy is asked later). */
function reportingToMemo(mw: Middleware): Middleware {
  const policy = mw.memo;
  const reporting = (ctx: Parameters<Middleware>[0], next: Parameters<Middleware>[1]): Promise<void> => {
    ctx.locals.get('memoRecorder')?.noteSlot(policy, ctx.path);
    return mw(ctx, next);
  };
  // Keeps the slot middleware's own name for stack traces and debugging.
  Object.defineProperty(reporting, 'name', { value: mw.name });
  return Object.assign(reporting, policy === undefined ? {} : { memo: policy });
}

/** The response transforms, in the order their text stages run (origin first: the snippet names no origin). */
function responseTransforms(o: StackOptions): ResponseTransform[] {
  return [
    ...(o.siteUrl !== null ? [siteOriginTransform(o.siteUrl)] : []),
    ...(o.hub !== null ? [liveReloadTransform()] : []),
  ];
}

/** The assembled stack, and the part of it a re-dispatch runs again. */
export interface Stack {
  /** Every middleware, in order: what a request runs. */
  readonly all: readonly Middleware[];
  /**
   * The tail from the dotfile check on (a suffix of `all`). A CGI local redirect (RFC 3875 §6.2.2) or a script
   * error document re-runs it for the new path, so .htaccess, index resolution, PHP and static serving all apply
   * again, while the access log and the per-request checks before it ran once.
   */
  readonly redispatch: readonly Middleware[];
  /**
   * Steps 1–3a for a memo hit, before a Context exists (memo-replay.ts replayBeforeStack), for a request whose
   * target parsed; null when the memo is off. Shares the access tracker and Host verdicts with the middlewares.
   */
  readonly replayEarly: EarlyReplay | null;
}

export function buildStack(o: StackOptions): Stack {
  const transforms = responseTransforms(o);
  const slot = (name: SlotName): readonly Middleware[] => {
    const list = o.slots[name] ?? [];
    return o.memo !== null && SLOTS_BEFORE_STATIC.includes(name) ? list.map(reportingToMemo) : list;
  };
  const track = accessTracker(o.logger);
  const allowsHost = hostPolicy({ boundHost: o.boundHost, allowedHosts: o.allowedHosts });
  // Runs once per request: the access log and the checks on the request as the client sent it.
  const once: readonly Middleware[] = [
    accessLog(track),                                         // 1. log every request, whatever answers it
    rejectBadTarget(),                                        // 2. 400 for traversal/encoding tricks (request-target.ts)
    hostCheck(allowsHost),                                    // 3. DNS rebinding guard
    ...(o.memo !== null ? [replayMemo(o.memo)] : []),         // 3a. repeated static answers (response-memo.ts)
    ...(o.siteUrl !== null ? [presentSiteUrl(o.siteUrl)] : []), // 3b. --site-url: the app sees its production host
    ...(transforms.length > 0 ? [rewriteResponses(transforms)] : []), // 3c. live reload in every page, origin → local
    ...(o.cors || o.headers.length > 0 ? [responseHeaders({ cors: o.cors, headers: o.headers })] : []), // 4. --cors, --header (and CORS preflights)
    ...(o.hub ? [liveReloadEndpoints(o.hub)] : []),           // 5. /__devmount/livereload(.js)
    ...slot('early'),                                         // 6. proxy
  ];
  // Runs for the request, and again for each re-dispatch (Stack.redispatch).
  const redispatch: readonly Middleware[] = Object.freeze([
    denyDotfiles(),                                           // 7. .env, .git/, .htaccess → 404
    ...slot('beforeResolve'),                                 // 8. .htaccess rewriting
    ...(o.spa ? [spaFallback()] : []),                        // 9. --spa: unknown pages → /index.html
    resolvePath({ indexNames: o.indexNames, followSymlinks: o.followSymlinks }), // 10. index, symlink guard
    ...slot('beforeStatic'),                                  // 11. PHP, CGI
    serveStatic({ maxInMemoryBytes: o.maxInMemoryBytes, liveReload: o.hub !== null }), // 12. files
    ...(o.listing ? [directoryListing()] : []),               // 13. listing when no index
    ...slot('beforeNotFound'),                                // 14. error documents
    notFound(),                                               // 15. 404
  ]);
  return Object.freeze({
    all: Object.freeze([...once, ...redispatch]),
    redispatch,
    replayEarly: o.memo !== null ? replayBeforeStack(o.memo, allowsHost, track) : null,
  });
}
