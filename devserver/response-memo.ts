/**
 * The response memo: whole static 200 answers, keyed by request target and Accept-Encoding, replayed by
 * middlewares/memo-replay.ts early in the stack, without running the rest of it (the stack's JavaScript per
 * request roughly halved bare Node's rate, and bare Node matches nginx here).
 *
 * Why a replay is the same answer the stack would give:
 * - only send.ts's in-memory 200 answers are recorded, and only for GET/HEAD requests without Range, If-Range,
 *   If-None-Match or If-Modified-Since (a hit evaluates If-None-Match/If-Modified-Since itself, as send.ts does);
 * - the memo exists only when every slot middleware declares a MemoPolicy and the source reports its changes
 *   (the cache is on); each slot middleware's policy is asked for the path it actually saw (stack.ts);
 * - every FileSource change drops the whole memo, from the same watch events that drop the cache, and a
 *   recording that raced a change is discarded (the `generation` rule of sources/cached.ts);
 * - what stays per request (access-log line, request-target and Host checks, X-Request-Id) runs for a hit as
 *   for any request: the replay sits after them in the stack (stack.ts), and the early replay before the stack
 *   (memo-replay.ts replayBeforeStack) does them itself, in the same order.
 */
import type { MemoPolicy } from './middleware.js';

export interface MemoEntry {
  /** Header list of the 200 answer (context headers merged as Node's writeHead would). */
  readonly head: readonly string[];
  /** Header list of the 304 answer. */
  readonly notModifiedHead: readonly string[];
  readonly body: Buffer;
  readonly etag: string;
  readonly lastModified: string;
  /** --header already sets X-Request-Id: the response carries that one, as on the stack's path. */
  readonly fixedRequestId: boolean;
}

/** Bounded, so a crawler's endless query strings cannot grow it without end. */
const MAX_ENTRIES = 2000;
const MAX_BYTES = 32 << 20;

export class ResponseMemo {
  private readonly entries = new Map<string, MemoEntry>();
  private bytes = 0;
  private generation = 0;

  /** The key of a request, or null when its Accept-Encoding is repeated (not worth a memo). */
  static keyOf(rawTarget: string, acceptEncoding: string | string[] | undefined): string | null {
    if (acceptEncoding === undefined) return rawTarget;
    return typeof acceptEncoding === 'string' ? `${rawTarget}\n${acceptEncoding}` : null;
  }

  get(key: string): MemoEntry | undefined {
    return this.entries.get(key);
  }

  /** Starts recording one request; null when the request cannot be recorded. */
  recorder(key: string | null): MemoRecorder | null {
    return key === null ? null : new MemoRecorder(this, key, this.generation);
  }

  /** Called for every FileSource change (server.ts subscribes to the same watch as the live-reload hub). */
  clear(): void {
    this.generation++;
    this.entries.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  /** @internal MemoRecorder's way in: stored only if nothing changed since the request started. */
  async consider(recorder: MemoRecorder, generation: number, checks: readonly SlotCheck[], entry: MemoEntry): Promise<void> {
    for (const { policy, path } of checks) {
      let passes: boolean;
      try {
        passes = await policy.passesOn(path);
      } catch {
        // A policy that cannot answer is a "no": the request is simply not memoised.
        return;
      }
      if (!passes) return;
    }
    if (generation !== this.generation) return;
    this.store(recorder.key, entry);
  }

  private store(key: string, entry: MemoEntry): void {
    const previous = this.entries.get(key);
    if (previous) this.bytes -= previous.body.length;
    this.entries.delete(key);
    this.entries.set(key, entry);
    this.bytes += entry.body.length;
    // Map iteration is insertion order: the first keys are the oldest.
    for (const [k, e] of this.entries) {
      if (this.entries.size <= MAX_ENTRIES && this.bytes <= MAX_BYTES) break;
      this.entries.delete(k);
      this.bytes -= e.body.length;
    }
  }
}

interface SlotCheck {
  readonly policy: MemoPolicy;
  readonly path: string;
}

/** Collects, along one request's way through the stack, what decides whether its answer may be memoised. */
export class MemoRecorder {
  private refused = false;
  private readonly checks: SlotCheck[] = [];

  constructor(private readonly memo: ResponseMemo, readonly key: string, private readonly generation: number) {}

  /** A slot middleware was entered with ctx.path = `path` (stack.ts); no policy means "may depend on anything". */
  noteSlot(policy: MemoPolicy | undefined, path: string): void {
    if (policy === undefined) this.refused = true;
    else this.checks.push({ policy, path });
  }

  /** Something on the way makes this answer unrepeatable (a file outside the watched root, a re-dispatch). */
  refuse(): void {
    this.refused = true;
  }

  /** The answer that was just sent; stored once the slot policies agree. */
  offer(entry: MemoEntry): void {
    if (this.refused) return;
    this.refused = true;
    void this.memo.consider(this, this.generation, this.checks, entry);
  }
}

/**
 * The header lists a replay sends, merged as node's ServerResponse.writeHead merges headers set earlier with
 * setHeader (applyContextHeaders) and a header array: array entries replace same-named earlier ones
 * (node lib/_http_outgoing.js / _http_server.js writeHead).
 */
export function memoEntry(contextHeaders: ReadonlyMap<string, string | string[]>, head: readonly string[],
  notModifiedHead: readonly string[], body: Buffer, etag: string, lastModified: string): MemoEntry {
  const merge = (list: readonly string[]): string[] => {
    const replaced = new Set<string>();
    for (let i = 0; i < list.length; i += 2) replaced.add(list[i].toLowerCase());
    const out: string[] = [];
    for (const [name, value] of contextHeaders) {
      if (replaced.has(name.toLowerCase())) continue;
      for (const v of Array.isArray(value) ? value : [value]) out.push(name, v);
    }
    out.push(...list);
    return out;
  };
  let fixedRequestId = false;
  for (const name of contextHeaders.keys()) if (name.toLowerCase() === 'x-request-id') fixedRequestId = true;
  return Object.freeze({
    head: Object.freeze(merge(head)),
    notModifiedHead: Object.freeze(merge(notModifiedHead)),
    body,
    etag,
    lastModified,
    fixedRequestId,
  });
}
