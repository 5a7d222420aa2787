/**
 * Safe by default: a table of hostile request targets, each with its expected status and body,
 * sent byte for byte over a raw socket; the Host check; symlinks; malformed requests and slow clients.
 */
import { symlink, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { DevServer } from '../devserver/server.js';
import { makeFixture, rawExchange, rawRequest, startServer, type Fixture } from './serve-fixture.js';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';

let fixture: Fixture;
let server: DevServer;

beforeAll(async () => {
  fixture = await makeFixture();
  server = await startServer(fixture.root, { timeouts: { headersMs: 700, keepAliveMs: 1000 } });
});

afterAll(async () => {
  await server?.close();
  await fixture?.cleanup();
});

// [request target as sent, status, a string the body must contain]; no body may leak a secret.
const HOSTILE: readonly (readonly [string, number, string])[] = [
  ['/../outside-secret.txt', 400, 'dot path segment'],
  ['/sub/../../outside-secret.txt', 400, 'dot path segment'],
  ['/%2e%2e/outside-secret.txt', 400, 'dot path segment'],
  ['/%2E%2E/outside-secret.txt', 400, 'dot path segment'],
  ['/sub/%2e%2e/%2e%2e/outside-secret.txt', 400, 'dot path segment'],
  ['/.%2e/outside-secret.txt', 400, 'dot path segment'],
  ['/..%2foutside-secret.txt', 400, 'forbidden character'],
  ['/%2e%2e%2foutside-secret.txt', 400, 'forbidden character'],
  ['/..%5coutside-secret.txt', 400, 'forbidden character'],
  ['/..\\outside-secret.txt', 400, 'forbidden character'],
  ['/%252e%252e/outside-secret.txt', 404, '404 Not Found'], // decoded once: a literal '%2e%2e' directory
  ['//etc/passwd', 404, '404 Not Found'], // CVE-2023-34092: merged to /etc/passwd inside the root
  ['//../outside-secret.txt', 400, 'dot path segment'],
  ['//.env', 404, '404 Not Found'],
  ['/sub//../../outside-secret.txt', 400, 'dot path segment'],
  ['/./.env', 400, 'dot path segment'],
  ['/sub/./index.html', 400, 'dot path segment'],
  ['/index.html%00.txt', 400, 'forbidden character'], // CVE-2025-11149
  ['/hello.txt%00', 400, 'forbidden character'],
  ['/%zz', 400, 'malformed percent-encoding'],
  ['/%c0%ae%c0%ae/outside-secret.txt', 400, 'malformed percent-encoding'], // overlong UTF-8 dots
  ['/.env', 404, '404 Not Found'],
  ['/%2eenv', 404, '404 Not Found'],
  ['/.env?raw??', 404, '404 Not Found'], // CVE-2025-30208
  ['/.env?import&raw', 404, '404 Not Found'],
  ['/.env#', 400, 'forbidden character'], // CVE-2025-32395
  ['/index.html#/../.env', 400, 'forbidden character'],
  ['/hello.txt?x#y', 400, 'forbidden character'],
  ['/.git/config', 404, '404 Not Found'],
  ['/.git/', 404, '404 Not Found'],
  ['/blog/.htaccess', 404, '404 Not Found'],
  ['/.htpasswd', 404, '404 Not Found'],
  ['/list/.hidden', 404, '404 Not Found'],
  ['/env-link.txt', 404, '404 Not Found'], // a symlink inside the root that leads to a dotfile
  ['/escape-link.txt', 403, 'symlink points outside'],
  ['*', 400, 'request target is not a path'],
  ['hello.txt', 400, '400 Bad Request'], // refused by Node's parser itself (clientError)
];

describe('hostile request targets', () => {
  for (const [target, status, bodyPart] of HOSTILE) {
    test(`${JSON.stringify(target)} → ${status}`, async () => {
      const res = await rawRequest(server.port, target);
      expect(res.status).toBe(status);
      expect(res.text).toContain(bodyPart);
      expect(res.text).not.toContain('OUTSIDE');
      expect(res.text).not.toContain('SECRET');
      expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-z]+$/);
    });
  }

  test('a file literally named "%2e%2e" is reachable only as %252e%252e, never as ".."', async () => {
    expect((await rawRequest(server.port, '/%2e%2e')).status).toBe(400);
    const res = await rawRequest(server.port, '/%252e%252e');
    expect(res.status).toBe(200);
    expect(res.text).toBe('literal dots name\n');
  });

  test('empty segments are merged as Apache does (MergeSlashes): /sub//index.html is /sub/index.html', async () => {
    const res = await rawRequest(server.port, '/sub//index.html');
    expect(res.status).toBe(200);
    expect(res.text).toContain('sub index');
  });

  test('/.well-known/ is served although it is a dot-directory', async () => {
    const res = await rawRequest(server.port, '/.well-known/security.txt');
    expect(res.status).toBe(200);
    expect(res.text).toContain('Contact:');
  });

  test('absolute-form targets are served by their path (RFC 9112 §3.2.2)', async () => {
    const res = await rawRequest(server.port, `http://127.0.0.1:${server.port}/hello.txt`);
    expect(res.status).toBe(200);
    expect(res.text).toBe('hello world\n');
  });

  test('a symlink that stays inside the root is served', async () => {
    const res = await rawRequest(server.port, '/inside-link.txt');
    expect(res.status).toBe(200);
    expect(res.text).toBe('hello world\n');
  });
});

