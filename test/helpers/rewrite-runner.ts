/** Runs RewriteCases against a server: one case (checkCase), or the whole table as vitest blocks (describeRewriteTable). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SiteFiles } from './php-site.js';
import { REWRITE_SITES, type RewriteCase, type ScriptView } from './rewrite-cases.js';

export async function checkCase(origin: string, c: RewriteCase): Promise<string[]> {
  const port = new URL(origin).port;
  const res = await fetch(origin + c.target, {
    method: c.method ?? 'GET',
    headers: c.headers,
    redirect: 'manual',
    body: c.method === 'POST' ? 'a=1' : undefined,
  });
  const body = await res.text();
  const problems: string[] = [];
  if (res.status !== c.status) problems.push(`status ${res.status}, expected ${c.status} (body ${JSON.stringify(body.slice(0, 200))})`);
  if (c.location !== undefined) {
    const raw = res.headers.get('location');
    const location = raw === null ? null : new URL(raw, origin).href;
    const expected = new URL(c.location.replace('{origin}', origin).replace('{port}', port)).href;
    if (location !== expected) problems.push(`Location ${String(raw)}, expected ${expected}`);
  }
  if (c.body !== undefined && body !== c.body) problems.push(`body ${JSON.stringify(body.slice(0, 200))}, expected ${JSON.stringify(c.body)}`);
  if (c.header !== undefined) {
    const value = res.headers.get(c.header[0]);
    if (value !== c.header[1]) problems.push(`header ${c.header[0]}: ${String(value)}, expected ${c.header[1]}`);
  }
  if (c.script !== undefined) {
    let seen: ScriptView | null = null;
    try {
      const parsed = JSON.parse(body) as Record<string, string>;
      seen = { script: parsed.script ?? '', uri: parsed.uri ?? '', query: parsed.query ?? '', pathInfo: parsed.pathInfo ?? '' };
    } catch {
      problems.push(`script did not answer JSON: ${JSON.stringify(body.slice(0, 200))}`);
    }
    if (seen !== null && JSON.stringify(seen) !== JSON.stringify(c.script)) {
      problems.push(`script saw ${JSON.stringify(seen)}, expected ${JSON.stringify(c.script)}`);
    }
  }
  return problems;
}

/** A server answering for one rewrite site: devmount's dev server or the reference Apache. */
export interface RewriteServer {
  readonly origin: string;
  stop(): Promise<void>;
}

/**
 * One describe block per site of REWRITE_SITES, one test per case, against the server `start` gives: the same
 * table runs on devmount (rewrite-table.test.ts) and on Apache (rewrite-apache.test.ts).
 */
export function describeRewriteTable(title: string, start: (files: SiteFiles) => Promise<RewriteServer>): void {
  for (const site of REWRITE_SITES) {
    describe(`${title}: ${site.name}`, () => {
      let server: RewriteServer;
      beforeAll(async () => { server = await start(site.files); });
      afterAll(async () => { await server.stop(); });
      for (const c of site.cases) {
        it(`${c.method ?? 'GET'} ${c.target} → ${c.status}`, async () => {
          expect(await checkCase(server.origin, c)).toEqual([]);
        });
      }
    });
  }
}
