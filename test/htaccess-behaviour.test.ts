import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHtaccess, splitArgs, type ParseWarning } from '../devserver/htaccess/parser.js';
import { compileHtaccess } from '../devserver/htaccess/config.js';
import { startPhpSite, type PhpSite } from './helpers/php-site.js';

describe('.htaccess parser', () => {
  it('splits arguments like ap_getword_conf', () => {
    expect(splitArgs(' set X-A "two words" \'single q\' "esc \\" q"')).toEqual(['set', 'X-A', 'two words', 'single q', 'esc " q']);
  });

  it('joins continuation lines, resolves IfModule, collects Files sections, reports unclosed blocks', () => {
    const warnings: ParseWarning[] = [];
    const parsed = parseHtaccess([
      'RewriteEngine \\',
      '  On',
      '<IfModule mod_rewrite.c>',
      '  <IfModule !mod_rewrite.c>',
      '    Deny from all',
      '  </IfModule>',
      '  RewriteRule ^a$ b [L]',
      '</IfModule>',
      '<IfModule mod_php5.c>',
      '  php_value memory_limit 1G',
      '</IfModule>',
      '<Files "x.txt">',
      '  Require all denied',
      '</Files>',
      '<Directory /x>',
    ].join('\n'), '/.htaccess', (w) => warnings.push(w));
    expect(parsed.directives.map((d) => [d.name, d.args, d.line])).toEqual([
      ['RewriteEngine', ['On'], 1],
      ['RewriteRule', ['^a$', 'b', '[L]'], 7],
    ]);
    expect(parsed.sections).toHaveLength(1);
    expect(warnings.map((w) => w.line)).toEqual([9, 15, 15]);
  });

  it('reports every unsupported directive, flag and variable with its line', () => {
    const warnings: ParseWarning[] = [];
    const parsed = parseHtaccess([
      'ExpiresActive On',
      'RewriteEngine On',
      'RewriteCond %{TIME_HOUR} ^1',
      'RewriteRule ^x$ y [L,CO=a:b]',
      'Header set X-A b env=FOO',
      'Options +ExecCGI',
    ].join('\n'), '/.htaccess', () => undefined);
    compileHtaccess(parsed, '/', (w) => warnings.push(w));
    expect(warnings.map((w) => w.line).sort()).toEqual([1, 3, 4, 5, 6]);
  });
});

describe('Redirect/RedirectMatch statuses (mod_alias)', () => {
  it('takes a URL only with a 3xx status, and reports the line otherwise', () => {
    const warnings: ParseWarning[] = [];
    const parsed = parseHtaccess([
      'RedirectMatch 404 /\\.git',
      'Redirect 403 /private',
      'Redirect gone /old',
      'Redirect 404 /x /y',
      'Redirect 301 /z',
      'Redirect 301 /a /b /c',
      'Redirect 999 /q',
      'Redirect seeother /other /new',
    ].join('\n'), '/.htaccess', () => undefined);
    const config = compileHtaccess(parsed, '/', (w) => warnings.push(w));
    expect(config.redirects.map((r) => [r.status, r.target])).toEqual([[404, null], [403, null], [410, null], [303, '/new']]);
    expect(warnings.map((w) => w.line)).toEqual([4, 5, 6, 7]);
  });
});

describe('.htaccess on the dev server', () => {
  let site: PhpSite;
  beforeAll(async () => {
    site = await startPhpSite({
      '.htaccess': [
        'ExpiresActive On',
        'Header always set X-Frame-Options DENY',
        'Header unset X-Powered-By',
        'Header append Cache-Control "private"',
        'RewriteEngine On',
        'RewriteRule ^loop-(.*)$ loop-x$1 [L]',
        'RewriteRule ^sneaky$ .htpasswd [L]',
      ].join('\n'),
      '.htpasswd': 'user:secret\n',
      'page.php': '<?php header("X-Powered-By: PHP/8"); header("Cache-Control: no-cache"); echo "page";',
      'sub/.htaccess': 'Options -Indexes\n',
      'sub/file.txt': 'file\n',
      'sub/.htaccess.bak': 'backup\n',
      'listed/.htaccess': 'Options +Indexes\n',
      'listed/one.txt': 'one\n',
      'changing/.htaccess': '# nothing yet\n',
      'changing/doc.txt': 'doc\n',
    });
  });
  afterAll(async () => { await site.close(); });

  it('never serves .htaccess or .htpasswd, not even through a rewrite', async () => {
    for (const target of ['/.htaccess', '/.htpasswd', '/sub/.htaccess', '/sub/.htaccess.bak', '/%2ehtaccess', '/sneaky']) {
      const res = await fetch(site.origin + target);
      const body = await res.text();
      expect(res.status, target).toBe(404);
      expect(body, target).not.toMatch(/secret|Options|backup/);
    }
  });

  it('applies Header set/unset/append to script responses, and "always" to errors', async () => {
    const res = await fetch(`${site.origin}/page.php`);
    expect(await res.text()).toBe('page');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('cache-control')).toBe('no-cache, private');
    const missing = await fetch(`${site.origin}/nope.txt`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-frame-options')).toBe('DENY');
  });

  it('Options -Indexes forbids a listing, +Indexes allows it', async () => {
    expect((await fetch(`${site.origin}/sub/`)).status).toBe(403);
    const listed = await fetch(`${site.origin}/listed/`);
    expect(listed.status).toBe(200);
    expect(await listed.text()).toContain('one.txt');
  });

  it('stops an internal redirect loop with a 500', async () => {
    expect((await fetch(`${site.origin}/loop-a`)).status).toBe(500);
  });

  it('warns once per file and line about unsupported directives', async () => {
    await fetch(`${site.origin}/page.php`);
    await fetch(`${site.origin}/sub/file.txt`);
    const expires = site.logs.filter((l) => String(l.msg).includes('ExpiresActive'));
    expect(expires).toHaveLength(1);
    expect(expires[0]).toMatchObject({ level: 40, line: 1 });
    expect(String(expires[0]?.file)).toBe('/.htaccess');
  });

  it('re-reads an .htaccess for the very next request after it changes, as Apache does', async () => {
    // WordPress writes .htaccess and at once requests a pretty URL from itself, before any watcher event.
    expect((await fetch(`${site.origin}/changing/doc.txt`)).status).toBe(200);
    await writeFile(path.join(site.root, 'changing/.htaccess'), 'Require all denied\n');
    expect((await fetch(`${site.origin}/changing/doc.txt`)).status).toBe(403);
    await writeFile(path.join(site.root, 'changing/.htaccess'), 'Require all granted\n# longer than before\n');
    expect((await fetch(`${site.origin}/changing/doc.txt`)).status).toBe(200);
  });
});
