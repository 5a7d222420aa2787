/**
 * The nginx table: server blocks (WordPress's from its documentation, and one exercising every supported
 * directive) and, per request, what the client must get. Run against a real nginx + php-fpm and against
 * devmount serve with the same block (nginx-differential.test.ts). {listen}, {root} and {php} are filled by
 * the runner (helpers/nginx.ts fillServerBlock).
 */
import { REPORT_SCRIPT, view, type RewriteCase } from './rewrite-cases.js';

export interface NginxCase extends RewriteCase {
  /**
   * Where devmount refuses on purpose what nginx does (a file outside the served root): real nginx's own answer,
   * checked against nginx instead of the fields above, so the difference stays visible in the table.
   */
  readonly nginx?: Pick<RewriteCase, 'status' | 'body'>;
}

export interface NginxTableSite {
  readonly name: string;
  readonly serverBlock: string;
  /** Paths relative to {root}; a '../' one lies outside it (the hostile rows' target). */
  readonly files: Readonly<Record<string, string>>;
  readonly cases: readonly NginxCase[];
}

/** https://developer.wordpress.org/advanced-administration/server/web-server/nginx/ (reduced to one server). */
export const WORDPRESS_SERVER_BLOCK = `server {
    listen {listen};
    server_name _;
    root {root};
    index index.php index.html;

    location = /favicon.ico {
        log_not_found off;
        access_log off;
    }

    location / {
        # This is cool because no php is touched for static content.
        try_files $uri $uri/ /index.php?$args;
    }

    location ~ \\.php$ {
        include /etc/nginx/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_intercept_errors on;
        fastcgi_pass {php};
    }

    location ~* \\.(js|css|png|jpg|jpeg|gif|ico)$ {
        add_header X-Static "yes";
    }
}
`;

const SUBSET_SERVER_BLOCK = `server {
    listen {listen};
    root {root};
    index index.html;
    add_header X-Server-Level on;
    rewrite ^/legacy$ /new/page.html last;

    location = /exact { return 200 "exact"; }
    location /exact { return 200 "prefix"; }
    location ^~ /static/ { return 200 "caret"; }
    location ~ \\.php$ { return 200 "php-regex"; }
    location ~* \\.JPG$ { return 200 "jpg-caseless"; }
    location /old/ { rewrite ^/old/(.*)$ /new/$1 permanent; }
    location /temp { rewrite ^ /new/ redirect; }
    location /new/ { add_header X-New yes; }
    location /internal-rw/ { rewrite ^/internal-rw/(.*)$ /new/$1 last; }
    location /brk/ { rewrite ^/brk/(.*)$ /new/$1 break; }
    location /query/ { rewrite ^/query/(\\w+)$ /new/page.html?from=$1 last; }
    location /gone { return 410; }
    location /elsewhere { return http://127.0.0.1:9/target; }
    location /private/ { deny all; }
    location /local/ {
        allow 127.0.0.1;
        deny all;
    }
    location /args { return 200 "$uri|$args|$arg_a|$is_args"; }
    location /tf/ { try_files $uri $uri.html $uri/ =404; }
    location /fallback/ { try_files $uri @named; }
    location @named { return 200 "named $uri"; }
    location /err/ { error_page 404 /errors/404.html; }
    location /err2/ { error_page 404 =200 /errors/404.html; }
    location /hidden/ { internal; }
    location /nest/ {
        location ~ \\.txt$ { return 200 "nested regex"; }
        return 200 "nest prefix";
    }
    location ~ ^/nest/(\\w+)\\.txt$ { return 200 "outer regex $1"; }
    location /setvar {
        set $greeting "hi $arg_n";
        return 200 "$greeting!";
    }
    location /cond/ {
        if (!-e $request_filename) {
            rewrite ^/cond/(.*)$ /new/$1 last;
        }
        if ($arg_deny = yes) { return 403; }
        if ($request_uri ~* "\\.BAK$") { return 410; }
    }
}
`;

/** Debian's sites-available/default PHP section: snippets/fastcgi-php.conf splits PATH_INFO and 404s a missing script. */
const DEBIAN_SNIPPET_SERVER_BLOCK = `server {
    listen {listen};
    root {root};
    index index.php index.html;
    error_page 404 /404.html;

    location / {
        try_files $uri $uri/ =404;
    }

    location ~ [^/]\\.php(/|$) {
        include /etc/nginx/snippets/fastcgi-php.conf;
        fastcgi_pass {php};
    }
}
`;

