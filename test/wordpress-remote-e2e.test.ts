/**
 * Acceptance: a WordPress site on a server far away — files and MariaDB in a network namespace
 * (test/helpers/netns-server.ts), the database reachable only there, `siteurl`/`home` https://www.example.com —
 * served with `devmount serve root@…:/path`. Chromium loads the front page, logs in, edits a post in wp-admin
 * (Quick Edit, admin-ajax) and uploads an image that lands on the server, all on localhost: no request leaves
 * loopback (Chromium's, WordPress's own HTTP API, and the sockets of the devmount process tree), so nothing ever
 * redirects to the production URL. Database as WordPress's default `localhost` (the server's socket, found
 * through its client configuration) and as `127.0.0.1` (TCP).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ExitCode } from '../cli/exit-codes.js';
import { launchChromium } from './helpers/browser.js';
import { createCliEnv, type CliEnv } from './mount-cli-helpers.js';
import { startNetnsServer, watchNonLoopback, type LeakWatch, type NetnsServer } from './helpers/netns-server.js';
import { startServeProcess, type ServeProcess } from './helpers/serve-process.js';
import { createWordPressSite, installWordPress, WP_ADMIN_PASSWORD, WP_ADMIN_USER, type WordPressSite } from './helpers/wordpress.js';

const PRODUCTION = 'https://www.example.com';
/** A 1×1 PNG. */
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

let lab: NetnsServer;
let cli: CliEnv;
let wp: WordPressSite;
let browser: Browser;

beforeAll(async () => {
  cli = await createCliEnv();
  const mysqlHome = join(cli.scratch, 'mysql-home');
  await mkdir(mysqlHome);
  lab = await startNetnsServer({
    mariadb: { listen: { host: '127.0.0.1', port: 3306 }, database: 'wordpress', user: 'wp', password: 'wp-db-secret' },
    sshd: { extraConfig: `SetEnv MYSQL_HOME=${mysqlHome}` },
  });
  // The server's client configuration names its socket, as /etc/mysql/my.cnf does on a real server.
  await writeFile(join(mysqlHome, 'my.cnf'), `[client]\nsocket=${lab.db!.socket}\n`);
  // Installed "on the server": php-cli there reaches the database's socket directly.
  wp = await createWordPressSite(lab.db!);
  await installWordPress(wp, { siteUrl: PRODUCTION });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await wp?.close();
  await lab?.stop();
  await cli?.cleanup();
});

/** Points the site's DB_HOST at `host`, as the person's production wp-config.php would. */
async function setDbHost(host: string): Promise<void> {
  const file = join(wp.root, 'wp-config.php');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace(/define\('DB_HOST', '[^']*'\);/, `define('DB_HOST', '${host}');`));
}

async function serve(): Promise<ServeProcess> {
  // No live reload: WordPress writes files on the server while it runs (its harness log, uploads), and a
  // reload in the middle of a form submission would make the navigations below ambiguous.
  return startServeProcess([`${lab.sshd.user}@127.0.0.1:${wp.root}`, '--no-livereload',
    '-o', `Port=${lab.port},IdentityFile=${lab.sshd.privateKeyPath},UserKnownHostsFile=${lab.knownHostsPath}`], cli.env, 120_000);
}

/** A page whose every non-loopback request is refused and recorded (a redirect to production would show here). */
async function loopbackOnlyPage(offLoopback: string[]): Promise<Page> {
  const page = await browser.newPage();
  page.setDefaultTimeout(60_000);
  await page.route('**/*', async (route) => {
    const url = new URL(route.request().url());
    if (url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]') {
      await route.continue();
      return;
    }
    offLoopback.push(url.href);
    await route.abort('blockedbyclient');
  });
  return page;
}

const toProduction = (url: string): boolean => new URL(url).hostname === 'www.example.com';

/**
 * Stops the server (exit 0) and checks that nothing reached production or left loopback: no socket of the
 * devmount process tree had a non-loopback peer; Chromium never asked for the production host (no redirect, no
 * link left pointing there; third-party resources such as Gravatar avatars were refused by the route and never
 * left either); WordPress's own HTTP API (the harness's loopback-only plugin records what it refused) never
 * called the production host (WP-Cron is off locally; api.wordpress.org update checks are refused there).
 */
async function stopAndCheckNothingLeft(server: ServeProcess, leaks: LeakWatch, offLoopback: readonly string[]): Promise<void> {
  const seen = await leaks.stop();
  expect(await server.stop()).toBe(ExitCode.ok);
  expect(seen).toEqual([]);
  expect(offLoopback.filter(toProduction)).toEqual([]);
  expect((await wp.blockedRequests()).filter(toProduction)).toEqual([]);
}

