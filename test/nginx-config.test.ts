/**
 * The nginx configuration parser (blocks, quoting, comments, includes with globs), the compiler's reports of
 * directives devmount does not apply, the `nginx -T` dump splitter, and executor decisions the differential
 * table cannot show (loops, 444, named locations, server-level returns).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNginxConfig, NginxSyntaxError, parseNginx, type ConfigReader, type ConfigWarning } from '../devserver/nginx/parser.js';
import { compileServer, serverBlocks } from '../devserver/nginx/server-config.js';
import { loadLocalServerConfig, splitNginxDump } from '../devserver/nginx/discover.js';
import { expiresFields, runNginx, type NginxRequest } from '../devserver/nginx/executor.js';
import { writeSite } from './helpers/php-site.js';

function memoryReader(files: Record<string, string>): ConfigReader {
  return {
    readFile: async (p) => files[p] ?? null,
    readdir: async (dir) => Object.keys(files).filter((p) => path.posix.dirname(p) === dir).map((p) => path.posix.basename(p)),
  };
}

describe('nginx config parser', () => {
  it('blocks, quoted strings with escapes, comments, ${var} braces, line numbers', () => {
    const parsed = parseNginx([
      'server { # a comment ; {',
      '  location ~ "^/a{2}\\.txt$" {',
      "    return 200 'it\\'s \"quoted\" # not a comment';",
      '  }',
      '  add_header X-Var ${uri}x;',
      '}',
    ].join('\n'), 'site.conf');
    expect(parsed).toHaveLength(1);
    const server = parsed[0];
    expect(server?.name).toBe('server');
    const [location, header] = server?.block ?? [];
    expect(location).toMatchObject({ name: 'location', args: ['~', '^/a{2}\\.txt$'], line: 2, file: 'site.conf' });
    expect(location?.block?.[0]).toMatchObject({ name: 'return', args: ['200', 'it\'s "quoted" # not a comment'], line: 3 });
    expect(header).toMatchObject({ name: 'add_header', args: ['X-Var', '${uri}x'], line: 5 });
  });

  it('reports syntax errors with file and line', () => {
    expect(() => parseNginx('server {\n  listen 80;\n', 'a.conf')).toThrow(NginxSyntaxError);
    expect(() => parseNginx('server {\n  listen 80;\n', 'a.conf')).toThrow(/a\.conf:1: unexpected end of file/);
    expect(() => parseNginx('listen 80\n}', 'b.conf')).toThrow(/b\.conf:2/);
    expect(() => parseNginx('return 200 "open', 'c.conf')).toThrow(/c\.conf:1: unterminated quoted string/);
  });

  it('expands include with globs in sorted order, relative to the prefix; an unreadable include is reported', async () => {
    const reader = memoryReader({
      '/etc/nginx/nginx.conf': 'http {\n  include conf.d/*.conf;\n  include /etc/nginx/sites-enabled/*;\n  include missing.conf;\n}\n',
      '/etc/nginx/conf.d/b.conf': 'server { root /b; }',
      '/etc/nginx/conf.d/a.conf': 'server { root /a; }',
      '/etc/nginx/conf.d/skip.txt': 'server { root /skip; }',
      '/etc/nginx/sites-enabled/site': 'server {\n  root /srv/site;\n  include snippets/php.conf;\n}',
      '/etc/nginx/snippets/php.conf': 'fastcgi_pass unix:/run/php.sock;',
    });
    const warnings: ConfigWarning[] = [];
    const directives = await loadNginxConfig('/etc/nginx/nginx.conf', '/etc/nginx', reader, (w) => warnings.push(w));
    const servers = serverBlocks(directives);
    expect(servers.map((s) => s.block?.[0]?.args[0])).toEqual(['/a', '/b', '/srv/site']);
    expect(servers[2]?.block?.[1]).toMatchObject({ name: 'fastcgi_pass', file: '/etc/nginx/snippets/php.conf', line: 1 });
    expect(warnings).toEqual([{ file: '/etc/nginx/nginx.conf', line: 4, message: 'include missing.conf: /etc/nginx/missing.conf cannot be read; skipped' }]);
  });

  it('an include of itself stops at the depth bound', async () => {
    const reader = memoryReader({ '/c/nginx.conf': 'include nginx.conf;' });
    await expect(loadNginxConfig('/c/nginx.conf', '/c', reader, () => {})).rejects.toThrow(/nested more than/);
  });
});

describe('server block compiler', () => {
  it('reports every directive it does not apply, once each, with file and line; production-only ones as info', () => {
    const [server] = parseNginx([
      'server {',
      '  listen 80;',
      '  root /srv/site;',
      '  expires modified 1h;',
      '  if ($host = x) { add_header X-Y z; }',
      '  location /a { proxy_pass http://127.0.0.1:3000; }',
      '  location ~ \\.php$ { fastcgi_param A b; fastcgi_pass unix:/x.sock; }',
      '  location /b { root /elsewhere; }',
      '  rewrite ^ /x bogus;',
      '}',
    ].join('\n'), 'site.conf');
    const reports: Array<{ level: string; line: number; message: string }> = [];
    const compiled = compileServer(server ?? parseNginx('server {}', 'x')[0]!, (w) => reports.push({ level: w.level, line: w.line, message: w.message }));
    expect(compiled.root).toBe('/srv/site');
    expect(reports).toEqual([
      { level: 'info', line: 2, message: 'listen: not applicable to a dev server; ignored' },
      { level: 'warn', line: 4, message: 'expires: "modified" and "@time" are not supported (give off, epoch, max or a time); ignored' },
      { level: 'warn', line: 5, message: 'add_header: only rewrite, return, break, set and if are supported inside if; ignored' },
      { level: 'warn', line: 9, message: 'rewrite: unknown flag "bogus"; ignored' },
      { level: 'warn', line: 6, message: 'proxy_pass: not supported by devmount; ignored' },
      { level: 'info', line: 7, message: "fastcgi_param: PHP runs through devmount's own PHP backend; ignored" },
      { level: 'warn', line: 8, message: 'root: /elsewhere is outside the served root /srv/site; its requests are refused (403)' },
    ]);
    expect(compiled.scope.locations.find((l) => l.regex !== null)?.scope.php).toBe(true);
  });

  it('--nginx-config: a file with several server blocks picks the one whose root is the directory', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'devmount-nginx-unit-'));
    try {
      await writeSite(dir, { 'two.conf': 'server { root /srv/one; }\nserver { root /srv/two/; index two.html; }\n' });
      const found = await loadLocalServerConfig(path.join(dir, 'two.conf'), dir, '/srv/two', () => {});
      expect(found.server.root).toBe('/srv/two/');
      expect(found.server.scope.index).toEqual(['two.html']);
      await expect(loadLocalServerConfig(path.join(dir, 'two.conf'), dir, '/srv/three', () => {})).rejects.toThrow(/2 server blocks and none has root \/srv\/three/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('inheritance from http { … }', () => {
  it('index, add_header, error_page and access rules of the http block apply to its servers', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'devmount-nginx-unit-'));
    try {
      await writeSite(dir, { 'nginx.conf': 'http {\n  index home.html;\n  add_header X-Http on;\n  gzip on;\n  server { root /srv/a; }\n}\n' });
      const { server } = await loadLocalServerConfig(path.join(dir, 'nginx.conf'), dir, '/srv/a', () => {});
      expect(server.scope.index).toEqual(['home.html']);
      expect(server.scope.addHeaders).toEqual([{ name: 'X-Http', value: 'on', always: false }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('nginx -T dump', () => {
  it('splits into files by their "# configuration file" lines', () => {
    const dump = 'nginx: the configuration file /etc/nginx/nginx.conf syntax is ok\n# configuration file /etc/nginx/nginx.conf:\nhttp { include sites-enabled/*; }\n\n# configuration file /etc/nginx/sites-enabled/default:\nserver { root /var/www/html; }\n';
    const files = splitNginxDump(dump);
    expect([...files.keys()]).toEqual(['/etc/nginx/nginx.conf', '/etc/nginx/sites-enabled/default']);
    expect(files.get('/etc/nginx/sites-enabled/default')).toBe('server { root /var/www/html; }\n');
  });
});

describe('executor', () => {
  const request = (uri: string, args = ''): NginxRequest => ({
    uri, args, requestUri: args === '' ? uri : `${uri}?${args}`, method: 'GET', host: '127.0.0.1:8080', scheme: 'http',
    serverPort: 8080, clientIp: '127.0.0.1', documentRoot: '/srv/site',
  });
  const noFiles = { stat: async () => null };
  const compile = (text: string) => compileServer(parseNginx(text, 't.conf')[0]!, () => {});

  it('a rewrite loop ends in 500 after the redirect bound', async () => {
    const server = compile('server { location / { rewrite ^/(.*)$ /$1x last; } }');
    expect(await runNginx(server, request('/a'), noFiles)).toMatchObject({ kind: 'respond', status: 500 });
  });

  it('a try_files fallback to itself ends in 500', async () => {
    const server = compile('server { location / { try_files $uri /again$uri; } }');
    expect(await runNginx(server, request('/a'), noFiles)).toMatchObject({ kind: 'respond', status: 500 });
  });

  it('return 444 closes the connection; a server-level return answers before any location', async () => {
    expect(await runNginx(compile('server { location / { return 444; } }'), request('/'), noFiles)).toEqual({ kind: 'close' });
    const server = compile('server { return 301 https://$host$request_uri; location / { return 200 x; } }');
    expect(await runNginx(server, request('/p', 'q=1'), noFiles)).toMatchObject({ kind: 'redirect', status: 301, location: 'https://127.0.0.1/p?q=1' });
  });

  it('error_page to a named location; =CODE and bare = choose the status', async () => {
    const server = compile('server { error_page 404 = @app; location @app { return 200 "app $uri"; } location /x { error_page 403 =418 /t.txt; deny all; } }');
    expect(await runNginx(server, request('/missing'), noFiles)).toMatchObject({ kind: 'respond', status: 200, body: 'app /missing' });
    const files = { stat: async (p: string) => (p === '/t.txt' ? { kind: 'file' } : null) };
    expect(await runNginx(server, request('/x'), files)).toMatchObject({ kind: 'serve', path: '/t.txt', status: 418 });
  });

  it('a URI the rules make with ".." stays inside the root', async () => {
    const server = compile('server { rewrite ^/x/(.*)$ /../../$1 last; location /t/ { try_files /../../etc/$uri =404; } }');
    const seen: string[] = [];
    const files = { stat: async (p: string) => { seen.push(p); return { kind: 'file' }; } };
    expect(await runNginx(server, request('/x/etc/passwd'), files)).toMatchObject({ kind: 'serve', path: '/etc/passwd' });
    expect(await runNginx(server, request('/t/a'), files)).toMatchObject({ kind: 'serve', path: '/etc/t/a' });
    expect(seen.every((p) => !p.includes('..'))).toBe(true);
  });

  it('root and alias in a location: where a URI is read from, inside the served root; outside it refused', async () => {
    const server = compile([
      'server { root /srv/site;',
      '  location /assets/ { root /srv/site/public; }',
      '  location /img/ { alias /srv/site/images/; location /img/deep/ { } }',
      '  location ~ ^/photos/(\\w+)\\.jpg$ { alias /srv/site/images/$1.txt; }',
      '  location /static { alias /srv/site/; }',
      '  location /up/ { alias /srv/; }',
      '}',
    ].join('\n'));
    const seen: string[] = [];
    const files = { stat: async (p: string) => { seen.push(p); return p.endsWith('/images') ? { kind: 'directory' } : { kind: 'file' }; } };
    expect(await runNginx(server, request('/assets/app.css'), files)).toMatchObject({ kind: 'serve', path: '/public/assets/app.css' });
    expect(await runNginx(server, request('/img/cat.txt'), files)).toMatchObject({ kind: 'serve', path: '/images/cat.txt' });
    // A nested location inherits the alias with its parent's name length (ngx_http_core_merge_loc_conf).
    expect(await runNginx(server, request('/img/deep/a.txt'), files)).toMatchObject({ kind: 'serve', path: '/images/deep/a.txt' });
    expect(await runNginx(server, request('/photos/cat.jpg'), files)).toMatchObject({ kind: 'serve', path: '/images/cat.txt' });
    // The alias is not followed past its own directory's parent: /static../x would be /srv/x.
    expect(await runNginx(server, request('/static/a.txt'), files)).toMatchObject({ kind: 'serve', path: '/a.txt' });
    expect(await runNginx(server, request('/static../secret.txt'), files)).toMatchObject({ kind: 'respond', status: 403 });
    expect(await runNginx(server, request('/up/etc/passwd'), files)).toMatchObject({ kind: 'respond', status: 403 });
    expect(seen.some((p) => p.includes('..') || p.startsWith('/srv'))).toBe(false);
  });

  it('root/alias that cannot be placed are reported once, with file and line', () => {
    const reports: string[] = [];
    compileServer(parseNginx([
      'server {',
      '  alias /srv/site/;',
      '  location /a/ { root /srv/site/a; alias /srv/site/b/; }',
      '  location ~ ^/b { alias /srv/site/b.txt; }',
      '  location /c/ { alias /srv/$host/; }',
      '}',
    ].join('\n'), 't.conf')[0]!, (w) => reports.push(`${w.line} ${w.message}`));
    expect(reports).toEqual([
      '2 alias: only applies to a location; ignored',
      '3 alias: root was given earlier in this location (nginx refuses both); ignored',
      '4 alias: in a regular-expression location it needs the captures that name the file (nginx maps every match to the same path otherwise); ignored',
      '5 alias: only the captures $1…$9 are supported as variables in it; ignored',
      '3 root: the server block has no root to place it in; its requests are refused (403)',
    ]);
  });

  it('expires: Expires and Cache-Control as ngx_http_headers_module sets them, for the statuses add_header uses', async () => {
    const now = Date.parse('2026-12-07T12:00:00.400Z');
    const server = compile('server { expires 1h 30m; location /never/ { expires epoch; } location /max/ { expires max; } location /off/ { expires off; } location /neg/ { expires -1; } }');
    const expiresAt = async (uri: string, status = 200) => {
      const outcome = await runNginx(server, request(uri), { stat: async () => ({ kind: 'file' }) });
      return outcome.kind === 'close' ? null : expiresFields(outcome.expires, status, now);
    };
    expect(await expiresAt('/a.txt')).toEqual([['Expires', 'Mon, 07 Dec 2026 13:30:00 GMT'], ['Cache-Control', 'max-age=5400']]);
    expect(await expiresAt('/a.txt', 304)).toHaveLength(2);
    expect(await expiresAt('/a.txt', 404)).toEqual([]);
    expect(await expiresAt('/never/a')).toEqual([['Expires', 'Thu, 01 Jan 1970 00:00:01 GMT'], ['Cache-Control', 'no-cache']]);
    expect(await expiresAt('/max/a')).toEqual([['Expires', 'Thu, 31 Dec 2037 23:55:55 GMT'], ['Cache-Control', 'max-age=315360000']]);
    expect(await expiresAt('/off/a')).toEqual([]);
    expect(await expiresAt('/neg/a')).toEqual([['Expires', 'Mon, 07 Dec 2026 11:59:59 GMT'], ['Cache-Control', 'no-cache']]);
  });

  it('a rewrite with its own query keeps the old one after it unless it ends in "?"', async () => {
    const keep = compile('server { rewrite ^/a$ /b?x=1 redirect; }');
    expect(await runNginx(keep, request('/a', 'y=2'), noFiles)).toMatchObject({ location: '/b?x=1&y=2' });
    const drop = compile('server { rewrite ^/a$ /b? redirect; }');
    expect(await runNginx(drop, request('/a', 'y=2'), noFiles)).toMatchObject({ location: '/b' });
  });
});
