/** Runs one RewriteCase against a server and returns what differs from the expectation ([] when all match). */
import type { RewriteCase, ScriptView } from './rewrite-cases.js';

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
