/**
 * WordPress (Debian's `wordpress` 6.1 with its twentytwentythree block theme) under `devmount serve`, with a
 * throwaway MariaDB, driven by headless Chromium as a new user would: install, log in, publish a post, choose
 * "Post name" permalinks (WordPress writes .htaccess itself) and read the post at its pretty URL, open the Site
 * Editor (its REST ids contain '//'), upload an image, read the REST API. One browser, one install, in order.
 * Nothing leaves loopback: Chromium resolves no other name and the harness's must-use plugin refuses WordPress's
 * outgoing requests to other hosts.
 */
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchLoopbackOnlyChromium } from './helpers/browser.js';
import { startMariaDb, type MariaDb } from './helpers/mariadb.js';
import { servePhpRoot, type PhpSite } from './helpers/php-site.js';
import { createWordPressSite, WP_ADMIN_PASSWORD, WP_ADMIN_USER, type WordPressSite } from './helpers/wordpress.js';

let db: MariaDb;
let wp: WordPressSite;
let site: PhpSite;
let browser: Browser;
let refused: string[];
let page: Page;
let pageErrors: string[];

// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==', 'base64');

async function option(name: string): Promise<string | undefined> {
  const rows = await db.query(`SELECT option_value FROM \`${db.database}\`.wp_options WHERE option_name = '${name}';`);
  return rows[0]?.[0];
}

beforeAll(async () => {
  db = await startMariaDb();
  wp = await createWordPressSite(db);
  // Three workers: WordPress requests its own site while answering (install's permalink check, cron).
  site = await servePhpRoot(wp.root, { phpWorkers: 3, phpTimeoutSeconds: 60 });
  ({ browser, page, pageErrors, refused } = await launchLoopbackOnlyChromium());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await wp?.close();
  await db?.close();
});

