/** Chromium for the live-reload browser tests: Debian's /usr/bin/chromium driven by playwright-core, headless. */
import { chromium, type Browser, type Page } from 'playwright-core';

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

/** The text and the computed colour of STYLED_PAGE's #title (what a reload and a CSS swap change). */
export const titleText = (page: Page): Promise<string | null> => page.$eval('#title', (el) => el.textContent);
export const titleColour = (page: Page): Promise<string> => page.$eval('#title', (el) => getComputedStyle(el).color);
