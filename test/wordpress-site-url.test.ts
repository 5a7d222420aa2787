/**
 * WordPress (Debian's package, a throwaway MariaDB) installed with siteurl/home https://www.example.com and served
 * with --site-url: Chromium logs in on localhost, reaches the dashboard, saves a settings form and calls the REST
 * API with the root URL WordPress printed — with every request Chromium makes that does not go to a loopback
 * address blocked and recorded, and none allowed. WordPress's own outgoing HTTP (cron spawn, update checks) is
 * refused by the harness's must-use plugin (test/helpers/wordpress.ts). Then, from a second server with live reload
 * on, editing a theme file (a block template part no request names) reloads the page in the browser. (Live reload is
 * off for the first: WordPress and the harness write files under wp-content while pages load — the harness's log of
 * refused requests — and each write reloads the page, which would cut a navigation short.)
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launchChromium, onMainFrameNavigation } from './helpers/browser.js';
import { eventually } from './helpers/eventually.js';
import { startMariaDb, type MariaDb } from './helpers/mariadb.js';
import { createWordPressSite, installWordPress, WP_ADMIN_PASSWORD, WP_ADMIN_USER, type WordPressSite } from './helpers/wordpress.js';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';

const PRODUCTION = 'https://www.example.com';

let db: MariaDb;
let wp: WordPressSite;
let site: PhpSite;
let browser: Browser;
let page: Page;
const offLoopback: string[] = [];

beforeAll(async () => {
  db = await startMariaDb({ listen: 'socket-only' });
  wp = await createWordPressSite(db);
  await installWordPress(wp, { siteUrl: PRODUCTION });
  // Avatars come from secure.gravatar.com: off, so that every request the browser makes is one to loopback.
  await db.query(`UPDATE \`${db.database}\`.wp_options SET option_value = '' WHERE option_name = 'show_avatars';`);
  site = await startPhpSite({}, { root: wp.root, siteUrl: PRODUCTION, phpTimeoutSeconds: 60 });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1') {
      await route.continue();
      return;
    }
    offLoopback.push(url.href);
    await route.abort('blockedbyclient');
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await wp?.close();
  await db?.close();
});

test('the front page links to localhost', async () => {
  const response = await page.goto(`${site.origin}/`);
  expect(response?.status()).toBe(200);
  expect(new URL(page.url()).origin).toBe(site.origin);
  const links = await page.$$eval('a[href]', (as) => as.map((a) => (a as HTMLAnchorElement).href));
  expect(links.length).toBeGreaterThan(0);
  expect(links.filter((href) => href.includes('example.com'))).toEqual([]);
  expect(offLoopback).toEqual([]);
}, 60_000);

test('login, a settings form and a REST call, all on localhost', async () => {
  await page.goto(`${site.origin}/wp-admin/`);
  expect(new URL(page.url()).pathname).toBe('/wp-login.php');
  await page.fill('#user_login', WP_ADMIN_USER);
  await page.fill('#user_pass', WP_ADMIN_PASSWORD);
  await Promise.all([page.waitForURL(`${site.origin}/wp-admin/**`, { timeout: 30_000 }), page.click('#wp-submit')]);
  expect(await page.$('#wpadminbar')).not.toBeNull();

  await page.goto(`${site.origin}/wp-admin/options-general.php`);
  await page.fill('#blogname', 'Renamed on localhost');
  await Promise.all([page.waitForURL(/settings-updated=true/, { timeout: 30_000 }), page.click('#submit')]);
  expect(new URL(page.url()).origin).toBe(site.origin);
  expect(await page.inputValue('#blogname')).toBe('Renamed on localhost');

  // The dashboard loads api-request, which carries the REST root WordPress built from its URL (JSON-escaped).
  await page.goto(`${site.origin}/wp-admin/`);
  const rest = await page.evaluate(async () => {
    const settings = (window as unknown as { wpApiSettings?: { root: string; nonce: string } }).wpApiSettings;
    if (settings === undefined) return { root: '', status: 0, name: '' };
    const r = await fetch(`${settings.root}wp/v2/users/me`, { headers: { 'X-WP-Nonce': settings.nonce } });
    const body = (await r.json()) as { name?: string };
    return { root: settings.root, status: r.status, name: body.name ?? '' };
  });
  // Plain permalinks: the REST root is ?rest_route=, printed from https://www.example.com and shown as localhost.
  expect(rest).toEqual({ root: `${site.origin}/index.php?rest_route=/`, status: 200, name: WP_ADMIN_USER });
  expect(offLoopback).toEqual([]);
  // The database still says production: nothing was rewritten on the way in.
  expect(await db.query(`SELECT option_value FROM \`${db.database}\`.wp_options WHERE option_name = 'siteurl';`)).toEqual([[PRODUCTION]]);
}, 120_000);

test('editing a theme file reloads the page', async () => {
  const footer = path.join(wp.root, 'wp-content/themes/twentytwentythree/parts/footer.html');
  const reloading = await startPhpSite({}, { root: wp.root, siteUrl: PRODUCTION, phpTimeoutSeconds: 60, liveReload: true });
  try {
    await page.goto(`${reloading.origin}/`);
    await eventually(() => (reloading.server.liveReload?.clientCount ?? 0) === 1, 15_000, 'the page to connect');
    let navigations = 0;
    onMainFrameNavigation(page, () => { navigations++; });
    expect(await page.content()).not.toContain('edited on localhost');
    await writeFile(footer, `${await readFile(footer, 'utf8')}<!-- wp:paragraph --><p>edited on localhost</p><!-- /wp:paragraph -->\n`);
    await eventually(async () => (await page.content().catch(() => '')).includes('edited on localhost'), 30_000, 'the reloaded page');
    expect(navigations).toBeGreaterThanOrEqual(1);
    expect(offLoopback).toEqual([]);
  } finally {
    await reloading.close();
  }
}, 60_000);
