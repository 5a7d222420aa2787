/**
 * The application-test harness itself (test/helpers/mariadb.ts, wordpress.ts), as other suites use it without a
 * browser: a MariaDB on a loopback TCP port, WordPress pointed at it over TCP, installed with php-cli, served by
 * devmount; and siteurl/home moved to a production URL afterwards (only ever stored, never contacted).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMariaDb, type MariaDb } from './helpers/mariadb.js';
import { servePhpRoot, type PhpSite } from './helpers/php-site.js';
import { createWordPressSite, installWordPress, setWordPressUrls, type WordPressSite } from './helpers/wordpress.js';

let db: MariaDb;
let wp: WordPressSite;
let site: PhpSite;

beforeAll(async () => {
  db = await startMariaDb({ listen: { host: '127.0.0.1', port: 0 } });
  wp = await createWordPressSite(db, { dbHost: `127.0.0.1:${db.port ?? 0}` });
  site = await servePhpRoot(wp.root, { phpWorkers: 2 });
}, 60_000);

afterAll(async () => {
  await site?.close();
  await wp?.close();
  await db?.close();
});

describe.sequential('MariaDB and WordPress harness', () => {
  test('the database listens on loopback TCP with a password-protected user', async () => {
    expect(db.port).toBeGreaterThan(0);
    expect(await db.query(`SELECT COUNT(*) FROM mysql.user WHERE User = '${db.user}';`)).toEqual([['2']]);
  });

  test('installWordPress installs without a server; devmount then serves the site from the TCP database', async () => {
    await installWordPress(wp, { siteUrl: site.origin, title: 'Harness site' });
    const res = await fetch(`${site.origin}/?p=1`);
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('Harness site');
    expect(html).toContain('Hello world!');
    const rest = await fetch(`${site.origin}/?rest_route=/wp/v2/posts`);
    expect((await rest.json() as Array<{ id: number }>).map((p) => p.id)).toEqual([1]);
  });

  test('setWordPressUrls moves the site to a production URL, as WordPress then reports it', async () => {
    await setWordPressUrls(db, 'https://www.example.com');
    const index = await (await fetch(`${site.origin}/?rest_route=/`)).json() as { home: string; url: string };
    expect([index.home, index.url]).toEqual(['https://www.example.com', 'https://www.example.com']);
    // WordPress's own update checks (and a cron spawn to the production URL) are refused inside PHP, never sent.
    const loopback = new Set(['127.0.0.1', 'localhost']);
    expect((await wp.blockedRequests()).filter((url) => loopback.has(new URL(url).hostname))).toEqual([]);
  });
});
