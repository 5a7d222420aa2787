/**
 * In a real browser (Debian chromium driven by playwright-core): a page served from the remote
 * (`serve user@host:/path` over the harness sshd) reloads by itself when the file is changed on the server side,
 * and a stylesheet edited on the server is swapped without a navigation.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launchChromium, onMainFrameNavigation, STYLED_PAGE } from './helpers/browser.js';
import type { RemoteServe } from '../cli/remote-serve.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { serveRemote, type ServedRemote } from './remote-serve-helpers.js';
import { eventually } from './helpers/eventually.js';

let sshd: Sshd;
let site: string;
let stack: ServedRemote;
let served: RemoteServe;
let browser: Browser;
let page: Page;
let navigations = 0;

beforeAll(async () => {
  sshd = await startSshd();
  site = join(sshd.root, 'site');
  await mkdir(join(site, 'css'), { recursive: true });
  await writeFile(join(site, 'index.html'), STYLED_PAGE('from the remote'));
  await writeFile(join(site, 'css', 'site.css'), '#title { color: rgb(255, 0, 0); }\n');
  stack = await serveRemote(sshd, site, 'auto');
  ({ served } = stack);
  browser = await launchChromium();
  page = await browser.newPage();
  onMainFrameNavigation(page, () => { navigations++; });
  await page.goto(served.server.url);
  await eventually(async () => (served.server.liveReload?.clientCount ?? 0) === 1, 10_000);
});

afterAll(async () => {
  await browser?.close();
  await stack?.close();
  await sshd?.stop();
});

const title = () => page.$eval('#title', (el) => el.textContent);
const colour = () => page.$eval('#title', (el) => getComputedStyle(el).color);

test('the page open from the remote reloads by itself when the file is changed on the server', async () => {
  expect(await title()).toBe('from the remote');
  const before = navigations;
  await writeFile(join(site, 'index.html'), STYLED_PAGE('changed on the server'));
  await eventually(async () => (await title().catch(() => null)) === 'changed on the server', 15_000);
  expect(navigations).toBe(before + 1);
  await eventually(async () => (served.server.liveReload?.clientCount ?? 0) === 1, 10_000);
});

test('a stylesheet changed on the server is swapped without a navigation', async () => {
  expect(await colour()).toBe('rgb(255, 0, 0)');
  const before = navigations;
  await writeFile(join(site, 'css', 'site.css'), '#title { color: rgb(0, 0, 255); }\n');
  await eventually(async () => (await colour()) === 'rgb(0, 0, 255)', 15_000);
  expect(navigations).toBe(before);
});