/** root and alias inside locations, expires, and the two ways an alias or root could lead outside the root. */
const FILES_SERVER_BLOCK = `server {
    listen {listen};
    root {root};
    index index.html;
    expires 30s;

    location /assets/ { root {root}/public; }
    location /img/ { alias {root}/images/; }
    location ~ ^/photos/(\\w+)\\.jpg$ { alias {root}/images/$1.txt; }
    location /cached/ { expires 1h; }
    location /forever/ { expires max; }
    location /never/ { expires epoch; }
    location /neg/ { expires -1; }
    location /off/ { expires off; }
    location /up/ { root {root}/..; }
    location /static { alias {root}/; }
}
`;

export const NGINX_SITES: readonly NginxTableSite[] = [
  {
    name: 'WordPress server block',
    serverBlock: WORDPRESS_SERVER_BLOCK,
    files: {
      'index.php': REPORT_SCRIPT,
      'hello.php': '<?php echo "hello from php";',
      'style.css': 'body { color: red; }\n',
      'sub/index.html': 'sub index\n',
      'wp-admin/index.php': '<?php echo "admin";',
      'wp-content/uploads/a.txt': 'upload\n',
    },
    cases: [
      { target: '/', status: 200, script: view('/index.php', '/') },
      { target: '/2024/05/a-post/?replytocom=3', status: 200, script: view('/index.php', '/2024/05/a-post/?replytocom=3', 'replytocom=3') },
      { target: '/wp-json/wp/v2/posts', status: 200, script: view('/index.php', '/wp-json/wp/v2/posts') },
      { method: 'POST', target: '/wp-admin/admin-ajax', status: 200, script: view('/index.php', '/wp-admin/admin-ajax') },
      { target: '/hello.php', status: 200, body: 'hello from php' },
      { target: '/style.css', status: 200, body: 'body { color: red; }\n', header: ['X-Static', 'yes'] },
      { target: '/missing.css', status: 404 },
      { target: '/wp-content/uploads/a.txt', status: 200, body: 'upload\n' },
      { target: '/sub', status: 301, location: '{origin}/sub/' },
      { target: '/sub/', status: 200, body: 'sub index\n' },
      { target: '/wp-admin/', status: 200, body: 'admin' },
      { target: '/wp-admin', status: 301, location: '{origin}/wp-admin/' },
    ],
  },
  {
    name: 'locations, rewrites, access, try_files, error_page',
    serverBlock: SUBSET_SERVER_BLOCK,
    files: {
      'index.html': 'home\n',
      'new/page.html': 'new page\n',
      'new/index.html': 'new index\n',
      'local/file.txt': 'local\n',
      'private/file.txt': 'private\n',
      'tf/there.html': 'there\n',
      'tf/dir/index.html': 'tf dir\n',
      'errors/404.html': 'custom 404\n',
      'err/ok.txt': 'err ok\n',
      'hidden/file.txt': 'hidden\n',
      'brk/page.html': 'brk original\n',
      'cond/here.txt': 'cond here\n',
      'cond/old.bak': 'old\n',
    },
    cases: [
      { target: '/', status: 200, body: 'home\n', header: ['X-Server-Level', 'on'] },
      { target: '/exact', status: 200, body: 'exact' },
      { target: '/exact/x', status: 200, body: 'prefix' },
      { target: '/exactly', status: 200, body: 'prefix' },
      { target: '/static/a.php', status: 200, body: 'caret' },
      { target: '/x/a.php', status: 200, body: 'php-regex' },
      { target: '/pics/a.jpg', status: 200, body: 'jpg-caseless' },
      { target: '/old/x?a=1', status: 301, location: '{origin}/new/x?a=1' },
      { target: '/temporary', status: 302, location: '{origin}/new/' },
      { target: '/new/page.html', status: 200, body: 'new page\n', header: ['X-New', 'yes'] },
      { target: '/new/page.html', status: 200, header: ['X-Server-Level', null] },
      { target: '/legacy', status: 200, body: 'new page\n', header: ['X-New', 'yes'] },
      { target: '/internal-rw/page.html', status: 200, body: 'new page\n', header: ['X-New', 'yes'] },
      { target: '/brk/page.html', status: 200, body: 'new page\n', header: ['X-Server-Level', 'on'] },
      { target: '/query/abc?x=1', status: 200, body: 'new page\n' },
      { target: '/gone', status: 410 },
      { target: '/elsewhere', status: 302, location: 'http://127.0.0.1:9/target' },
      { target: '/private/file.txt', status: 403 },
      { target: '/local/file.txt', status: 200, body: 'local\n' },
      { target: '/args?a=1&b=2', status: 200, body: '/args|a=1&b=2|1|?' },
      { target: '/args', status: 200, body: '/args|||' },
      { target: '/tf/there.html', status: 200, body: 'there\n' },
      { target: '/tf/there', status: 200, body: 'there\n' },
      { target: '/tf/dir', status: 301, location: '{origin}/tf/dir/' },
      { target: '/tf/nothere', status: 404 },
      { target: '/fallback/x', status: 200, body: 'named /fallback/x' },
      { target: '/err/missing', status: 404, body: 'custom 404\n' },
      { target: '/err/ok.txt', status: 200, body: 'err ok\n' },
      { target: '/err2/missing', status: 200, body: 'custom 404\n' },
      { target: '/hidden/file.txt', status: 404 },
      { target: '/nest/a.txt', status: 200, body: 'nested regex' },
      { target: '/nest/a.html', status: 200, body: 'nest prefix' },
      { target: '/new', status: 301, location: '{origin}/new/' },
      { target: '/new/', status: 200, body: 'new index\n', header: ['X-New', 'yes'] },
      { target: '/setvar?n=bob', status: 200, body: 'hi bob!' },
      { target: '/cond/here.txt', status: 200, body: 'cond here\n' },
      { target: '/cond/page.html', status: 200, body: 'new page\n', header: ['X-New', 'yes'] },
      { target: '/cond/here.txt?deny=yes', status: 403 },
      { target: '/cond/old.bak', status: 410 },
    ],
  },
  {
    name: "Debian's snippets/fastcgi-php.conf",
    serverBlock: DEBIAN_SNIPPET_SERVER_BLOCK,
    files: {
      'index.php': REPORT_SCRIPT,
      'info.php': REPORT_SCRIPT,
      '404.html': 'not here\n',
      'docs/readme.txt': 'readme\n',
    },
    cases: [
      { target: '/', status: 200, script: view('/index.php', '/') },
      { target: '/info.php?a=b', status: 200, script: view('/info.php', '/info.php?a=b', 'a=b') },
      { target: '/info.php/extra/path', status: 200, script: view('/info.php', '/info.php/extra/path', '', '/extra/path') },
      { target: '/missing.php', status: 404, body: 'not here\n' },
      { target: '/pretty/url', status: 404, body: 'not here\n' },
      { target: '/docs/readme.txt', status: 200, body: 'readme\n' },
      { target: '/docs/', status: 403 },
    ],
  },
  {
    name: 'root, alias and expires',
    serverBlock: FILES_SERVER_BLOCK,
    files: {
      'index.html': 'home\n',
      'public/assets/app.css': 'css\n',
      'assets/app.css': 'not this one\n',
      'images/index.html': 'images index\n',
      'images/cat.txt': 'cat\n',
      'img/cat.txt': 'not this one\n',
      'cached/a.txt': 'cached\n',
      'forever/a.txt': 'forever\n',
      'never/a.txt': 'never\n',
      'neg/a.txt': 'neg\n',
      'off/a.txt': 'off\n',
      'up/outside.txt': 'inside, not the one\n',
      '../up/outside.txt': 'outside\n',
    },
    cases: [
      { target: '/assets/app.css', status: 200, body: 'css\n' },
      { target: '/img/cat.txt', status: 200, body: 'cat\n' },
      { target: '/img/', status: 200, body: 'images index\n' },
      { target: '/img/missing.txt', status: 404 },
      { target: '/photos/cat.jpg', status: 200, body: 'cat\n' },
      { target: '/photos/dog.jpg', status: 404 },
      { target: '/static/index.html', status: 200, body: 'home\n' },
      { target: '/index.html', status: 200, header: ['Cache-Control', 'max-age=30'] },
      { target: '/cached/a.txt', status: 200, body: 'cached\n', header: ['Cache-Control', 'max-age=3600'] },
      { target: '/cached/missing.txt', status: 404, header: ['Expires', null] },
      { target: '/forever/a.txt', status: 200, header: ['Expires', 'Thu, 31 Dec 2037 23:55:55 GMT'] },
      { target: '/forever/a.txt', status: 200, header: ['Cache-Control', 'max-age=315360000'] },
      { target: '/never/a.txt', status: 200, header: ['Expires', 'Thu, 01 Jan 1970 00:00:01 GMT'] },
      { target: '/never/a.txt', status: 200, header: ['Cache-Control', 'no-cache'] },
      { target: '/neg/a.txt', status: 200, header: ['Cache-Control', 'no-cache'] },
      { target: '/off/a.txt', status: 200, body: 'off\n', header: ['Expires', null] },
      // Hostile: a location whose root is above the served root, and the alias "off by a slash" (location without
      // its final '/', alias with it: /static../x is {root}/../x). nginx serves the file outside; devmount refuses.
      { target: '/up/outside.txt', status: 403, nginx: { status: 200, body: 'outside\n' } },
      { target: '/static../up/outside.txt', status: 403, nginx: { status: 200, body: 'outside\n' } },
    ],
  },
];
