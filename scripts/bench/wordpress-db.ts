/**
 * bench:remote's real WordPress: the front page of a WordPress site whose files and MariaDB are on a server in a
 * network namespace (test/helpers/netns-server.ts: sshd and the database reachable only inside it, the host
 * reaching sshd through a Unix-socket bridge and the delay proxy), `home` https://www.example.com. The remote
 * side is `devmount serve root@127.0.0.1:/path`: it finds the database in wp-config.php (DB_HOST `localhost`,
 * the server's socket), forwards it over the SSH connection, and reads the production URL from it. The peer is
 * `devmount serve ./local-copy --site-url https://www.example.com`: the same files on local disk, talking to the
 * same database at the same distance (a delay proxy in front of its socket, 10 ms each way, as the SSH tunnel
 * has): what devmount adds to a page is then the difference. A WordPress page makes dozens of queries one after
 * the other, each a round trip, so a page of a live database 20 ms away cannot be near a page of a database
 * on the same machine. So a second table takes the database's round trips out of both sides alike: the
 * database near (no delay) for both, devmount's files still 20 ms away. Both read the same MariaDB through the
 * same socket path (a path socket is reachable across network namespaces, unix(7)): the local copy by its
 * DB_HOST, devmount with the same DB_HOST in the server's wp-config.php and `--no-db` (no tunnel, so its
 * PHP opens that socket itself, as the copy's does); both are given the production URL with --site-url.
 *
 * Everything it starts is stopped in `finally` (devmount processes by compareStarts, then the lab: namespace,
 * MariaDB, sshd, bridge, proxy; the site's temp directories). Only loopback: the harness's must-use plugin
 * refuses WordPress's outgoing HTTP requests that are not to loopback, and WP-Cron is off in wp-config.php.
 */
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { startNetnsServer } from '../../test/helpers/netns-server.js';
import { createWordPressSite, installWordPress } from '../../test/helpers/wordpress.js';
import { startDelayProxy } from '../delay-proxy.js';
import { compareStarts, type TimedPage } from './starts.js';

const PRODUCTION = 'https://www.example.com';
const TITLE = 'devmount bench WordPress';

// The theme's page title, and a link WordPress built from `home` that the dev server rewrote to localhost.
const RENDERED = new RegExp(`<title>[^<]*${TITLE}[\\s\\S]*href="http://127\\.0\\.0\\.1:\\d+/`);

export const WORDPRESS_FRONT_PAGE: TimedPage = Object.freeze({
  name: 'WordPress front page (database on the server; the local copy reaches it 20 ms away too)',
  page: '/',
  expect: RENDERED,
});

const WORDPRESS_FRONT_PAGE_NEAR_DB: TimedPage = Object.freeze({
  name: 'WordPress front page, the database near for both sides',
  page: '/',
  expect: RENDERED,
});

/** wp-config.php's DB_HOST. */
async function dbHostOf(root: string): Promise<string> {
  const found = /define\('DB_HOST', '([^']*)'\);/.exec(await readFile(path.join(root, 'wp-config.php'), 'utf8'));
  if (!found?.[1]) throw new Error(`no DB_HOST in ${root}/wp-config.php`);
  return found[1];
}

/** Sets wp-config.php's DB_HOST. */
async function setDbHost(root: string, host: string): Promise<void> {
  const file = path.join(root, 'wp-config.php');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace(/define\('DB_HOST', '[^']*'\);/, `define('DB_HOST', '${host}');`));
}

/**
 * Runs the WordPress part. `work`: the bench's scratch directory; `serverHome`: the empty HOME of server
 * sessions; `oneWayDelayMs`: the delay proxy's (RTT = 2x).
 */
export async function wordpressWithDatabase(work: string, serverHome: string, oneWayDelayMs: number, parts: { readonly far: boolean; readonly near: boolean }): Promise<void> {
  const mysqlHome = path.join(work, 'wp-mysql-home');
  await mkdir(mysqlHome);
  const lab = await startNetnsServer({
    mariadb: { listen: { host: '127.0.0.1', port: 3306 }, database: 'wordpress', user: 'wp', password: 'wp-bench-secret' },
    sshd: { extraConfig: `SetEnv HOME=${serverHome} MYSQL_HOME=${mysqlHome}` },
    delayMs: oneWayDelayMs,
  });
  try {
    const db = lab.db!;
    // The server's client configuration names its socket, as /etc/mysql/my.cnf does on a real server.
    await writeFile(path.join(mysqlHome, 'my.cnf'), `[client]\nsocket=${db.socket}\n`);
    const wp = await createWordPressSite(db, { configExtra: "define('DISABLE_WP_CRON', true);" });
    try {
      await installWordPress(wp, { siteUrl: PRODUCTION, title: TITLE });
      // The copies keep the installer's DB_HOST (the socket by its path) or go through the delay proxy; the
      // server's says `localhost`, as WordPress's default configuration does: devmount forwards it to the server's socket.
      const nearCopy = path.join(work, 'local-wordpress-near-db');
      await cp(wp.root, nearCopy, { recursive: true });
      const farDb = await startDelayProxy({ targetPath: db.socket, delayMs: oneWayDelayMs });
      try {
        const localCopy = path.join(work, 'local-wordpress');
        await cp(wp.root, localCopy, { recursive: true });
        await setDbHost(localCopy, `127.0.0.1:${farDb.port}`);
        await setDbHost(wp.root, 'localhost');
        if (parts.far) await compareStarts(WORDPRESS_FRONT_PAGE, {
          local: [localCopy, '--site-url', PRODUCTION],
          remote: [`${lab.sshd.user}@127.0.0.1:${wp.root}`, '--cache-dir', path.join(work, 'cache-wordpress-db'),
            '-o', `Port=${lab.port},IdentityFile=${lab.sshd.privateKeyPath},UserKnownHostsFile=${lab.knownHostsPath}`],
        }, (what) => path.join(work, `wordpress-db-${what}.log`), `${2 * oneWayDelayMs} ms`);
      } finally {
        await farDb.close();
      }
      // The database near for both: the server's wp-config.php names the socket as the copy's does (a new
      // content, so a new cache directory: this is a first start again), and devmount opens no tunnel.
      const nearDbHost = await dbHostOf(nearCopy);
      await setDbHost(wp.root, nearDbHost);
      if (parts.near) await compareStarts(WORDPRESS_FRONT_PAGE_NEAR_DB, {
        local: [nearCopy, '--site-url', PRODUCTION],
        remote: [`${lab.sshd.user}@127.0.0.1:${wp.root}`, '--no-db', '--site-url', PRODUCTION, '--cache-dir', path.join(work, 'cache-wordpress-near-db'),
          '-o', `Port=${lab.port},IdentityFile=${lab.sshd.privateKeyPath},UserKnownHostsFile=${lab.knownHostsPath}`],
      }, (what) => path.join(work, `wordpress-near-db-${what}.log`), `${2 * oneWayDelayMs} ms`,
      `the same MariaDB for both sides, through the same socket (DB_HOST '${nearDbHost}', no delay): only devmount's files are ${2 * oneWayDelayMs} ms away`);
    } finally {
      await wp.close();
    }
  } finally {
    await lab.stop();
  }
}
