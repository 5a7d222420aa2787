/**
 * WordPress (Debian's package, real MariaDB) with its pretty permalinks routed the nginx way, no .htaccess:
 * once by `devmount serve --front-controller /index.php`, once by the nginx server block on the "server"
 * (`devmount serve root@127.0.0.1:PATH` over the harness sshd, reading the block for PATH from an nginx
 * configuration under a directory given with --server-config-root, never the machine's own /etc/nginx).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { access, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';
import { startMariaDb, type MariaDb } from './helpers/mariadb.js';
import { freePort } from './helpers/net.js';
import { fillServerBlock } from './helpers/nginx.js';
import { WORDPRESS_SERVER_BLOCK } from './helpers/nginx-cases.js';
import { createWordPressSite, installWordPress, setWordPressUrls, type WordPressSite } from './helpers/wordpress.js';
import { eventually } from './helpers/eventually.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'devmount.js');

let db: MariaDb;
let wp: WordPressSite;
const children: ChildProcess[] = [];

beforeAll(async () => {
  db = await startMariaDb({ listen: 'socket-only' });
  wp = await createWordPressSite(db);
  await installWordPress(wp, { siteUrl: 'http://127.0.0.1:9', permalinkStructure: '/%postname%/' });
}, 120_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await wp?.close();
  await db?.close();
});

interface Serving { readonly origin: string; readonly stdout: () => string; stop(): Promise<void> }

async function serve(args: readonly string[]): Promise<Serving> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  // WordPress builds its links from `home`: the port of this server. Set before the start, since serving a remote
  // WordPress reads its production URL from the database at start (cli/site-url.ts).
  await setWordPressUrls(db, origin);
  const child = spawn(process.execPath, [CLI, 'serve', ...args, '--port', String(port), '--no-livereload', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  await eventually(() => stdout.includes(`http://127.0.0.1:${port}/`) || child.exitCode !== null, 60_000, 'the start-up URLs');
  if (child.exitCode !== null) throw new Error(`devmount serve exited: ${stdout}${stderr}`);
  return {
    origin,
    stdout: () => stdout,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The permalink page of the post WordPress installs, its REST route and a missing page. */
async function expectPrettyPermalinks(origin: string): Promise<void> {
  const post = await fetch(`${origin}/hello-world/`, { redirect: 'manual' });
  expect(post.status).toBe(200);
  const html = await post.text();
  expect(html).toContain('Hello world!');
  expect(html).toContain(`${origin}/hello-world/`);
  const rest = await fetch(`${origin}/wp-json/wp/v2/posts`);
  expect(rest.status).toBe(200);
  const posts = await rest.json() as Array<{ slug: string }>;
  expect(posts.map((p) => p.slug)).toContain('hello-world');
  // WordPress answers a permalink that names nothing with its own 404 page.
  const missing = await fetch(`${origin}/no-such-post/`, { redirect: 'manual' });
  expect(missing.status).toBe(404);
  expect(await missing.text()).toContain('<html');
}

describe('WordPress routed the nginx way', () => {
  it('--front-controller /index.php, no .htaccess: pretty permalinks and REST routes are served', async () => {
    await expect(access(path.join(wp.root, '.htaccess'))).rejects.toMatchObject({ code: 'ENOENT' });
    const served = await serve([wp.root, '--front-controller', '/index.php']);
    try {
      await expectPrettyPermalinks(served.origin);
    } finally {
      await served.stop();
    }
  }, 120_000);

  describe('from the nginx server block on the server', () => {
    let sshd: Sshd;
    let configRoot: string;
    beforeAll(async () => {
      sshd = await startSshd();
      configRoot = path.join(sshd.root, 'nginx');
      await mkdir(path.join(configRoot, 'sites-enabled'), { recursive: true });
      await writeFile(path.join(configRoot, 'nginx.conf'), 'events {}\nhttp {\n    include sites-enabled/*;\n}\n');
      await writeFile(path.join(configRoot, 'sites-enabled', 'wordpress'),
        fillServerBlock(WORDPRESS_SERVER_BLOCK, { listen: '127.0.0.1:8089', root: wp.root, php: 'unix:/run/php/php8.2-fpm.sock' }));
      // Another site's block: not the served root, so not chosen.
      await writeFile(path.join(configRoot, 'sites-enabled', 'other'), 'server {\n    root /var/www/other;\n    location / { return 403; }\n}\n');
    }, 60_000);
    afterAll(async () => { await sshd?.stop(); });

    it('serve root@127.0.0.1:PATH reads the block for PATH with nginx -T and serves pretty permalinks', async () => {
      const served = await serve([`${sshd.user}@127.0.0.1:${wp.root}`,
        '-o', `Port=${sshd.port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath}`,
        '--server-config-root', configRoot]);
      try {
        expect(served.stdout()).toContain(`devmount serve: applying the nginx server block at ${configRoot}/sites-enabled/wordpress:1 (read via nginx -T)`);
        await expectPrettyPermalinks(served.origin);
        // The block's add_header for static files applies.
        const css = await fetch(`${served.origin}/wp-includes/css/dashicons.min.css`);
        expect(css.status).toBe(200);
        expect(css.headers.get('x-static')).toBe('yes');
      } finally {
        await served.stop();
      }
    }, 180_000);

    it('when nginx -T fails there, the files under sites-enabled/ and conf.d/ are read instead', async () => {
      // No events {} block: `nginx -T` refuses this nginx.conf, so discovery falls back to reading the site files.
      const fallbackRoot = path.join(sshd.root, 'nginx-fallback');
      await mkdir(path.join(fallbackRoot, 'conf.d'), { recursive: true });
      await writeFile(path.join(fallbackRoot, 'nginx.conf'), 'http {\n    include conf.d/*.conf;\n}\n');
      await writeFile(path.join(fallbackRoot, 'conf.d', 'wp.conf'),
        fillServerBlock(WORDPRESS_SERVER_BLOCK, { listen: '127.0.0.1:8089', root: wp.root, php: 'unix:/run/php/php8.2-fpm.sock' }));
      const served = await serve([`${sshd.user}@127.0.0.1:${wp.root}`,
        '-o', `Port=${sshd.port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath}`,
        '--server-config-root', fallbackRoot]);
      try {
        expect(served.stdout()).toContain(`at ${fallbackRoot}/conf.d/wp.conf:1 (read via ${fallbackRoot}/sites-enabled/ and conf.d/)`);
        const post = await fetch(`${served.origin}/hello-world/`);
        expect(post.status).toBe(200);
        expect(await post.text()).toContain('Hello world!');
      } finally {
        await served.stop();
      }
    }, 180_000);
  });
});
