/**
 * Live reload in every HTML page, over real HTTP with real php-cgi (FastCGI), a CGI script and a real upstream
 * behind --proxy: PHP pages, PHP pages compressed by PHP itself (ob_gzhandler, or gzencode with its own header), a
 * page PHP streams with flush() (still delivered progressively, also when devmount compresses it), proxied pages
 * compressed by the upstream, and what must stay untouched (script-fetched fragments, JSON, HEAD).
 */
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import { createBrotliDecompress, createGunzip, gzipSync } from 'node:zlib';
import { access, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';
import { fetchRaw } from './helpers/fetch-raw.js';
import { LIVERELOAD_SNIPPET } from '../devserver/livereload/inject.js';

const SNIPPET = LIVERELOAD_SNIPPET.toString();
const PAGE = '<!doctype html><html><body><h1>proxied</h1></body></html>';

let upstream: Server;
let site: PhpSite;
let signal: string;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/app/gz') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Encoding': 'gzip' });
      res.end(gzipSync(PAGE));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': Buffer.byteLength(PAGE) });
    res.end(PAGE);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const address = upstream.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  site = await startPhpSite({
    'index.php': '<?php include __DIR__ . "/template.php";',
    'template.php': '<!doctype html><html><body><h1><?= "hello" ?></h1></body></html>',
    'gzhandler.php': '<?php ob_start("ob_gzhandler"); echo str_repeat("<p>compressed</p>", 200), "</body></html>";',
    'gzencode.php': '<?php header("Content-Encoding: gzip"); echo gzencode("<html><body>own gzip</body></html>");',
    // Debian's php.ini buffers 4 KB of output (output_buffering), so the script ends that buffer before flush().
    'stream.php': `<?php while (ob_get_level() > 0) { ob_end_flush(); }
      echo "<html><body><p>first</p>"; flush();
      for ($i = 0; $i < 200 && !file_exists(__DIR__ . "/go"); $i++) usleep(50000);
      echo "<p>second</p></bo"; flush(); usleep(100000); echo "dy></html>";`,
    'fragment.php': '<?php echo "0";',
    'cgi-bin/page.sh': { content: '#!/bin/sh\nprintf "Content-Type: text/html\\r\\n\\r\\n<html><body>cgi</body></html>"\n', mode: 0o755 },
    'data.php': '<?php header("Content-Type: application/json"); echo json_encode(["html" => "</body>"]);',
  }, { liveReload: true, proxy: [`/app=http://127.0.0.1:${port}/app`] });
  signal = path.join(site.root, 'go');
});

afterAll(async () => {
  await site?.close();
  await new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve()));
});

describe('live reload is injected into', () => {
  test('a PHP page, with an exact Content-Length', async () => {
    const res = await fetchRaw(site.origin, '/');
    expect(res.text).toBe(`<!doctype html><html><body><h1>hello</h1>${SNIPPET}</body></html>`);
    expect(Number(res.headers['content-length'])).toBe(res.raw.length);
  });

  test('a page PHP compressed with ob_gzhandler, compressed again by devmount', async () => {
    const res = await fetchRaw(site.origin, '/gzhandler.php', { 'Accept-Encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.text.endsWith(`<p>compressed</p>${SNIPPET}</body></html>`)).toBe(true);
    expect(Number(res.headers['content-length'])).toBe(res.raw.length);
  });

  test('a gzip body PHP sends to a client that did not ask for it, decoded', async () => {
    const res = await fetchRaw(site.origin, '/gzencode.php');
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.text).toBe(`<html><body>own gzip${SNIPPET}</body></html>`);
  });

  test('a CGI page', async () => {
    const res = await fetchRaw(site.origin, '/cgi-bin/page.sh');
    expect(res.text).toBe(`<html><body>cgi${SNIPPET}</body></html>`);
  });

  test('a proxied page, plain and gzip-compressed by the upstream', async () => {
    const plain = await fetchRaw(site.origin, '/app/plain');
    expect(plain.text).toBe(`<!doctype html><html><body><h1>proxied</h1>${SNIPPET}</body></html>`);
    // The proxy streams what the upstream sends: chunked, or an exact length.
    expect(plain.headers['content-length'] === undefined ? plain.headers['transfer-encoding'] : Number(plain.headers['content-length']))
      .toBe(plain.headers['content-length'] === undefined ? 'chunked' : plain.raw.length);
    const gz = await fetchRaw(site.origin, '/app/gz', { 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.text).toBe(`<!doctype html><html><body><h1>proxied</h1>${SNIPPET}</body></html>`);
  });

  // Identity, and gzip/brotli made by devmount: the compressor is flushed after every chunk, so parts still arrive as parts.
  for (const coding of ['identity', 'gzip', 'br'] as const) {
    test(`a page PHP streams with flush() (${coding}): the first part arrives before the script goes on, the tag split across chunks`, async () => {
      await rm(signal, { force: true });
      const parts: string[] = [];
      const done = new Promise<IncomingHttpHeaders>((resolve, reject) => {
        const req = request(`${site.origin}/stream.php`, { headers: { 'Accept-Encoding': coding } }, (res) => {
          const decoded = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip())
            : res.headers['content-encoding'] === 'br' ? res.pipe(createBrotliDecompress()) : res;
          decoded.setEncoding('utf8');
          decoded.on('data', (d: string) => {
            parts.push(d);
            // The script waits for this file: it exists only once the first part has reached the client.
            if (parts.length === 1) void writeFile(signal, 'go');
          });
          decoded.on('end', () => resolve(res.headers));
          decoded.on('error', reject);
        });
        req.on('error', reject);
        req.end();
      });
      const headers = await done;
      expect(parts[0]).toBe('<html><body><p>first</p>');
      expect(parts.join('')).toBe(`<html><body><p>first</p><p>second</p>${SNIPPET}</body></html>`);
      expect(headers['transfer-encoding']).toBe('chunked');
      expect(headers['content-encoding']).toBe(coding === 'identity' ? undefined : coding);
      await access(signal);
    });
  }
});

describe('left untouched', () => {
  test('an HTML answer fetched by a script (Sec-Fetch-Dest: empty, X-Requested-With)', async () => {
    expect((await fetchRaw(site.origin, '/fragment.php', { 'Sec-Fetch-Dest': 'empty' })).text).toBe('0');
    expect((await fetchRaw(site.origin, '/fragment.php', { 'X-Requested-With': 'XMLHttpRequest' })).text).toBe('0');
    expect((await fetchRaw(site.origin, '/fragment.php', { 'Sec-Fetch-Dest': 'document' })).text).toBe(`0${SNIPPET}`);
  });

  test('JSON, even with "</body>" inside', async () => {
    const res = await fetchRaw(site.origin, '/data.php');
    expect(res.text).toBe('{"html":"<\\/body>"}');
  });

  test('HEAD: no body and no Content-Length that the GET would contradict', async () => {
    const res = await fetchRaw(site.origin, '/', {}, 'HEAD');
    expect(res.status).toBe(200);
    expect(res.raw.length).toBe(0);
    expect(res.headers['content-length']).toBeUndefined();
  });
});
