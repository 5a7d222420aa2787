/**
 * `--site-url https://www.example.com` over real HTTP with real php-cgi, and a login in Chromium: the application
 * sees its production host, scheme and port, builds absolute URLs, redirects and cookies from them, and every
 * one of those reaches the browser pointing at the local server; Origin/Referer sent from localhost reach PHP as
 * the production origin. No request ever leaves loopback: Chromium's every request is intercepted and recorded.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchChromium } from './helpers/browser.js';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';
import { fetchRaw, postRaw } from './helpers/fetch-raw.js';

const BASE = `<?php $base = ((($_SERVER['HTTPS'] ?? '') === 'on') ? 'https' : 'http') . '://' . $_SERVER['HTTP_HOST']; ?>`;

let site: PhpSite;
let local: string;

beforeAll(async () => {
  site = await startPhpSite({
    // What PHP was told, in a media type devmount does not rewrite.
    'info.php': `<?php header('Content-Type: application/x-test'); echo json_encode(array_intersect_key($_SERVER, array_flip(
      ['HTTP_HOST', 'SERVER_NAME', 'SERVER_PORT', 'HTTPS', 'REQUEST_SCHEME', 'HTTP_ORIGIN', 'HTTP_REFERER'])));`,
    'page.php': `${BASE}<html><body><a id="about" href="<?= $base ?>/about">about</a><img src="//<?= $_SERVER['HTTP_HOST'] ?>/i.png">
      <script>var cfg = <?= json_encode(['rest' => "$base/wp-json/"]) ?>;</script></body></html>`,
    'gz.php': `${BASE}<?php ob_start('ob_gzhandler'); echo str_repeat("<a href=\\"$base/x\\">x</a>", 100);`,
    'stream.php': `${BASE}<?php while (ob_get_level() > 0) { ob_end_flush(); } echo '<a href="https://www.exa'; flush(); usleep(100000); echo 'mple.com/y">y</a>';`,
    'redirect.php': `${BASE}<?php header("Link: <$base/style.css>; rel=preload"); header("Refresh: 5; url=$base/"); header("Content-Security-Policy: connect-src 'self' $base"); header("Access-Control-Allow-Origin: $base"); header("Location: $base/target.php", true, 302);`,
    'cookie.php': `<?php setcookie('sess', 'v', ['domain' => $_SERVER['HTTP_HOST'], 'secure' => true, 'samesite' => 'None', 'path' => '/']); echo 'ok';`,
    'api.php': `${BASE}<?php header('Content-Type: application/json'); echo json_encode(['home' => $base]);`,
    'echo-body.php': `<?php header('Content-Type: application/x-test'); echo json_encode(['get' => $_GET, 'post' => $_POST, 'raw' => file_get_contents('php://input')]);`,
    'style.css': 'body { background: url(https://www.example.com/bg.png); }\n',
    // A login that checks the referer and the origin as WordPress does, and an AJAX call built from the site URL.
    'login.php': `${BASE}<?php
      if ($_SERVER['REQUEST_METHOD'] === 'POST') {
        $ref = parse_url($_SERVER['HTTP_REFERER'] ?? '', PHP_URL_HOST);
        if ($ref !== $_SERVER['HTTP_HOST'] || ($_SERVER['HTTP_ORIGIN'] ?? '') !== $base) { http_response_code(403); echo 'bad referer'; exit; }
        setcookie('auth', 'yes', ['secure' => true, 'httponly' => true, 'samesite' => 'Lax', 'path' => '/']);
        header('Location: ' . $_POST['redirect_to'], true, 302);
        exit;
      } ?><html><body><form method="post" action="<?= $base ?>/login.php">
      <input type="hidden" name="redirect_to" value="<?= htmlspecialchars($_GET['redirect_to'] ?? "$base/") ?>">
      <button id="login">Log in</button></form></body></html>`,
    'admin.php': `${BASE}<?php
      if (($_COOKIE['auth'] ?? '') !== 'yes') { header('Location: ' . "$base/login.php?redirect_to=" . urlencode("$base/admin.php"), true, 302); exit; } ?>
      <html><body><h1 id="admin">dashboard</h1><p id="result"></p><script>
      fetch(<?= json_encode("$base/ajax.php") ?>, { method: 'POST', body: 'x=1', headers: { 'Content-Type': 'application/x-www-form-urlencoded' } })
        .then((r) => r.json()).then((j) => { document.getElementById('result').textContent = j.ok + ' ' + j.link; });
      </script></body></html>`,
    'ajax.php': `${BASE}<?php header('Content-Type: application/json');
      $ok = ($_SERVER['HTTP_ORIGIN'] ?? '') === $base && ($_COOKIE['auth'] ?? '') === 'yes';
      echo json_encode(['ok' => $ok, 'link' => "$base/post/1"]);`,
  }, { siteUrl: 'https://www.example.com' });
  local = `127.0.0.1:${site.port}`;
});

afterAll(async () => {
  await site?.close();
});

describe('PHP sees the production site', () => {
  test('host, scheme and port', async () => {
    const res = await fetchRaw(site.origin, '/info.php');
    expect(JSON.parse(res.text)).toEqual({ HTTP_HOST: 'www.example.com', SERVER_NAME: 'www.example.com', SERVER_PORT: '443', HTTPS: 'on', REQUEST_SCHEME: 'https' });
  });

  test('Origin and Referer from localhost arrive as the production origin; foreign ones unchanged', async () => {
    const mine = await fetchRaw(site.origin, '/info.php', { Origin: site.origin, Referer: `${site.origin}/wp-admin/post.php?post=1` });
    expect(JSON.parse(mine.text)).toMatchObject({ HTTP_ORIGIN: 'https://www.example.com', HTTP_REFERER: 'https://www.example.com/wp-admin/post.php?post=1' });
    const other = await fetchRaw(site.origin, '/info.php', { Origin: 'http://evil.test', Referer: 'http://evil.test/x' });
    expect(JSON.parse(other.text)).toMatchObject({ HTTP_ORIGIN: 'http://evil.test', HTTP_REFERER: 'http://evil.test/x' });
  });

  test('a query naming the local origin reaches PHP naming the production one', async () => {
    const res = await fetchRaw(site.origin, `/echo-body.php?redirect_to=${encodeURIComponent(`${site.origin}/wp-admin/`)}&reauth=1`);
    expect(JSON.parse(res.text).get).toEqual({ redirect_to: 'https://www.example.com/wp-admin/', reauth: '1' });
  });

  test('form and JSON bodies from the browser carry the production origin again; uploads are left alone', async () => {
    const form = await postRaw(site.origin, '/echo-body.php', 'application/x-www-form-urlencoded',
      `siteurl=${encodeURIComponent(site.origin)}&content=${encodeURIComponent(`<img src="${site.origin}/i.png">`)}`);
    expect(JSON.parse(form.text).post).toEqual({ siteurl: 'https://www.example.com', content: '<img src="https://www.example.com/i.png">' });
    const json = await postRaw(site.origin, '/echo-body.php', 'application/json', JSON.stringify({ content: `<a href="${site.origin}/x">` }));
    expect(JSON.parse(JSON.parse(json.text).raw)).toEqual({ content: '<a href="https://www.example.com/x">' });
    const multipart = await postRaw(site.origin, '/echo-body.php', 'multipart/form-data; boundary=b',
      `--b\r\nContent-Disposition: form-data; name="f"\r\n\r\n${site.origin}\r\n--b--\r\n`);
    expect(JSON.parse(multipart.text).post).toEqual({ f: site.origin });
  });
});

describe('the browser sees the local server', () => {
  test('absolute, protocol-relative and JSON-escaped URLs in a page', async () => {
    const res = await fetchRaw(site.origin, '/page.php');
    expect(res.text).toContain(`<a id="about" href="http://${local}/about">`);
    expect(res.text).toContain(`<img src="//${local}/i.png">`);
    expect(res.text).toContain(`{"rest":"http:\\/\\/${local}\\/wp-json\\/"}`);
    expect(res.text).not.toContain('example.com');
    expect(Number(res.headers['content-length'])).toBe(res.raw.length);
  });

  test('a page PHP compressed, a streamed page with the URL split by flush(), JSON and a static stylesheet', async () => {
    const gz = await fetchRaw(site.origin, '/gz.php', { 'Accept-Encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.text).toBe(`<a href="http://${local}/x">x</a>`.repeat(100));
    expect((await fetchRaw(site.origin, '/stream.php')).text).toBe(`<a href="http://${local}/y">y</a>`);
    expect(JSON.parse((await fetchRaw(site.origin, '/api.php')).text)).toEqual({ home: `http://${local}` });
    expect((await fetchRaw(site.origin, '/style.css')).text).toBe(`body { background: url(http://${local}/bg.png); }\n`);
  });

  test('Location, Link, Refresh, CSP and CORS headers', async () => {
    const res = await fetchRaw(site.origin, '/redirect.php');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe(`http://${local}/target.php`);
    expect(res.headers.link).toBe(`<http://${local}/style.css>; rel=preload`);
    expect(res.headers.refresh).toBe(`5; url=http://${local}/`);
    expect(res.headers['content-security-policy']).toBe(`connect-src 'self' http://${local}`);
    expect(res.headers['access-control-allow-origin']).toBe(`http://${local}`);
  });

  test('Set-Cookie without the production Domain and without Secure on http', async () => {
    const res = await fetchRaw(site.origin, '/cookie.php');
    const cookie = res.headers['set-cookie'] ?? [];
    expect(cookie).toHaveLength(1);
    expect(cookie[0]).toMatch(/^sess=v; path=\//);
    expect(cookie[0]).not.toMatch(/domain|secure/i);
    expect(cookie[0]).toMatch(/SameSite=Lax/);
  });
});

describe('Chromium', () => {
  let browser: Browser;
  beforeAll(async () => { browser = await launchChromium(); });
  afterAll(async () => { await browser?.close(); });

  test('logs in, reaches the admin page and its AJAX call on localhost; nothing leaves loopback', async () => {
    const page = await browser.newPage();
    const offLoopback: string[] = [];
    await page.route('**/*', async (route) => {
      const url = new URL(route.request().url());
      if (url.hostname === '127.0.0.1' || url.hostname === '[::1]' || url.hostname === 'localhost') {
        await route.continue();
        return;
      }
      offLoopback.push(url.href);
      await route.abort('blockedbyclient');
    });
    await page.goto(`${site.origin}/admin.php`);
    expect(new URL(page.url()).host).toBe(local);
    expect(new URL(page.url()).pathname).toBe('/login.php');
    await Promise.all([page.waitForURL(`${site.origin}/admin.php`), page.click('#login')]);
    expect(await page.textContent('#admin')).toBe('dashboard');
    await page.waitForFunction(() => document.getElementById('result')?.textContent !== '', undefined, { timeout: 10_000 });
    expect(await page.textContent('#result')).toBe(`true http://${local}/post/1`);
    expect(offLoopback).toEqual([]);
    await page.close();
  });
});
