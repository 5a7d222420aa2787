/**
 * Find-and-replace over a body that arrives in chunks, for the response transforms (live-reload injection, the
 * production origin → local origin rewrite). Text is handled as "binary" strings (latin1: one char per byte), so a
 * chunk that ends inside a multi-byte UTF-8 character is never decoded wrongly, and bytes outside the matches pass
 * through untouched whatever the page's charset.
 *
 * A match may straddle two chunks: after the complete matches of a chunk, the longest tail that is still the
 * beginning of some pattern is held back and put in front of the next chunk. A rule with a `followedBy` test
 * also holds back a complete match that ends the chunk, since the byte deciding it has not arrived yet (at the
 * end of the body, "nothing follows" passes the test).
 */

export interface RewriteRule {
  /** ASCII text, matched ignoring ASCII case. */
  readonly find: string;
  /** The replacement for this occurrence (binary string; `matched` as it was written), or null to leave it. */
  readonly replace: (matched: string) => string | null;
  /** When set, a match counts only if the byte after it passes (or the body ends right after it). */
  readonly followedBy?: (code: number) => boolean;
}

/** One step of a body rewrite: text in, text out, chunk by chunk (binary strings). */
export interface TextStage {
  push(chunk: string): string;
  /** The body ended: what was held back, and anything the stage appends. */
  end(): string;
}

export class StreamRewriter implements TextStage {
  private readonly keys: readonly string[];
  private readonly longestKey: number;
  private held = '';

  constructor(private readonly rules: readonly RewriteRule[], private readonly atEnd: () => string = () => '') {
    this.keys = rules.map((r) => r.find.toLowerCase());
    this.longestKey = Math.max(0, ...this.keys.map((k) => k.length));
  }

  push(chunk: string): string {
    return this.scan(this.held + chunk, false);
  }

  end(): string {
    const out = this.scan(this.held, true);
    return out + this.atEnd();
  }

  /** Applies the rules to `text` (held-back tail included); keeps what cannot be decided yet in `held`. */
  private scan(text: string, final: boolean): string {
    const lower = text.toLowerCase();
    let out = '';
    let pos = 0;
    for (;;) {
      const found = this.earliestMatch(lower, pos, final);
      if (found === null) break;
      const { at, rule } = found;
      const length = this.keys[rule].length;
      if (at === -1) {
        // A match that ends the text and waits for its next byte: hold it back from here.
        this.held = text.slice(found.pending);
        return out + text.slice(pos, found.pending);
      }
      const matched = text.slice(at, at + length);
      out += text.slice(pos, at) + (this.rules[rule].replace(matched) ?? matched);
      pos = at + length;
    }
    const hold = final ? 0 : this.partialTail(lower, pos);
    this.held = hold === 0 ? '' : text.slice(text.length - hold);
    return out + text.slice(pos, text.length - hold);
  }

  /**
   * The first complete match at or after `pos` (the longer key wins a tie), or, when that first match ends the
   * text and its rule needs the next byte, `at: -1` with `pending` = where it starts.
   */
  private earliestMatch(lower: string, pos: number, final: boolean): { at: number; rule: number; pending: number } | null {
    let best = -1;
    let bestRule = -1;
    for (let r = 0; r < this.keys.length; r++) {
      const key = this.keys[r];
      const follows = this.rules[r].followedBy;
      let i = lower.indexOf(key, pos);
      while (i !== -1 && follows !== undefined && i + key.length < lower.length && !follows(lower.charCodeAt(i + key.length))) {
        i = lower.indexOf(key, i + 1);
      }
      if (i === -1) continue;
      if (best === -1 || i < best || (i === best && key.length > this.keys[bestRule].length)) {
        best = i;
        bestRule = r;
      }
    }
    if (best === -1) return null;
    const waits = !final && this.rules[bestRule].followedBy !== undefined && best + this.keys[bestRule].length === lower.length;
    return waits ? { at: -1, rule: bestRule, pending: best } : { at: best, rule: bestRule, pending: best };
  }

  /** Length of the longest tail of lower[pos..] that is a proper beginning of some key. */
  private partialTail(lower: string, pos: number): number {
    const max = Math.min(this.longestKey - 1, lower.length - pos);
    for (let n = max; n > 0; n--) {
      const tail = lower.slice(lower.length - n);
      if (this.keys.some((k) => k.length > n && k.startsWith(tail))) return n;
    }
    return 0;
  }
}

/** Runs stages one after the other on the same chunk. */
export function chainStages(stages: readonly TextStage[]): TextStage {
  if (stages.length === 1) return stages[0];
  return {
    push: (chunk) => stages.reduce((text, stage) => stage.push(text), chunk),
    end: () => stages.reduce((text, stage) => stage.push(text) + stage.end(), ''),
  };
}

/** A whole body through a stage at once (send.ts's cached static files). */
export function rewriteWhole(stage: TextStage, body: Buffer): Buffer {
  return Buffer.from(stage.push(body.toString('latin1')) + stage.end(), 'latin1');
}
