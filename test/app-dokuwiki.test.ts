/**
 * DokuWiki (Debian's `dokuwiki`, in upstream's layout with its stock .htaccess files) under `devmount serve`,
 * driven by headless Chromium: edit a page, find a new page by search (the index is built by
 * lib/exe/taskrunner.php, which answers a 1×1 GIF and indexes after the browser has gone: ignore_user_abort),
 * and the protected directories answer 403. One browser, one site.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchLoopbackOnlyChromium } from './helpers/browser.js';
import { createDokuWikiSite, type DokuWikiSite } from './helpers/dokuwiki.js';
import { servePhpRoot, type PhpSite } from './helpers/php-site.js';

let wiki: DokuWikiSite;
let site: PhpSite;
let browser: Browser;
let page: Page;
let pageErrors: string[];

beforeAll(async () => {
  wiki = await createDokuWikiSite();
  site = await servePhpRoot(wiki.root, { phpWorkers: 2, phpTimeoutSeconds: 60 });
  ({ browser, page, pageErrors } = await launchLoopbackOnlyChromium());
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await wiki?.close();
});

async function editPage(id: string, text: string): Promise<void> {
  await page.goto(`${site.origin}/doku.php?id=${id}&do=edit`);
  await page.fill('#wiki__text', text);
  await page.click('#edbtn__save');
  await page.waitForURL((url) => url.searchParams.get('do') === null && url.searchParams.get('id') === id);
}

describe.sequential('DokuWiki under devmount serve, in Chromium', () => {
  test('edits an existing page', async () => {
    await editPage('wiki:welcome', '====== Welcome ======\n\nEdited through devmount.\n');
    await expect(page.locator('.page h1').first().innerText()).resolves.toContain('Welcome');
    await expect(page.locator('.page').first().innerText()).resolves.toContain('Edited through devmount.');
    expect(await readFile(path.join(wiki.root, 'data/pages/wiki/welcome.txt'), 'utf8')).toContain('Edited through devmount.');
  });

  test('a new page is found by search once the taskrunner has indexed it (the script runs on after its GIF)', async () => {
    await editPage('devmount:zebracorn', '====== Zebracorn ======\n\nThe word quaggaflux appears only here.\n');
    // Each page view embeds the taskrunner's 1×1 GIF; the indexer runs after the GIF has been sent.
    let found = false;
    for (let attempt = 0; attempt < 20 && !found; attempt++) {
      await page.goto(`${site.origin}/doku.php?id=start&do=search&q=quaggaflux`);
      found = (await page.locator('.search_fulltextresult, .search_results').allInnerTexts()).join(' ').includes('zebracorn');
      if (!found) await delay(500);
    }
    expect(found).toBe(true);
    // A run that was killed would have left the indexer lock behind (DokuWiki then skips indexing for 5 minutes).
    expect((await readdir(path.join(wiki.root, 'data/locks'))).filter((name) => name.startsWith('_indexer'))).toEqual([]);
    const runner = site.logs.filter((l) => JSON.stringify(l).includes('taskrunner.php'));
    expect(runner.filter((l) => typeof l.level === 'number' && l.level >= 50)).toEqual([]);
  });

  test('protected directories and files answer 403, DokuWiki\'s RedirectMatch 404 /\\.git applies', async () => {
    const cases: ReadonlyArray<readonly [string, number]> = [
      ['/data/pages/wiki/welcome.txt', 403],
      ['/data/', 403],
      ['/conf/local.php', 403],
      ['/conf/users.auth.php', 403],
      ['/conf/', 403],
      ['/inc/init.php', 403],
      ['/bin/indexer.php', 403],
      ['/vendor/autoload.php', 403],
      ['/VERSION', 403],
      ['/.git/config', 404],
      ['/lib/exe/.git', 404],
      ['/doku.php', 200],
      ['/lib/tpl/dokuwiki/images/logo.png', 200],
    ];
    const got: Array<readonly [string, number]> = [];
    for (const [target] of cases) got.push([target, (await fetch(`${site.origin}${target}`, { redirect: 'manual' })).status]);
    expect(got).toEqual(cases);
  });

  test('no page raised an error and no script failed', () => {
    expect(pageErrors).toEqual([]);
    expect(site.logs.filter((l) => typeof l.level === 'number' && l.level >= 50)).toEqual([]);
  });
});
