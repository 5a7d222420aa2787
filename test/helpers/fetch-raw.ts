/** One HTTP request with node:http, the body kept as sent (content-coded) and also decoded, headers as node gives them (Set-Cookie as a list). */
import { request, type IncomingHttpHeaders } from 'node:http';
import { gunzipSync } from 'node:zlib';

export interface Fetched {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as sent (still content-coded). */
  readonly raw: Buffer;
  /** The body with Content-Encoding gzip undone. */
  readonly text: string;
}

export function fetchRaw(origin: string, target: string, headers: Record<string, string> = {}, method = 'GET', body?: string): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const req = request(`${origin}${target}`, { method, headers, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const text = (res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, raw, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${target} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

export function postRaw(origin: string, target: string, contentType: string, body: string): Promise<Fetched> {
  return fetchRaw(origin, target, { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)) }, 'POST', body);
}
