/**
 * Live reload of a PHP page in a real browser (Debian chromium driven by playwright-core): the page is built by
 * php-cgi from an included template; editing the template — a file no request ever named — reloads the page, and
 * a stylesheet edit is still swapped in place without a navigation.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launchChromium, onMainFrameNavigation, titleColour, titleText } from './helpers/browser.js';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';
import { eventually } from './helpers/eventually.js';

const TEMPLATE = (marker: string): string => `<!doctype html><html><head><link rel="stylesheet" href="/css/site.css"></head>
<body><h1 id="title"><?= htmlspecialchars(${JSON.stringify(marker)}) ?></h1></body></html>`;

let site: PhpSite;
let browser: Browser;
let page: Page;
let navigations = 0;

beforeAll(async () => {
  site = await startPhpSite({
    'index.php': '<?php require __DIR__ . "/templates/page.php";',
    'templates/page.php': TEMPLATE('first'),
    'css/site.css': '#title { color: rgb(255, 0, 0); }\n',
  }, { liveReload: true });
  browser = await launchChromium();
  page = await browser.newPage();
  onMainFrameNavigation(page, () => { navigations++; });
  await page.goto(`${site.origin}/`);
  await eventually(() => (site.server.liveReload?.clientCount ?? 0) === 1, 10_000, 'the page to connect');
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

const title = () => titleText(page);
const colour = () => titleColour(page);

test('editing the included template reloads the PHP page', async () => {
  expect(await title()).toBe('first');
  const before = navigations;
  await writeFile(path.join(site.root, 'templates/page.php'), TEMPLATE('second'));
  await eventually(async () => (await title().catch(() => null)) === 'second', 15_000, 'the reloaded page');
  expect(navigations).toBe(before + 1);
  await eventually(() => (site.server.liveReload?.clientCount ?? 0) === 1, 10_000, 'the page to reconnect');
});

test('a stylesheet edit is swapped in place on the PHP page', async () => {
  expect(await colour()).toBe('rgb(255, 0, 0)');
  const before = navigations;
  await writeFile(path.join(site.root, 'css/site.css'), '#title { color: rgb(0, 0, 255); }\n');
  await eventually(async () => (await colour()) === 'rgb(0, 0, 255)', 15_000, 'the new colour');
  expect(navigations).toBe(before);
});