describe('Host header check (DNS rebinding)', () => {
  const cases: readonly (readonly [string, number])[] = [
    ['127.0.0.1', 200], ['127.0.0.1:1234', 200], ['localhost', 200], ['LOCALHOST:8080', 200], ['app.localhost', 200],
    ['[::1]:8080', 200], ['192.168.1.20', 200], ['localhost.', 200],
    ['evil.example', 403], ['evil.example:8080', 403], ['localhost.evil.example', 403], ['127.0.0.1.nip.io', 403],
  ];
  for (const [host, status] of cases) {
    test(`Host: ${host} → ${status}`, async () => {
      const res = await rawRequest(server.port, '/hello.txt', { Host: host });
      expect(res.status).toBe(status);
      if (status === 403) {
        expect(res.text).toContain('is not allowed');
        expect(res.text).toContain('--allowed-host');
      } else {
        expect(res.text).toBe('hello world\n');
      }
    });
  }

  test('--allowed-host admits that name, and "all" turns the check off', async () => {
    const named = await startServer(fixture.root, { allowedHosts: ['dev.example'] });
    const all = await startServer(fixture.root, { allowedHosts: 'all' });
    try {
      expect((await rawRequest(named.port, '/hello.txt', { Host: 'dev.example' })).status).toBe(200);
      expect((await rawRequest(named.port, '/hello.txt', { Host: 'other.example' })).status).toBe(403);
      expect((await rawRequest(all.port, '/hello.txt', { Host: 'other.example' })).status).toBe(200);
    } finally {
      await Promise.all([named.close(), all.close()]);
    }
  });
});

describe('symlinks with --follow-symlinks', () => {
  test('a symlink leading outside the root is served', async () => {
    const follow = await startServer(fixture.root, { followSymlinks: true });
    try {
      const res = await rawRequest(follow.port, '/escape-link.txt');
      expect(res.status).toBe(200);
      expect(res.text).toBe('OUTSIDE\n');
    } finally {
      await follow.close();
    }
  });
});

