/**
 * `devmount serve user@host:/path` with the site's database on a server in a network namespace
 * (test/helpers/netns-server.ts): the start lines (live database, production URL), a PHP page reading the
 * database through the tunnel with the site's unchanged `localhost` configuration, nothing leaving loopback;
 * a server that forbids forwarding (AllowTcpForwarding no / AllowStreamLocalForwarding no) gets one clear
 * line; a bad -L or --db spelling is a usage error.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ExitCode } from '../cli/exit-codes.js';
import { createCliEnv, type CliEnv } from './mount-cli-helpers.js';
import { get } from './remote-serve-helpers.js';
import { startNetnsServer, watchNonLoopback, type NetnsServer } from './helpers/netns-server.js';
import { startServeProcess } from './helpers/serve-process.js';

let cli: CliEnv;
const labs: NetnsServer[] = [];

beforeAll(async () => {
  cli = await createCliEnv();
});

afterAll(async () => {
  for (const lab of labs) await lab.stop();
  await cli?.cleanup();
});

async function lab(options: Parameters<typeof startNetnsServer>[0]): Promise<NetnsServer> {
  const started = await startNetnsServer(options);
  labs.push(started);
  return started;
}

function sshArgs(server: NetnsServer): string[] {
  return ['-o', `Port=${server.port},IdentityFile=${server.sshd.privateKeyPath},UserKnownHostsFile=${server.knownHostsPath}`];
}

async function site(server: NetnsServer, name: string, files: Record<string, string>): Promise<string> {
  const dir = join(server.sshd.root, name);
  await mkdir(dir);
  for (const [file, text] of Object.entries(files)) await writeFile(join(dir, file), text);
  return `${server.sshd.user}@127.0.0.1:${dir}`;
}

test('a WordPress-style site with DB_HOST localhost reads the live database through the tunnel; the URL is printed; nothing leaves loopback', async () => {
  const mysqlHome = join(cli.scratch, 'mysql-home');
  await mkdir(mysqlHome);
  const server = await lab({
    mariadb: { listen: { host: '127.0.0.1', port: 3306 }, database: 'wp', user: 'wpuser', password: 'wp-secret-1' },
    sshd: { extraConfig: `SetEnv MYSQL_HOME=${mysqlHome}` },
  });
  await writeFile(join(mysqlHome, 'my.cnf'), `[client]\nsocket=${server.db!.socket}\n`);
  await server.db!.query([
    'CREATE TABLE wp.wp_options (option_name VARCHAR(191) PRIMARY KEY, option_value LONGTEXT);',
    "INSERT INTO wp.wp_options VALUES ('siteurl', 'https://www.example.com'), ('home', 'https://www.example.com');",
  ].join('\n'));
  const remote = await site(server, 'wp', {
    'wp-config.php': "<?php\ndefine('DB_NAME', 'wp');\ndefine('DB_USER', 'wpuser');\ndefine('DB_PASSWORD', 'wp-secret-1');\ndefine('DB_HOST', 'localhost');\n$table_prefix = 'wp_';\n",
    'index.php': "<?php require __DIR__ . '/wp-config.php'; $db = mysqli_connect(DB_HOST, DB_USER, DB_PASSWORD, DB_NAME); echo mysqli_fetch_row(mysqli_query($db, \"SELECT option_value FROM wp_options WHERE option_name = 'home'\"))[0];",
  });
  const serve = await startServeProcess([remote, ...sshArgs(server)], cli.env);
  const leaks = watchNonLoopback(serve.child.pid!);
  try {
    expect(serve.stdout()).toMatch(/devmount serve: the site talks to the server's LIVE database "wp" \(from wp-config\.php\): \S+mysqld\.sock on the server/);
    expect(serve.stdout()).toContain('devmount serve: production URL https://www.example.com (WordPress "home", read from its database)');
    expect(serve.stdout()).toContain('  the application sees https://www.example.com; links to it point here');
    expect(serve.stdout() + serve.stderr()).not.toContain('wp-secret-1');
    const page = await get(Number(new URL(serve.url).port), '/index.php');
    expect(page.status).toBe(200);
    // The value came from the live database; the detected production URL is shown to the page as local.
    expect(page.body).toMatch(new RegExp(`^${serve.url.replace(/\/$/, '')}<script`));
    expect(page.body).not.toContain('www.example.com');
  } finally {
    const seen = await leaks.stop();
    expect(await serve.stop()).toBe(ExitCode.ok);
    expect(seen).toEqual([]);
  }
});

test('mount --serve: the site\'s database (DB_HOST 127.0.0.1) is forwarded by the mount daemon and PHP reaches it through the mount', async () => {
  const server = await lab({ mariadb: { listen: { host: '127.0.0.1', port: 3306 }, database: 'shop', user: 'shop', password: 'shop-secret' } });
  await server.db!.query("CREATE TABLE shop.notes (v VARCHAR(64)); INSERT INTO shop.notes VALUES ('row from the live database');");
  const dir = join(server.sshd.root, 'mounted-site');
  await mkdir(dir);
  await writeFile(join(dir, 'wp-config.php'), "<?php\ndefine('DB_NAME', 'shop');\ndefine('DB_USER', 'shop');\ndefine('DB_PASSWORD', 'shop-secret');\ndefine('DB_HOST', '127.0.0.1');\n");
  await writeFile(join(dir, 'index.php'), "<?php require __DIR__ . '/wp-config.php'; $db = mysqli_connect(DB_HOST, DB_USER, DB_PASSWORD, DB_NAME); echo mysqli_fetch_row(mysqli_query($db, 'SELECT v FROM notes'))[0];");
  const mp = await cli.newMountpoint('db-mnt');
  const mounted = await cli.run(['mount', '-p', String(server.port), '-o', `IdentityFile=${server.sshd.privateKeyPath},UserKnownHostsFile=${server.knownHostsPath}`,
    '--serve=0', `${server.sshd.user}@127.0.0.1:${dir}`, mp]);
  expect(mounted.code, mounted.stderr).toBe(0);
  try {
    const status = await cli.run(['status', '--json']);
    const mine = (JSON.parse(status.stdout) as { mounts: Array<{ mountpoint: string; serveUrl?: string }> }).mounts.find((m) => m.mountpoint === mp);
    const page = await get(Number(new URL(mine!.serveUrl!).port), '/index.php');
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/^row from the live database/);
  } finally {
    expect((await cli.run(['unmount', mp])).code).toBe(0);
  }
});

test('AllowTcpForwarding no: one clear line naming it, and the site is still served', async () => {
  const server = await lab({ sshd: { extraConfig: 'AllowTcpForwarding no' } });
  const remote = await site(server, 'tcp-refused', { 'index.html': 'static page' });
  const serve = await startServeProcess([remote, ...sshArgs(server), '--db', '127.0.0.1:3306'], cli.env);
  try {
    const lines = serve.stdout().split('\n').filter((l) => l.includes('forwarding'));
    expect(lines).toEqual(['devmount serve: no database tunnel: the server does not allow forwarding to 127.0.0.1:3306 (sshd_config AllowTcpForwarding no, or PermitOpen): ask the host to allow it for your user, or run the site against a local database']);
    expect((await get(Number(new URL(serve.url).port), '/')).body).toContain('static page');
  } finally {
    await serve.stop();
  }
});

test('AllowStreamLocalForwarding no: one clear line for a socket that exists on the server; a missing one is named as missing', async () => {
  const server = await lab({ sshd: { extraConfig: 'AllowStreamLocalForwarding no' } });
  const remote = await site(server, 'unix-refused', { 'index.html': 'static page' });
  // A socket that exists "on the server" (the namespace shares the file system).
  const serverSocket = join(server.sshd.root, 'db.sock');
  const listener = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => listener.listen(serverSocket, resolve));
  const localSocket = join(cli.scratch, 'redis.sock');
  const serve = await startServeProcess([remote, ...sshArgs(server), '--db', serverSocket, '-L', `${localSocket}:/run/redis.sock`], cli.env);
  try {
    const lines = serve.stdout().split('\n').filter((l) => l.includes('forwarding') || l.includes('accepts'));
    expect(lines).toEqual([
      `devmount serve: no database tunnel: the server does not allow forwarding to ${serverSocket} (sshd_config AllowStreamLocalForwarding no, DisableForwarding, or the socket's permissions): ask the host to allow it for your user, or run the site against a local database`,
      `devmount serve: -L ${localSocket}: nothing accepts connections at /run/redis.sock on the server: check the address (for the database: its host or socket in the site's configuration, or --db)`,
    ]);
  } finally {
    await serve.stop();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  }
});

test('bad -L and --db spellings: one line, exit code usage', async () => {
  const badL = await cli.run(['serve', 'me@127.0.0.1:/srv', '-L', '0.0.0.0:8080:127.0.0.1:80']);
  expect(badL.code).toBe(ExitCode.usage);
  expect(badL.stderr.trim()).toBe('devmount: -L 0.0.0.0:8080:127.0.0.1:80: -L binds to loopback only, not "0.0.0.0"; use PORT:HOST:HOSTPORT, PORT:/remote.sock, /local.sock:HOST:HOSTPORT or /local.sock:/remote.sock (as ssh -L)');
  const badDb = await cli.run(['serve', 'me@127.0.0.1:/srv', '--db', 'db:port']);
  expect(badDb.code).toBe(ExitCode.usage);
  expect(badDb.stderr.trim()).toBe('devmount: --db db:port: port "port" is not a port number (1-65535); use HOST:PORT or /path/to/the/server.sock');
});
