/**
 * Live reload in a real browser (Debian chromium driven by playwright-core): a CSS edit changes the computed
 * style without a navigation, an HTML edit reloads the page, 200 files touched at once reload it once, and
 * the page reconnects after the server restarts.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { launchChromium, onMainFrameNavigation, STYLED_PAGE } from './helpers/browser.js';
import type { DevServer } from '../devserver/server.js';
import { startServer } from './serve-fixture.js';
import { eventually } from './helpers/eventually.js';

let base: string;
let root: string;
let server: DevServer;
let browser: Browser;
let page: Page;
let navigations = 0;

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'devmount-browser-'));
  root = path.join(base, 'site');
  await mkdir(path.join(root, 'css'), { recursive: true });
  await mkdir(path.join(root, 'many'));
  await writeFile(path.join(root, 'index.html'), STYLED_PAGE('first'));
  await writeFile(path.join(root, 'css/site.css'), '#title { color: rgb(255, 0, 0); }\n');
  server = await startServer(root);
  browser = await launchChromium();
  page = await browser.newPage();
  onMainFrameNavigation(page, () => { navigations++; });
  await page.goto(server.url);
  // The page is live once its EventSource got the server's hello.
  await eventually(() => (server.liveReload?.clientCount ?? 0) === 1, 10_000, 'the page to connect');
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

const colour = () => page.$eval('#title', (el) => getComputedStyle(el).color);
const title = () => page.$eval('#title', (el) => el.textContent);

test('a CSS edit changes the computed style without a navigation', async () => {
  expect(await colour()).toBe('rgb(255, 0, 0)');
  const before = navigations;
  await writeFile(path.join(root, 'css/site.css'), '#title { color: rgb(0, 0, 255); }\n');
  await eventually(async () => (await colour()) === 'rgb(0, 0, 255)', 15_000, 'the new colour');
  expect(navigations).toBe(before);
});

test('an HTML edit reloads the page', async () => {
  const before = navigations;
  await writeFile(path.join(root, 'index.html'), STYLED_PAGE('second'));
  await eventually(async () => (await title().catch(() => null)) === 'second', 15_000, 'the reloaded page');
  expect(navigations).toBe(before + 1);
  await eventually(() => (server.liveReload?.clientCount ?? 0) === 1, 10_000, 'the page to reconnect');
});

test('200 files touched at once cause exactly one reload', async () => {
  const before = navigations;
  await Promise.all(Array.from({ length: 200 }, (_, i) => writeFile(path.join(root, 'many', `f${i}.js`), `// ${i}\n`)));
  await eventually(() => navigations > before, 15_000, 'a reload');
  // Past the coalescing window (2 s from the first change): a second reload would have happened by now.
  await new Promise((r) => setTimeout(r, 3000));
  expect(navigations).toBe(before + 1);
});

test('after a server restart the page reconnects and reloads once', async () => {
  const port = server.port;
  await server.close();
  await writeFile(path.join(root, 'index.html'), STYLED_PAGE('after restart'));
  const before = navigations;
  server = await startServer(root, { port, strictPort: true });
  await eventually(async () => (await title().catch(() => null)) === 'after restart', 15_000, 'the page after the restart');
  expect(navigations).toBe(before + 1);
});