describe('malformed requests and slow clients', () => {
  test('garbage instead of a request line → 400, and the server keeps serving', async () => {
    const res = await rawExchange(server.port, 'HELLO THERE\r\n\r\n');
    expect(res.status).toBe(400);
    expect((await rawRequest(server.port, '/hello.txt')).status).toBe(200);
  });

  test('a header block above 16 KiB → 431', async () => {
    const res = await rawRequest(server.port, '/hello.txt', { 'X-Big': 'a'.repeat(20_000) });
    expect(res.status).toBe(431);
    expect((await rawRequest(server.port, '/hello.txt')).status).toBe(200);
  });

  test('a bare NUL and control bytes in the request line → 400', async () => {
    const res = await rawExchange(server.port, Buffer.from('GET /hello\x00.txt HTTP/1.1\r\nHost: localhost\r\n\r\n', 'latin1'));
    expect(res.status).toBe(400);
  });

  test('headers that never finish are cut off by the headers timeout (408)', async () => {
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(server.port, '127.0.0.1');
      let got = '';
      socket.setTimeout(10_000, () => socket.destroy(new Error('server never closed a slow client')));
      socket.on('data', (d: Buffer) => { got += d.toString(); });
      socket.on('error', reject);
      socket.on('close', () => resolve(got));
      socket.write('GET /hello.txt HTTP/1.1\r\nHost: localhost\r\nX-Slow: ');
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  test('methods other than GET/HEAD on a file → 405 with Allow', async () => {
    const res = await rawRequest(server.port, '/hello.txt', { 'Content-Length': '0' }, 'DELETE');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD');
  });
});

/**
 * The same rules where an application routes its own URLs (WordPress's .htaccess sends every path that is not a
 * file or directory to index.php): targets that name nothing on disk reach the application with REQUEST_URI as
 * sent, as under Apache; every target that would reach a file on disk is still refused.
 */
describe('request targets on a site whose .htaccess routes URLs to index.php', () => {
  let site: PhpSite;
  beforeAll(async () => {
    site = await startPhpSite({
      '.htaccess': [
        'RewriteEngine On',
        'RewriteBase /',
        'RewriteRule ^leak$ .env [L]',
        'RewriteRule ^leak-git$ .git/config [L]',
        'RewriteRule ^index\\.php$ - [L]',
        'RewriteCond %{REQUEST_FILENAME} !-f',
        'RewriteCond %{REQUEST_FILENAME} !-d',
        'RewriteRule . /index.php [L]',
        '',
      ].join('\n'),
      'index.php': '<?php echo "app uri=", $_SERVER["REQUEST_URI"], " path_info=", $_SERVER["PATH_INFO"] ?? "";',
      '.env': 'SECRET=1\n',
      '.git/config': '[core] SECRET\n',
      '.hidden/run.php': '<?php echo "SECRET ran";',
      'page.html': 'a page\n',
    });
    // A script outside the root, reachable only through a symlink (with PATH_INFO, resolve.ts never sees it).
    await writeFile(path.join(path.dirname(site.root), 'outside.php'), '<?php echo "OUTSIDE SECRET ran";');
    await symlink(path.join(path.dirname(site.root), 'outside.php'), path.join(site.root, 'escape.php'));
    await symlink(path.join(site.root, '.hidden/run.php'), path.join(site.root, 'hidden-link.php'));
  });
  afterAll(async () => {
    await site?.close();
  });

  // [target, the REQUEST_URI and PATH_INFO index.php reports]
  const REACH: readonly (readonly [string, string])[] = [
    ['/wp-json/wp/v2/templates/twentytwentythree//home', 'app uri=/wp-json/wp/v2/templates/twentytwentythree//home path_info='],
    ['//wp-json/wp/v2/posts', 'app uri=//wp-json/wp/v2/posts path_info='],
    ['/api/.config', 'app uri=/api/.config path_info='],
    ['/.well-known/nothing-here', 'app uri=/.well-known/nothing-here path_info='],
    ['/.not-a-file/route', 'app uri=/.not-a-file/route path_info='],
    ['/index.php/.env', 'app uri=/index.php/.env path_info=/.env'],
    ['/page//x?a=b//c', 'app uri=/page//x?a=b//c path_info='],
  ];
  for (const [target, body] of REACH) {
    test(`${JSON.stringify(target)} reaches the application`, async () => {
      const res = await rawRequest(site.port, target);
      expect(res.status).toBe(200);
      expect(res.text).toBe(body);
    });
  }

  // Every target of the hostile table that would reach a file on disk, and rewrites that lead to one.
  const REFUSED: readonly (readonly [string, number])[] = [
    ['/.env', 404], ['//.env', 404], ['/%2eenv', 404], ['/.env?raw??', 404], ['/.git/config', 404], ['/.git/', 404],
    ['/.htaccess', 404], ['/.hidden/run.php', 404], ['/.hidden/run.php/x', 403], ['/leak', 404], ['/leak-git', 404],
    ['/../.env', 400], ['/%2e%2e/.env', 400], ['/.%2e/.env', 400], ['//../.env', 400], ['/index.php/../.env', 400],
    ['/..%2f.env', 400], ['/..%5c.env', 400], ['/.env%00', 400], ['/%c0%ae%c0%ae/.env', 400], ['/.env#', 400],
    ['/escape.php', 403], ['/escape.php/x', 403], ['//escape.php/.env', 403], ['/hidden-link.php', 404],
    ['/hidden-link.php/x', 403],
  ];
  for (const [target, status] of REFUSED) {
    test(`${JSON.stringify(target)} → ${status}`, async () => {
      const res = await rawRequest(site.port, target);
      expect(res.status).toBe(status);
      expect(res.text).not.toContain('SECRET');
      expect(res.text).not.toContain('app uri=');
    });
  }

  test('a page reached through merged slashes is the page itself', async () => {
    const res = await rawRequest(site.port, '//page.html');
    expect(res.status).toBe(200);
    expect(res.text).toBe('a page\n');
  });
});
