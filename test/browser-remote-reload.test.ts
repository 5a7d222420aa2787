/**
 * Issue 5 in a real browser (Debian chromium driven by playwright-core): a page served from the remote
 * (`serve user@host:/path` over the harness sshd) reloads by itself when the file is changed on the server side,
 * and a stylesheet edited on the server is swapped without a navigation.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { MountStackParts } from '../cli/mount-stack.js';
import type { RemoteServe } from '../cli/remote-serve.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { eventually, openStack, serveStack } from './remote-serve-helpers.js';

let sshd: Sshd;
let site: string;
let parts: MountStackParts;
let served: RemoteServe;
let browser: Browser;
let page: Page;
let navigations = 0;

const PAGE = (marker: string) => `<!doctype html><html><head><link rel="stylesheet" href="/css/site.css"></head>
<body><h1 id="title">${marker}</h1></body></html>`;

beforeAll(async () => {
  sshd = await startSshd();
  site = join(sshd.root, 'site');
  await mkdir(join(site, 'css'), { recursive: true });
  await writeFile(join(site, 'index.html'), PAGE('from the remote'));
  await writeFile(join(site, 'css', 'site.css'), '#title { color: rgb(255, 0, 0); }\n');
  parts = await openStack(sshd, site);
  served = await serveStack(parts, 'auto');
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
  page = await browser.newPage();
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations++;
  });
  await page.goto(served.server.url);
  expect(await eventually(async () => (served.server.liveReload?.clientCount ?? 0) === 1, 10_000)).toBe(true);
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
  await parts?.vfs.close();
  await sshd?.stop();
});

const title = () => page.$eval('#title', (el) => el.textContent);
const colour = () => page.$eval('#title', (el) => getComputedStyle(el).color);

test('the page open from the remote reloads by itself when the file is changed on the server', async () => {
  expect(await title()).toBe('from the remote');
  const before = navigations;
  await writeFile(join(site, 'index.html'), PAGE('changed on the server'));
  expect(await eventually(async () => (await title().catch(() => null)) === 'changed on the server', 15_000)).toBe(true);
  expect(navigations).toBe(before + 1);
  expect(await eventually(async () => (served.server.liveReload?.clientCount ?? 0) === 1, 10_000)).toBe(true);
});

test('a stylesheet changed on the server is swapped without a navigation', async () => {
  expect(await colour()).toBe('rgb(255, 0, 0)');
  const before = navigations;
  await writeFile(join(site, 'css', 'site.css'), '#title { color: rgb(0, 0, 255); }\n');
  expect(await eventually(async () => (await colour()) === 'rgb(0, 0, 255)', 15_000)).toBe(true);
  expect(navigations).toBe(before);
});
