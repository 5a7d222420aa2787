/**
 * The rewrite table: sites (with WordPress's and Laravel's .htaccess verbatim) and, for each request, what the
 * client must get (status, Location, body) and what the PHP script must see. Run against devmount
 * (rewrite-table.test.ts) and, as a differential check, against a real Apache with mod_php
 * (rewrite-apache.test.ts).
 */
import type { SiteFiles } from './php-site.js';

/** A PHP script that reports what it sees, as JSON. */
export const REPORT_SCRIPT = `<?php
header('Content-Type: application/json');
echo json_encode([
  'script' => $_SERVER['SCRIPT_NAME'],
  'uri' => $_SERVER['REQUEST_URI'],
  'query' => $_SERVER['QUERY_STRING'] ?? '',
  'pathInfo' => $_SERVER['PATH_INFO'] ?? '',
  'method' => $_SERVER['REQUEST_METHOD'],
]);
`;

/** https://developer.wordpress.org/advanced-administration/server/web-server/httpd/ (basic WordPress). */
export const WORDPRESS_HTACCESS = `# BEGIN WordPress

RewriteEngine On
RewriteRule .* - [E=HTTP_AUTHORIZATION:%{HTTP:Authorization}]
RewriteBase /
RewriteRule ^index\\.php$ - [L]
RewriteCond %{REQUEST_FILENAME} !-f
RewriteCond %{REQUEST_FILENAME} !-d
RewriteRule . /index.php [L]

# END WordPress
`;

/** laravel/laravel public/.htaccess (11.x). */
export const LARAVEL_HTACCESS = `<IfModule mod_rewrite.c>
    <IfModule mod_negotiation.c>
        Options -MultiViews -Indexes
    </IfModule>

    RewriteEngine On

    # Handle Authorization Header
    RewriteCond %{HTTP:Authorization} .
    RewriteRule .* - [E=HTTP_AUTHORIZATION:%{HTTP:Authorization}]

    # Handle X-XSRF-Token Header
    RewriteCond %{HTTP:x-xsrf-token} .
    RewriteRule .* - [E=HTTP_X_XSRF_TOKEN:%{HTTP:X-XSRF-Token}]

    # Redirect Trailing Slashes If Not A Folder...
    RewriteCond %{REQUEST_FILENAME} !-d
    RewriteCond %{REQUEST_URI} (.+)/$
    RewriteRule ^ %1 [L,R=301]

    # Send Requests To Front Controller...
    RewriteCond %{REQUEST_FILENAME} !-d
    RewriteCond %{REQUEST_FILENAME} !-f
    RewriteRule ^ index.php [L]
</IfModule>
`;

export interface ScriptView {
  readonly script: string;
  readonly uri: string;
  readonly query: string;
  readonly pathInfo: string;
}

export interface RewriteCase {
  readonly method?: string;
  readonly target: string;
  readonly headers?: Record<string, string>;
  readonly status: number;
  /** '{origin}' stands for http://127.0.0.1:PORT. */
  readonly location?: string;
  readonly body?: string;
  readonly script?: ScriptView;
  /** A response header and its value; null: the header must be absent. */
  readonly header?: readonly [string, string | null];
}

export interface RewriteSite {
  readonly name: string;
  readonly files: SiteFiles;
  readonly cases: readonly RewriteCase[];
}

/** What the report script must show: SCRIPT_NAME, REQUEST_URI, QUERY_STRING, PATH_INFO. */
export const view = (script: string, uri: string, query = '', pathInfo = ''): ScriptView => ({ script, uri, query, pathInfo });

