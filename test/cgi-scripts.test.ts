import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';
import { buildCgiEnv } from '../devserver/cgi/env.js';
import { parseHeaderBlock, readCgiResponseHead } from '../devserver/cgi/response-head.js';

const exec = (content: string) => ({ content, mode: 0o755 });

describe('generic CGI under cgi-bin/ and --cgi DIR', () => {
  let site: PhpSite;
  beforeAll(async () => {
    site = await startPhpSite({
      'cgi-bin/hello.sh': exec('#!/bin/sh\nprintf "Content-Type: text/plain\\r\\nX-Script: sh\\r\\n\\r\\n"\nprintf "hello %s %s %s" "$REQUEST_METHOD" "$QUERY_STRING" "$PATH_INFO"\n'),
      'cgi-bin/echo-body.sh': exec('#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n"\ncat\n'),
      'cgi-bin/local.sh': exec('#!/bin/sh\nprintf "Location: /target.txt?from=cgi\\n\\n"\n'),
      'cgi-bin/status.sh': exec('#!/bin/sh\nprintf "Status: 418 Teapot\\nContent-Type: text/plain\\n\\nshort and stout"\n'),
      'cgi-bin/args.sh': exec('#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nargc=%s" "$#"\n'),
      'cgi-bin/plain.txt': 'not a program\n',
      'cgi-bin/broken.sh': exec('#!/bin/sh\necho "no blank line and no colon"\n'),
      'scripts/run.sh': exec('#!/bin/sh\nprintf "Content-Type: text/plain\\n\\nfrom scripts"\n'),
      'target.txt': 'the target\n',
    }, { cgi: ['scripts'] });
  });
  afterAll(async () => { await site.close(); });

  it('runs a shebang script with the CGI environment and PATH_INFO', async () => {
    const res = await fetch(`${site.origin}/cgi-bin/hello.sh/extra/path?q=1`);
    expect(res.headers.get('x-script')).toBe('sh');
    expect(await res.text()).toBe('hello GET q=1 /extra/path');
  });

  it('streams the request body to the script', async () => {
    const body = 'line\n'.repeat(50_000);
    const res = await fetch(`${site.origin}/cgi-bin/echo-body.sh`, { method: 'POST', body });
    expect(await res.text()).toBe(body);
  });

  it('re-dispatches a local redirect (RFC 3875 §6.2.2) without telling the client', async () => {
    const res = await fetch(`${site.origin}/cgi-bin/local.sh`, { redirect: 'manual' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('the target\n');
  });

  it('honours Status with a reason phrase', async () => {
    const res = await fetch(`${site.origin}/cgi-bin/status.sh`);
    expect(res.status).toBe(418);
    expect(res.statusText).toBe('Teapot');
    expect(await res.text()).toBe('short and stout');
  });

  it('passes no arguments, even for a query without "="', async () => {
    expect(await (await fetch(`${site.origin}/cgi-bin/args.sh?-s+-x`)).text()).toBe('argc=0');
  });

  it('refuses to serve a non-executable file from cgi-bin', async () => {
    const res = await fetch(`${site.origin}/cgi-bin/plain.txt`);
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain('not a program');
  });

  it('answers 502 for a script with malformed headers', async () => {
    const res = await fetch(`${site.origin}/cgi-bin/broken.sh`);
    expect(res.status).toBe(502);
  });

  it('runs programs under an extra --cgi directory', async () => {
    expect(await (await fetch(`${site.origin}/scripts/run.sh`)).text()).toBe('from scripts');
  });
});

describe('CGI environment (RFC 3875 §4.1)', () => {
  const request = {
    method: 'GET', requestUri: '/a.php?x', query: 'x', httpVersion: '1.1', remoteAddress: '127.0.0.1', remotePort: 5000,
    serverName: 'localhost', serverPort: 8080, https: false, serverSoftware: 'devmount',
    // Arrays as a raw header map may carry them; Node's own types only allow arrays for a few names.
    headers: { proxy: 'http://evil', 'redirect-status': '200', 'x-multi': ['a', 'b'], cookie: ['a=1', 'b=2'], 'weird_name': 'v', 'content-type': 'text/plain' } as unknown as IncomingHttpHeaders,
  };
  const script = { scriptName: '/a.php', scriptFilename: '/srv/a.php', pathInfo: '', documentRoot: '/srv' };

  it('drops Proxy and Redirect-Status, joins repeated headers, skips names that would collide', () => {
    const env = buildCgiEnv(request, script, { HTTP_PROXY: 'from rewrite', HTTP_AUTHORIZATION: 'Bearer t' });
    expect(env.HTTP_PROXY).toBeUndefined();
    expect(env.HTTP_REDIRECT_STATUS).toBeUndefined();
    expect(env.REDIRECT_STATUS).toBe('200');
    expect(env.HTTP_X_MULTI).toBe('a, b');
    expect(env.HTTP_COOKIE).toBe('a=1; b=2');
    expect(env.HTTP_WEIRD_NAME).toBeUndefined();
    expect(env.CONTENT_TYPE).toBe('text/plain');
    expect(env.HTTP_CONTENT_TYPE).toBeUndefined();
    expect(env.HTTP_AUTHORIZATION).toBe('Bearer t');
    expect(env.PATH_INFO).toBeUndefined();
  });
});

describe('CGI response headers (RFC 3875 §6)', () => {
  it('classifies document, local redirect and client redirect responses', () => {
    expect(parseHeaderBlock('Content-Type: text/html').kind).toBe('document');
    expect(parseHeaderBlock('Location: /x?y=1')).toMatchObject({ kind: 'local-redirect', location: '/x?y=1' });
    expect(parseHeaderBlock('Location: //evil.example/x')).toMatchObject({ kind: 'client-redirect', status: 302 });
    expect(parseHeaderBlock('Location: https://e.example/')).toMatchObject({ kind: 'client-redirect', status: 302 });
    expect(parseHeaderBlock('Status: 301 Moved\nLocation: /x')).toMatchObject({ kind: 'client-redirect', status: 301, reason: 'Moved' });
    expect(() => parseHeaderBlock('Status: abc')).toThrow(/invalid Status/);
    expect(() => parseHeaderBlock('Bad Header: x')).toThrow(/invalid header name/);
  });

  it('splits headers from a body that arrives in pieces, with bare LF line ends', async () => {
    const head = await readCgiResponseHead(Readable.from([Buffer.from('Content-Type: text/plain\nX-A: 1'), Buffer.from('\n\nbody '), Buffer.from('rest')]));
    expect(head.headers).toEqual([['Content-Type', 'text/plain'], ['X-A', '1']]);
    const chunks: Buffer[] = [];
    for await (const c of head.body) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('body rest');
  });
});
