/**
 * --front-controller and layout detection: paths that are not files reach the application's index.php with the
 * client's REQUEST_URI and query (nginx's `try_files $uri $uri/ /index.php?$query_string`), files and
 * directories are served as they are, a routing .htaccess is left in charge, and `devmount serve` of a Laravel
 * project serves public/ and says so in one line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { detectAppLayout } from '../devserver/app-layout.js';
import { LocalFileSource } from '../devserver/sources/local.js';
import { startPhpSite, writeSite, type SiteFiles } from './helpers/php-site.js';
import { REPORT_SCRIPT, WORDPRESS_HTACCESS } from './helpers/rewrite-cases.js';
import { eventually } from './helpers/eventually.js';
import { freePort } from './helpers/net.js';

const BIN = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'devmount.js');
const temps: string[] = [];
afterAll(async () => { await Promise.all(temps.map((t) => rm(t, { recursive: true, force: true }))); });

async function siteDir(files: SiteFiles): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'devmount-fc-'));
  temps.push(dir);
  await writeSite(dir, files);
  return dir;
}

async function report(origin: string, target: string): Promise<Record<string, string>> {
  const res = await fetch(origin + target);
  expect(res.status).toBe(200);
  return await res.json() as Record<string, string>;
}

const WORDPRESS_LIKE: SiteFiles = {
  'wp-config.php': '<?php',
  'index.php': REPORT_SCRIPT,
  'style.css': 'body{}',
  'wp-admin/index.php': '<?php echo "admin";',
  'info.php': REPORT_SCRIPT,
};

describe('layout detection', () => {
  const cases: Array<[string, SiteFiles, string | null, string]> = [
    ['WordPress', { 'wp-config.php': '<?php', 'index.php': '<?php' }, 'WordPress', '/'],
    ['WordPress without wp-config.php', { 'wp-settings.php': '<?php', 'index.php': '<?php' }, 'WordPress', '/'],
    ['Laravel', { artisan: '#!/usr/bin/env php', 'public/index.php': '<?php' }, 'Laravel', '/public'],
    ['Symfony', { 'bin/console': '#!/usr/bin/env php', 'public/index.php': '<?php' }, 'Symfony', '/public'],
    ['Drupal', { 'core/lib/x.php': '<?php', 'index.php': '<?php' }, 'Drupal', '/'],
    ['a plain PHP site', { 'index.php': '<?php', 'about.php': '<?php' }, null, '/'],
    ['wp-config.php without index.php', { 'wp-config.php': '<?php' }, null, '/'],
  ];
  for (const [title, files, name, webRoot] of cases) {
    it(title, async () => {
      const source = await LocalFileSource.open(await siteDir(files), { watch: 'auto' });
      try {
        const layout = await detectAppLayout(source);
        expect(layout?.name ?? null).toBe(name);
        if (layout !== null) {
          expect(layout.webRoot).toBe(webRoot);
          expect(layout.script).toBe('/index.php');
        }
      } finally {
        await source.close();
      }
    });
  }
});

describe('front controller', () => {
  it('detected for WordPress without .htaccess: pretty URLs reach index.php, files and scripts are themselves', async () => {
    const site = await startPhpSite(WORDPRESS_LIKE);
    try {
      expect(await report(site.origin, '/2024/05/a-post/?replytocom=3')).toMatchObject({ script: '/index.php', uri: '/2024/05/a-post/?replytocom=3', query: 'replytocom=3' });
      expect(await report(site.origin, '/wp-json/wp/v2/posts')).toMatchObject({ script: '/index.php', uri: '/wp-json/wp/v2/posts' });
      expect(await report(site.origin, '/info.php/extra/path')).toMatchObject({ script: '/info.php', pathInfo: '/extra/path' });
      expect(await (await fetch(`${site.origin}/style.css`)).text()).toBe('body{}');
      expect(await (await fetch(`${site.origin}/wp-admin/`)).text()).toBe('admin');
      // A missing asset goes to the application too, as under nginx's try_files (WordPress answers its own 404).
      expect(await report(site.origin, '/wp-content/missing.css')).toMatchObject({ script: '/index.php' });
    } finally {
      await site.close();
    }
  });

  it('left to a .htaccess that routes, and off with --front-controller none', async () => {
    const routed = await startPhpSite({ ...WORDPRESS_LIKE, '.htaccess': WORDPRESS_HTACCESS });
    try {
      expect(await report(routed.origin, '/a-post/')).toMatchObject({ script: '/index.php', uri: '/a-post/' });
    } finally {
      await routed.close();
    }
    const off = await startPhpSite(WORDPRESS_LIKE, { flags: { frontController: 'none' } });
    try {
      expect((await fetch(`${off.origin}/a-post/`)).status).toBe(404);
    } finally {
      await off.close();
    }
  });

  it('--front-controller SCRIPT for any site; the query string is kept', async () => {
    const site = await startPhpSite({ 'app.php': REPORT_SCRIPT, 'index.html': 'home' }, { flags: { frontController: 'app.php' } });
    try {
      expect(await report(site.origin, '/users/42?tab=posts')).toMatchObject({ script: '/app.php', uri: '/users/42?tab=posts', query: 'tab=posts' });
      expect(await (await fetch(`${site.origin}/`)).text()).toBe('home');
    } finally {
      await site.close();
    }
  });
});

describe('devmount serve of an application directory', () => {
  function run(args: string[]): { child: ChildProcess; out: () => string; err: () => string } {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
    return { child, out: () => out, err: () => err };
  }

  it('a Laravel project: serves public/ with its index.php as front controller, printed in one line', async () => {
    const dir = await siteDir({ artisan: '#!/usr/bin/env php', '.env': 'APP_KEY=secret', 'public/index.php': REPORT_SCRIPT, 'public/robots.txt': 'User-agent: *' });
    const port = await freePort();
    const serve = run(['serve', dir, '--port', String(port), '--no-livereload']);
    try {
      await eventually(() => serve.out().includes(`http://127.0.0.1:${port}/`) || serve.child.exitCode !== null, 15_000, 'the start-up URLs');
      const lines = serve.out().split('\n').filter((l) => l.includes('layout'));
      expect(lines).toEqual(['devmount serve: Laravel layout (artisan): serving public/, front controller /index.php for paths that are not files (--front-controller none to turn off)']);
      expect(await report(`http://127.0.0.1:${port}`, '/dashboard?x=1')).toMatchObject({ script: '/index.php', uri: '/dashboard?x=1' });
      expect(await (await fetch(`http://127.0.0.1:${port}/robots.txt`)).text()).toBe('User-agent: *');
      // The project directory is not served: its .env is out of reach even by name.
      expect(await report(`http://127.0.0.1:${port}`, '/artisan')).toMatchObject({ script: '/index.php' });
    } finally {
      serve.child.kill('SIGTERM');
      await new Promise((resolve) => serve.child.once('exit', resolve));
    }
    expect(serve.err()).not.toContain('Error');
  });
});
