/** Chromium for the live-reload browser tests: Debian's /usr/bin/chromium driven by playwright-core, headless. */
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** A page whose title's colour comes from /css/site.css: a CSS swap shows in the computed style, a reload in the marker. */
export const STYLED_PAGE = (marker: string): string => `<!doctype html><html><head><link rel="stylesheet" href="/css/site.css"></head>
<body><h1 id="title">${marker}</h1></body></html>`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
}

/** Calls `onNavigation` each time the main frame navigates (a reload counts; a CSS swap does not). */
export function onMainFrameNavigation(page: Page, onNavigation: () => void): void {
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) onNavigation();
  });
}

/**
 * Chromium for the real-application tests: only loopback is reachable. Host names other than 127.0.0.1/localhost
 * resolve to nothing inside Chromium (--host-resolver-rules, so no DNS query leaves the machine), and every
 * request to another host is aborted in the context and recorded (gravatar.com avatars, s.w.org emoji, …).
 */
export interface AppBrowser {
  readonly browser: Browser;
  readonly context: BrowserContext;
  /** One page, 30 s default timeout; its uncaught script errors (pageerror) go to `pageErrors`. */
  readonly page: Page;
  readonly pageErrors: string[];
  /** URLs of requests to other hosts, aborted before they left. */
  readonly refused: string[];
}

export async function launchLoopbackOnlyChromium(): Promise<AppBrowser> {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost'],
  });
  const context = await browser.newContext();
  const refused: string[] = [];
  await context.route((url) => !LOOPBACK_HOSTS.has(url.hostname), async (route) => {
    refused.push(route.request().url());
    await route.abort('blockedbyclient');
  });
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (err) => pageErrors.push(`${page.url()}: ${err.message}`));
  return { browser, context, page, pageErrors, refused };
}

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The text and the computed colour of STYLED_PAGE's #title (what a reload and a CSS swap change). */
export const titleText = (page: Page): Promise<string | null> => page.$eval('#title', (el) => el.textContent);
export const titleColour = (page: Page): Promise<string> => page.$eval('#title', (el) => getComputedStyle(el).color);