async function logIn(page: Page, origin: string): Promise<void> {
  await page.goto(`${origin}/wp-login.php`);
  expect(new URL(page.url()).origin).toBe(origin);
  // wp-login.php focuses a field 200 ms after load, clearing the password first when it knows the user
  // (wp_attempt_focus): fill the form only once that has run, or the password may be wiped after it was typed.
  await page.waitForFunction(() => ['user_login', 'user_pass'].includes(document.activeElement?.id ?? ''));
  await page.fill('#user_login', WP_ADMIN_USER);
  await page.fill('#user_pass', WP_ADMIN_PASSWORD);
  await Promise.all([page.waitForNavigation(), page.click('#wp-submit')]);
  // A refused login comes back to wp-login.php with its reason in #login_error.
  expect(page.url(), (await page.locator('#login_error').textContent({ timeout: 1000 }).catch(() => null)) ?? 'no #login_error').toMatch(new RegExp(`^${origin}/wp-admin/`));
  expect(await page.textContent('#wpadminbar')).toContain('Howdy');
}

async function uploadsOnServer(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) await walk(join(dir, entry.name));
      else found.push(join(dir, entry.name));
    }
  };
  await walk(join(wp.root, 'wp-content/uploads'));
  return found;
}

test('DB_HOST localhost (the server socket): front page, login, Quick Edit of a post, a media upload — on localhost, nothing off loopback', async () => {
  await setDbHost('localhost');
  const server = await serve();
  const leaks = watchNonLoopback(server.child.pid!);
  const offLoopback: string[] = [];
  try {
    const origin = server.url.replace(/\/$/, '');
    expect(server.stdout()).toMatch(/the site talks to the server's LIVE database "wordpress" \(from wp-config\.php\): \S+mysqld\.sock on the server/);
    expect(server.stdout()).toContain(`production URL ${PRODUCTION} (WordPress "home", read from its database)`);
    expect(server.stdout()).toContain('devmount serve: WP-Cron is off here (DISABLE_WP_CRON)');
    const page = await loopbackOnlyPage(offLoopback);

    const front = await page.goto(`${origin}/`);
    expect(front?.status()).toBe(200);
    expect(new URL(page.url()).origin).toBe(origin);
    expect(await page.title()).toContain('devmount test site');
    expect(await page.content()).not.toContain('www.example.com');
    await logIn(page, origin);

    // Quick Edit in the posts list: WordPress's admin-ajax.php saves the new title.
    await page.goto(`${origin}/wp-admin/edit.php`);
    const row = page.locator('#the-list tr').first();
    await row.hover();
    await row.locator('button.editinline').click();
    const editor = page.locator('#the-list tr.inline-edit-row');
    await editor.locator('input[name="post_title"]').fill('Edited from localhost');
    await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/wp-admin/admin-ajax.php') && r.status() === 200),
      editor.locator('button.save').click(),
    ]);
    await page.locator('#the-list a.row-title', { hasText: 'Edited from localhost' }).waitFor();
    expect(await lab.db!.query("SELECT COUNT(*) FROM wordpress.wp_posts WHERE post_title = 'Edited from localhost' AND post_type = 'post';")).toEqual([['1']]);
    // The media library's plain upload form (media-new.php?browser-uploader): the file goes to the server.
    const upload = join(cli.scratch, 'pixel-from-localhost.png');
    await writeFile(upload, PNG);
    await page.goto(`${origin}/wp-admin/media-new.php?browser-uploader`);
    await page.setInputFiles('#async-upload', upload);
    await Promise.all([page.waitForURL(`${origin}/wp-admin/upload.php**`), page.click('#html-upload')]);
    const files = await uploadsOnServer();
    expect(files.some((f) => f.endsWith('/pixel-from-localhost.png'))).toBe(true);
    const stored = files.find((f) => f.endsWith('/pixel-from-localhost.png')) as string;
    expect(await readFile(stored)).toEqual(PNG);
    expect(new URL(page.url()).origin).toBe(origin);
    await page.close();
  } finally {
    await stopAndCheckNothingLeft(server, leaks, offLoopback);
  }
}, 300_000);

test('DB_HOST 127.0.0.1 (TCP on the server): front page and login on localhost through the forwarded port', async () => {
  await setDbHost('127.0.0.1');
  const server = await serve();
  const leaks = watchNonLoopback(server.child.pid!);
  const offLoopback: string[] = [];
  try {
    const origin = server.url.replace(/\/$/, '');
    expect(server.stdout()).toMatch(/the site talks to the server's LIVE database "wordpress" \(from wp-config\.php\): 127\.0\.0\.1:3306 on the server, reached here at 127\.0\.0\.1:\d+/);
    const page = await loopbackOnlyPage(offLoopback);
    const front = await page.goto(`${origin}/`);
    expect(front?.status()).toBe(200);
    expect(await page.title()).toContain('devmount test site');
    await logIn(page, origin);
    await page.close();
  } finally {
    await stopAndCheckNothingLeft(server, leaks, offLoopback);
  }
}, 300_000);