describe.sequential('WordPress under devmount serve, in Chromium', () => {
  test('installs through wp-admin/install.php and picks pretty permalinks (an Apache-compatible server)', async () => {
    await page.goto(`${site.origin}/wp-admin/install.php`);
    await page.fill('#weblog_title', 'devmount WordPress');
    await page.fill('#user_login', WP_ADMIN_USER);
    await page.fill('#pass1', WP_ADMIN_PASSWORD);
    await page.fill('#admin_email', 'admin@localhost.invalid');
    await page.click('#submit');
    await page.waitForSelector('text=Success!');
    expect(await option('siteurl')).toBe(site.origin);
    // got_url_rewrite() said yes, and WordPress's own loopback request to a pretty URL succeeded.

    expect(await option('permalink_structure')).toBe('/%year%/%monthnum%/%day%/%postname%/');
  });

  test('logs in', async () => {
    await page.goto(`${site.origin}/wp-login.php`);
    await page.fill('#user_login', WP_ADMIN_USER);
    await page.fill('#user_pass', WP_ADMIN_PASSWORD);
    await page.click('#wp-submit');
    await page.waitForURL(/\/wp-admin\/$/);
    await expectText(page.locator('#wpadminbar'), 'devmount WordPress');
  });

  test('saving "Post name" in Settings → Permalinks writes .htaccess, and the pretty URL serves the post', async () => {
    await rm(path.join(wp.root, '.htaccess'), { force: true });
    await page.goto(`${site.origin}/wp-admin/options-permalink.php`);
    await page.check('#permalink-input-post-name');
    await page.click('#submit');
    await page.waitForSelector('#setting-error-settings_updated');
    expect(await option('permalink_structure')).toBe('/%postname%/');
    const htaccess = await readFile(path.join(wp.root, '.htaccess'), 'utf8');
    expect(htaccess).toContain('# BEGIN WordPress');
    expect(htaccess).toContain('RewriteRule . /index.php [L]');
    await page.goto(`${site.origin}/hello-world/`);
    await expectText(page.locator('h1.wp-block-post-title'), 'Hello world!');
  });

  test('publishes a post in the block editor and reads it at its pretty URL', async () => {
    await page.goto(`${site.origin}/wp-admin/post-new.php`);
    // The first visit opens the "Welcome to the block editor" guide over the editor.
    await page.locator('.components-modal__frame button[aria-label^="Close"]').click();
    await page.locator('.editor-post-title__input, h1.wp-block-post-title').first().fill('Served by devmount');
    await page.click('.editor-post-publish-panel__toggle');
    await page.click('.editor-post-publish-panel__header-publish-button button');
    await page.waitForSelector('.post-publish-panel__postpublish');
    const res = await page.goto(`${site.origin}/served-by-devmount/`);
    expect(res?.status()).toBe(200);
    await expectText(page.locator('h1.wp-block-post-title'), 'Served by devmount');
  });

  test('the Site Editor loads without page errors; its template ids with "//" reach WordPress', async () => {
    const templateAnswers: Array<[string, number]> = [];
    page.on('response', (res) => {
      if (res.url().includes('/wp-json/wp/v2/templates/twentytwentythree//')) templateAnswers.push([res.url(), res.status()]);
    });
    const errorsBefore = pageErrors.length;
    await page.goto(`${site.origin}/wp-admin/site-editor.php`);
    const canvas = page.frameLocator('iframe[name="editor-canvas"]');
    await canvas.locator('.wp-site-blocks').first().waitFor({ timeout: 60_000 });
    expect(pageErrors.slice(errorsBefore)).toEqual([]);
    expect(templateAnswers.length).toBeGreaterThan(0);
    expect(templateAnswers.every(([, status]) => status === 200)).toBe(true);
    // Without a login WordPress itself answers (401 JSON), as under Apache.
    const anonymous = await fetch(`${site.origin}/wp-json/wp/v2/templates/twentytwentythree//home`);
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json() as { code: string }).code).toBe('rest_cannot_manage_templates');
  });

  test('uploads an image in Media → Add New, with a sensible upload limit shown', async () => {
    const file = path.join(path.dirname(wp.root), 'dot.png');
    await writeFile(file, PNG);
    await page.goto(`${site.origin}/wp-admin/media-new.php`);
    await expectText(page.locator('.max-upload-size'), 'Maximum upload file size: 2 GB.');
    await page.setInputFiles('#plupload-upload-ui input[type=file]', file);
    await page.locator('#media-items .media-item .edit-attachment').first().waitFor({ timeout: 30_000 });
    const rows = await db.query(`SELECT guid FROM \`${db.database}\`.wp_posts WHERE post_type = 'attachment';`);
    expect(rows).toHaveLength(1);
    const url = rows[0]?.[0] ?? '';
    expect(url).toMatch(/\/wp-content\/uploads\/\d{4}\/\d{2}\/dot\.png$/);
    const served = await fetch(url);
    expect(served.status).toBe(200);
    expect(Buffer.from(await served.arrayBuffer())).toEqual(PNG);
    expect((await stat(path.join(wp.root, new URL(url).pathname))).size).toBe(PNG.length);
  });

  test('the REST API lists the published post', async () => {
    const res = await fetch(`${site.origin}/wp-json/wp/v2/posts`);
    expect(res.status).toBe(200);
    const posts = await res.json() as Array<{ title: { rendered: string }; link: string }>;
    expect(posts.map((p) => p.title.rendered)).toContain('Served by devmount');
    expect(posts.find((p) => p.title.rendered === 'Served by devmount')?.link).toBe(`${site.origin}/served-by-devmount/`);
  });

  test('no page raised an error, nothing reached a host other than loopback, no script failed', async () => {
    expect(pageErrors).toEqual([]);
    expect(refused.every((url) => !url.startsWith(site.origin))).toBe(true);
    // WordPress's own outgoing requests were refused by the harness's plugin, not sent.
    expect((await wp.blockedRequests()).every((url) => !new URL(url).hostname.startsWith('127.'))).toBe(true);
    expect(site.logs.filter((l) => typeof l.level === 'number' && l.level >= 50)).toEqual([]);
  });
});

async function expectText(locator: ReturnType<Page['locator']>, text: string): Promise<void> {
  await locator.first().waitFor();
  expect(await locator.first().innerText()).toContain(text);
}