export const REWRITE_SITES: readonly RewriteSite[] = [
  {
    name: 'WordPress',
    files: {
      '.htaccess': WORDPRESS_HTACCESS,
      'index.php': REPORT_SCRIPT,
      'real.txt': 'real file\n',
      'wp-content/themes/style.css': 'body{}\n',
      'wp-admin/index.php': REPORT_SCRIPT,
    },
    cases: [
      { target: '/hello-world/', status: 200, script: view('/index.php', '/hello-world/') },
      { target: '/2024/01/post?x=1&y', status: 200, script: view('/index.php', '/2024/01/post?x=1&y', 'x=1&y') },
      { target: '/real.txt', status: 200, body: 'real file\n' },
      { target: '/wp-content/themes/style.css', status: 200, body: 'body{}\n' },
      { target: '/', status: 200, script: view('/index.php', '/') },
      { target: '/?p=12', status: 200, script: view('/index.php', '/?p=12', 'p=12') },
      { target: '/index.php', status: 200, script: view('/index.php', '/index.php') },
      { target: '/wp-admin/', status: 200, script: view('/wp-admin/index.php', '/wp-admin/') },
      { target: '/index.php/feed/atom', status: 200, script: view('/index.php', '/index.php/feed/atom', '', '/feed/atom') },
      // PATH_INFO after a static file: REQUEST_FILENAME is the file, so no rewrite, and the default handler refuses it.
      { target: '/real.txt/extra', status: 404 },
      { target: '/wp-admin', status: 301, location: '{origin}/wp-admin/' },
    ],
  },
  {
    name: 'Laravel public/',
    files: {
      '.htaccess': LARAVEL_HTACCESS,
      'index.php': REPORT_SCRIPT,
      'css/app.css': '.app{}\n',
      'docs/guide.html': 'guide\n',
    },
    cases: [
      { target: '/users/5', status: 200, script: view('/index.php', '/users/5') },
      { target: '/users?sort=asc', status: 200, script: view('/index.php', '/users?sort=asc', 'sort=asc') },
      { target: '/users/5/', status: 301, location: '{origin}/users/5' },
      { target: '/users/5/?a=b', status: 301, location: '{origin}/users/5?a=b' },
      { target: '/css/app.css', status: 200, body: '.app{}\n' },
      { target: '/docs/guide.html', status: 200, body: 'guide\n' },
      { target: '/docs/', status: 403 },
      { target: '/?page=2', status: 200, script: view('/index.php', '/?page=2', 'page=2') },
      { method: 'POST', target: '/login', status: 200, script: view('/index.php', '/login') },
    ],
  },
  {
    name: 'flags and conditions',
    files: {
      '.htaccess': `RewriteEngine On
RewriteRule ^old\\.html$ /new.html [R=301,L]
RewriteRule ^blocked/ - [F]
RewriteRule ^gone$ - [G]
RewriteRule ^products/([0-9]+)$ product.php?id=$1 [QSA,L]
RewriteRule ^items/([0-9]+)$ product.php?id=$1 [L]
RewriteCond %{QUERY_STRING} (^|&)lang=([a-z]+)
RewriteRule ^page$ page-%2.html [L]
RewriteCond %{REQUEST_METHOD} =POST
RewriteRule ^form$ handler.php [L]
RewriteRule ^CaseTest$ new.html [NC,L]
RewriteCond %{HTTP_HOST} ^nomatch\\.example$ [OR]
RewriteCond %{REQUEST_URI} ^/either
RewriteRule ^either new.html [L]
RewriteRule ^ext/(.*)$ http://example.com/$1 [R=302,L]
RewriteRule ^sub/(.*)$ sub/$1 [L]
RewriteCond %{HTTPS} !=on
RewriteRule ^secure$ https://%{HTTP_HOST}/secure [R=301,L]
Redirect 301 /moved /new.html
RedirectMatch 302 ^/year/(\\d+)$ /archive.php?y=$1
`,
      'new.html': 'new\n',
      'page-en.html': 'english\n',
      'product.php': REPORT_SCRIPT,
      'handler.php': REPORT_SCRIPT,
      'archive.php': REPORT_SCRIPT,
      'sub/x.txt': 'sub x\n',
    },
    cases: [
      { target: '/old.html', status: 301, location: '{origin}/new.html' },
      { target: '/old.html?keep=1', status: 301, location: '{origin}/new.html?keep=1' },
      { target: '/blocked/thing', status: 403 },
      { target: '/gone', status: 410 },
      { target: '/products/42?color=red', status: 200, script: view('/product.php', '/products/42?color=red', 'id=42&color=red') },
      { target: '/items/42?color=red', status: 200, script: view('/product.php', '/items/42?color=red', 'id=42') },
      { target: '/page?lang=en', status: 200, body: 'english\n' },
      { method: 'POST', target: '/form', status: 200, script: view('/handler.php', '/form') },
      { target: '/form', status: 404 },
      { target: '/casetest', status: 200, body: 'new\n' },
      { target: '/either/x', status: 200, body: 'new\n' },
      { target: '/ext/foo?a=1', status: 302, location: 'http://example.com/foo?a=1' },
      { target: '/sub/x.txt', status: 200, body: 'sub x\n' },
      { target: '/secure', status: 301, location: 'https://127.0.0.1:{port}/secure' },
      { target: '/moved', status: 301, location: '{origin}/new.html' },
      { target: '/moved/deeper', status: 301, location: '{origin}/new.html/deeper' },
      { target: '/year/2020', status: 302, location: '{origin}/archive.php?y=2020' },
    ],
  },
  {
    // mod_alias with statuses outside 3xx: no URL argument; the request gets that error (DokuWiki's .htaccess
    // has `RedirectMatch 404 /\.git`).
    name: 'Redirect and RedirectMatch statuses',
    files: {
      '.htaccess': `RedirectMatch 404 /\\.git
RedirectMatch 404 \\.bak$
Redirect 403 /private-area
Redirect 410 /removed
Redirect gone /old-gone
RedirectMatch gone ^/retired/
RedirectMatch 410 ^/gone-too$
Redirect seeother /other /new.html
Redirect permanent /perm /new.html
Redirect temp /tmpred /new.html
`,
      '.git/config': '[core]\n',
      'x.bak': 'backup\n',
      'private-area/a.txt': 'private\n',
      'removed': 'removed\n',
      'old-gone/x': 'old\n',
      'retired/a': 'retired\n',
      'gone-too': 'gone\n',
      'new.html': 'new\n',
    },
    cases: [
      { target: '/.git/config', status: 404 },
      { target: '/x.bak', status: 404 },
      { target: '/private-area/a.txt', status: 403 },
      { target: '/private-area', status: 403 },
      { target: '/removed', status: 410 },
      { target: '/old-gone/x', status: 410 },
      { target: '/retired/a', status: 410 },
      { target: '/gone-too', status: 410 },
      { target: '/other', status: 303, location: '{origin}/new.html' },
      { target: '/perm', status: 301, location: '{origin}/new.html' },
      { target: '/tmpred', status: 302, location: '{origin}/new.html' },
      { target: '/new.html', status: 200, body: 'new\n' },
    ],
  },
  {
    name: 'access, errors, headers, types',
    files: {
      '.htaccess': `DirectoryIndex home.html
ErrorDocument 404 /errors/404.html
ErrorDocument 403 "Nope"
<Files "secret.txt">
Require all denied
</Files>
<FilesMatch "\\.(bak|sql)$">
Order allow,deny
Deny from all
</FilesMatch>
Header set X-Site "devmount-test"
AddType text/x-custom .cst
`,
      'home.html': 'home\n',
      'errors/404.html': 'custom 404\n',
      'secret.txt': 'secret\n',
      'dump.sql': 'sql\n',
      'db.bak': 'bak\n',
      'private/.htaccess': 'Require all denied\n',
      'private/a.txt': 'private\n',
      'legacy/.htaccess': 'Order deny,allow\nDeny from all\n',
      'legacy/a.txt': 'legacy\n',
      'open/.htaccess': 'Require all granted\nDirectoryIndex start.html\n',
      'open/start.html': 'start\n',
      'data.cst': 'custom\n',
    },
    cases: [
      { target: '/', status: 200, body: 'home\n', header: ['x-site', 'devmount-test'] },
      { target: '/missing.html', status: 404, body: 'custom 404\n' },
      { target: '/secret.txt', status: 403, body: 'Nope' },
      { target: '/dump.sql', status: 403 },
      { target: '/db.bak', status: 403 },
      { target: '/private/a.txt', status: 403 },
      { target: '/legacy/a.txt', status: 403 },
      { target: '/open/', status: 200, body: 'start\n' },
      { target: '/data.cst', status: 200, body: 'custom\n', header: ['content-type', 'text/x-custom'] },
    ],
  },
  {
    name: 'ErrorDocument script',
    files: {
      '.htaccess': 'ErrorDocument 404 /handler.php\n',
      'handler.php': `<?php echo json_encode(['status' => $_SERVER['REDIRECT_STATUS'], 'url' => $_SERVER['REDIRECT_URL'] ?? null, 'uri' => $_SERVER['REQUEST_URI']]);`,
      'here.txt': 'here\n',
    },
    cases: [
      { target: '/missing.html?x=1', status: 404, body: '{"status":"404","url":"\\/missing.html","uri":"\\/missing.html?x=1"}' },
      { target: '/here.txt', status: 200, body: 'here\n' },
    ],
  },
];
