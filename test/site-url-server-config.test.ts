/**
 * The production URL of a site without a WordPress database, from its server's web server configuration:
 * nginx `server_name`/`listen` of the server block whose root is the site, else Apache `ServerName` of the
 * virtual host whose DocumentRoot is the site (devserver/server-site-url.ts). Parsers table-driven; then in the
 * network-namespace lab (the server's /etc/nginx and /etc/apache2 are its own, test/helpers/netns-server.ts):
 * `devmount serve root@…:/path` says where the URL came from, PHP sees that host and scheme, and links to it
 * come back pointing at localhost. The production names are never resolved: they are only strings here.
 */
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ExitCode } from '../cli/exit-codes.js';
import { parseNginx } from '../devserver/nginx/parser.js';
import { serverBlocks } from '../devserver/nginx/server-config.js';
import { apacheSiteUrl, nginxSiteUrl } from '../devserver/server-site-url.js';
import { startNetnsServer, watchNonLoopback, type NetnsServer } from './helpers/netns-server.js';
import { startServeProcess } from './helpers/serve-process.js';
import { createCliEnv, type CliEnv } from './mount-cli-helpers.js';

describe('nginx server_name and listen → URL', () => {
  test.each([
    ['listen 80; server_name www.shop.example;', 'http://www.shop.example'],
    ['listen 443 ssl; listen 80; server_name _ shop.example www.shop.example;', 'https://shop.example'],
    ['listen [::]:8443 ssl http2; server_name shop.example;', 'https://shop.example:8443'],
    ['listen 127.0.0.1:8080; server_name "" *.shop.example api.shop.example;', 'http://api.shop.example:8080'],
    ['server_name shop.example;', 'http://shop.example'],
    ['listen 80; server_name _;', null],
    ['listen 80; server_name ~^(?<sub>.+)\\.shop\\.example$ .shop.example localhost;', null],
  ])('%s → %s', (body, expected) => {
    const [server] = serverBlocks(parseNginx(`server { root /srv/shop; ${body} }`, '/etc/nginx/sites-enabled/shop'));
    const found = nginxSiteUrl(server!);
    expect(found?.url ?? null).toBe(expected);
    if (found) expect(found.from).toMatch(/^nginx server_name at \/etc\/nginx\/sites-enabled\/shop:1$/);
  });
});

describe('Apache ServerName of the virtual host serving the path → URL', () => {
  const both = `<VirtualHost *:80>
  ServerName blog.example
  DocumentRoot /srv/blog
  Redirect permanent / https://blog.example/
</VirtualHost>
<VirtualHost *:443>
  # the TLS site
  ServerName blog.example
  DocumentRoot "/srv/blog/"
  SSLEngine on
</VirtualHost>
`;
  test.each([
    ['an :80 and an :443 host for the path: https', both, '/srv/blog', 'https://blog.example'],
    ['only :80', '<VirtualHost *:80>\nServerName blog.example\nDocumentRoot /srv/blog\n</VirtualHost>\n', '/srv/blog', 'http://blog.example'],
    ['a scheme and port in ServerName', '<VirtualHost *:8080>\nServerName https://blog.example:8443\nDocumentRoot /srv/blog\n</VirtualHost>\n', '/srv/blog', 'https://blog.example:8443'],
    ['another DocumentRoot', both, '/srv/other', null],
    ['no ServerName', '<VirtualHost *:80>\nDocumentRoot /srv/blog\n</VirtualHost>\n', '/srv/blog', null],
  ])('%s', (_what, text, root, expected) => {
    expect(apacheSiteUrl(new Map([['/etc/apache2/sites-enabled/blog.conf', text]]), root)?.url ?? null).toBe(expected);
  });
});

describe('in the lab: serve root@server:/path', () => {
  let lab: NetnsServer;
  let cli: CliEnv;
  let base: string;
  const site = (name: string) => join(base, name);
  /** A PHP page showing the host and scheme it sees, with a link to itself built from them (as applications do). */
  const PAGE = `<?php
$scheme = empty($_SERVER['HTTPS']) || $_SERVER['HTTPS'] === 'off' ? 'http' : 'https';
echo "<p>host {$_SERVER['HTTP_HOST']} scheme {$scheme}</p><a href=\\"{$scheme}://{$_SERVER['HTTP_HOST']}/about/\\">about</a>";
`;

  beforeAll(async () => {
    cli = await createCliEnv();
    base = await mkdtemp(join(tmpdir(), 'devmount-siteurl-lab-'));
    await chmod(base, 0o755);
    for (const name of ['shop', 'blog', 'plain']) {
      await mkdir(site(name));
      await writeFile(join(site(name), 'index.php'), PAGE);
    }
    lab = await startNetnsServer({
      etc: {
        // `nginx -T` refuses this file (no certificate for the ssl listen): devmount reads sites-enabled/ itself.
        'nginx/nginx.conf': 'events {}\nhttp {\n  include sites-enabled/*;\n}\n',
        'nginx/sites-enabled/shop': `server {\n  listen 80;\n  listen 443 ssl;\n  server_name _ www.shop.example;\n  root ${site('shop')};\n  index index.php;\n}\n`,
        'apache2/sites-enabled/blog.conf': `<VirtualHost *:80>\n  ServerName blog.example\n  DocumentRoot ${site('blog')}\n</VirtualHost>\n<VirtualHost *:443>\n  ServerName blog.example\n  DocumentRoot ${site('blog')}\n  SSLEngine on\n</VirtualHost>\n`,
      },
    });
  }, 120_000);

  afterAll(async () => {
    await lab?.stop();
    if (base) await rm(base, { recursive: true, force: true });
    await cli?.cleanup();
  });

  test.each([
    ['shop', 'https://www.shop.example', /production URL https:\/\/www\.shop\.example \(nginx server_name at \/etc\/nginx\/sites-enabled\/shop:4/],
    ['blog', 'https://blog.example', /production URL https:\/\/blog\.example \(Apache ServerName at \/etc\/apache2\/sites-enabled\/blog\.conf:5/],
    ['plain', null, null],
  ])('%s: the URL from the server configuration is what PHP sees, and its links point here', async (name, production, line) => {
    const server = await startServeProcess([`${lab.sshd.user}@127.0.0.1:${site(name)}`, '--no-livereload',
      '-o', `Port=${lab.port},IdentityFile=${lab.sshd.privateKeyPath},UserKnownHostsFile=${lab.knownHostsPath}`], cli.env, 90_000);
    const leaks = watchNonLoopback(server.child.pid!);
    try {
      const origin = server.url.replace(/\/$/, '');
      if (line) expect(server.stdout()).toMatch(line);
      else expect(server.stdout()).not.toMatch(/production URL/);
      const res = await fetch(`${origin}/index.php`, { redirect: 'manual' });
      expect(res.status).toBe(200);
      const body = await res.text();
      if (production) {
        const url = new URL(production);
        expect(body).toContain(`<p>host ${url.host} scheme ${url.protocol.slice(0, -1)}</p>`);
        expect(body).toContain(`href="${origin}/about/"`);
      } else {
        expect(body).toContain(`<p>host ${new URL(origin).host} scheme http</p>`);
      }
    } finally {
      expect(await leaks.stop()).toEqual([]);
      expect(await server.stop()).toBe(ExitCode.ok);
    }
  }, 120_000);
});
