/**
 * A WordPress site tree from the Debian `wordpress` package (plus `wordpress-theme-twentytwentythree`) for the
 * application tests. /usr/share/wordpress is copied with its symlinks resolved (Debian links getID3, underscore and
 * the CA bundle into /usr/share/php, /usr/share/javascript and /etc/ssl, which a server refuses as escaping the
 * document root), without Debian's wp-config.php (it reads /etc/wordpress/config-HOST.php) and without Debian's
 * .htaccess link (WordPress writes its own). Our wp-config.php points at the given MariaDB, and a must-use plugin
 * refuses every outgoing HTTP request that does not go to a loopback address, so no test ever reaches
 * api.wordpress.org or a production host named in `home`.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chmod, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sqlString, type MariaDb } from './mariadb.js';

export const WORDPRESS_DIR = '/usr/share/wordpress';
const PHP_CLI = '/usr/bin/php';
const BLOCK_THEME = 'twentytwentythree';

export async function wordpressAvailable(): Promise<boolean> {
  return access(path.join(WORDPRESS_DIR, 'wp-settings.php'))
    .then(() => access(path.join(WORDPRESS_DIR, 'wp-content/themes', BLOCK_THEME, 'theme.json')))
    .then(() => access(PHP_CLI)).then(() => true, () => false);
}

export interface WordPressSiteOptions {
  /** DB_HOST as WordPress reads it; default: the database's socket (`localhost:/path`), else its TCP host:port. */
  readonly dbHost?: string;
  /** Extra PHP lines for wp-config.php (before wp-settings.php is loaded). */
  readonly configExtra?: string;
}

export interface WordPressSite {
  /** The document root: index.php, wp-admin/, wp-content/ … */
  readonly root: string;
  /** URLs of outgoing HTTP requests WordPress tried and the must-use plugin refused (not loopback). */
  blockedRequests(): Promise<string[]>;
  close(): Promise<void>;
}

const BLOCKED_LOG = 'wp-content/blocked-requests.log';

/** A must-use plugin: the tests' network rule (loopback only) enforced inside WordPress's HTTP API. */
const LOOPBACK_ONLY_PLUGIN = `<?php
/* Test harness: refuse every outgoing HTTP request whose host is not a loopback address, and log it. */
add_filter('pre_http_request', function ($response, $args, $url) {
  $host = strtolower((string) parse_url($url, PHP_URL_HOST));
  if (in_array($host, ['127.0.0.1', 'localhost', '[::1]', '::1'], true)) return $response;
  file_put_contents(WP_CONTENT_DIR . '/blocked-requests.log', $url . "\\n", FILE_APPEND | LOCK_EX);
  return new WP_Error('http_request_blocked', 'test harness: only loopback requests are allowed');
}, 1, 3);
`;

function configFile(db: MariaDb, options: WordPressSiteOptions): string {
  const dbHost = options.dbHost ?? (db.socket !== '' ? `localhost:${db.socket}` : `${db.host ?? '127.0.0.1'}:${db.port ?? 3306}`);
  const keys = ['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT',
    'LOGGED_IN_SALT', 'NONCE_SALT'].map((name) => `define('${name}', '${randomBytes(24).toString('hex')}');`);
  const php = (value: string): string => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  return [
    '<?php',
    `define('DB_NAME', ${php(db.database)});`,
    `define('DB_USER', ${php(db.user)});`,
    `define('DB_PASSWORD', ${php(db.password)});`,
    `define('DB_HOST', ${php(dbHost)});`,
    "define('DB_CHARSET', 'utf8mb4');",
    "define('DB_COLLATE', '');",
    ...keys,
    "$table_prefix = 'wp_';",
    "define('WP_DEBUG', false);",
    // No update checks, no theme/plugin installs from wordpress.org: the tests stay on loopback.
    "define('AUTOMATIC_UPDATER_DISABLED', true);",
    "define('WP_AUTO_UPDATE_CORE', false);",
    "define('WP_HTTP_BLOCK_EXTERNAL', true);",
    "define('FS_METHOD', 'direct');",
    options.configExtra ?? '',
    "if (!defined('ABSPATH')) define('ABSPATH', __DIR__ . '/');",
    "require_once ABSPATH . 'wp-settings.php';",
    '',
  ].join('\n');
}

/** Copies WordPress into a fresh temp dir and configures it for `db`. Readable and writable by www-data too. */
export async function createWordPressSite(db: MariaDb, options: WordPressSiteOptions = {}): Promise<WordPressSite> {
  const base = await mkdtemp(path.join(tmpdir(), 'devmount-wordpress-'));
  await chmod(base, 0o755);
  const root = path.join(base, 'site');
  const skipped = new Set([path.join(WORDPRESS_DIR, '.htaccess'), path.join(WORDPRESS_DIR, 'wp-config.php')]);
  await cp(WORDPRESS_DIR, root, { recursive: true, dereference: true, filter: (source) => !skipped.has(source) });
  await writeFile(path.join(root, 'wp-config.php'), configFile(db, options));
  await mkdir(path.join(root, 'wp-content/mu-plugins'), { recursive: true });
  await writeFile(path.join(root, 'wp-content/mu-plugins/loopback-only.php'), LOOPBACK_ONLY_PLUGIN);
  await mkdir(path.join(root, 'wp-content/uploads'), { recursive: true });
  // WordPress writes .htaccess into the root and media into wp-content/uploads, also when PHP runs as www-data.
  for (const dir of [root, path.join(root, 'wp-content'), path.join(root, 'wp-content/uploads')]) await chmod(dir, 0o777);
  return {
    root,
    async blockedRequests(): Promise<string[]> {
      const log = await readFile(path.join(root, BLOCKED_LOG), 'utf8').catch(() => '');
      return log.split('\n').filter((line) => line !== '');
    },
    async close(): Promise<void> {
      await rm(base, { recursive: true, force: true });
    },
  };
}

export interface WordPressInstall {
  /** The URL WordPress lives at (option `siteurl`), e.g. http://127.0.0.1:8080 or https://www.example.com. */
  readonly siteUrl: string;
  /** Option `home`; default siteUrl. */
  readonly home?: string;
  readonly title?: string;
  readonly adminUser?: string;
  readonly adminPassword?: string;
  readonly adminEmail?: string;
  /** Permalink structure to store, e.g. '/%postname%/'; default: plain (''). */
  readonly permalinkStructure?: string;
}

export const WP_ADMIN_USER = 'admin';
export const WP_ADMIN_PASSWORD = 'devmount-admin-password';

/**
 * Installs WordPress into the site's database with php-cli (wp_install(), as wp-admin/install.php?step=2 does),
 * without any web server, then stores siteurl/home as given. wp_install() tries the new site's pretty permalinks
 * over HTTP; with HTTP_HOST set to a loopback address that nothing serves, that check fails harmlessly.
 */
export async function installWordPress(site: WordPressSite, install: WordPressInstall): Promise<void> {
  const settings = {
    root: site.root,
    siteUrl: install.siteUrl,
    home: install.home ?? install.siteUrl,
    title: install.title ?? 'devmount test site',
    user: install.adminUser ?? WP_ADMIN_USER,
    password: install.adminPassword ?? WP_ADMIN_PASSWORD,
    email: install.adminEmail ?? 'admin@localhost.invalid',
    permalinks: install.permalinkStructure ?? '',
  };
  const script = `<?php
$s = json_decode(getenv('DEVMOUNT_WP_INSTALL'), true);
$_SERVER['HTTP_HOST'] = '127.0.0.1:9';
$_SERVER['REQUEST_URI'] = '/wp-admin/install.php';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
define('WP_INSTALLING', true);
require $s['root'] . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
$result = wp_install($s['title'], $s['user'], $s['email'], true, '', wp_slash($s['password']));
if (!is_array($result) || empty($result['user_id'])) { fwrite(STDERR, "wp_install failed\\n"); exit(1); }
update_option('siteurl', $s['siteUrl']);
update_option('home', $s['home']);
update_option('permalink_structure', $s['permalinks']);
echo "installed\\n";
`;
  const scriptFile = path.join(path.dirname(site.root), 'install.php');
  await writeFile(scriptFile, script);
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(PHP_CLI, ['-d', 'display_errors=stderr', scriptFile], {
      cwd: site.root, env: { ...process.env, DEVMOUNT_WP_INSTALL: JSON.stringify(settings) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString('utf8'); });
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString('utf8'); });
    child.once('error', reject);
    child.once('close', (exitCode) => resolve({ code: exitCode, stdout: out, stderr: err }));
  });
  await rm(scriptFile, { force: true });
  if (code !== 0 || !stdout.includes('installed')) throw new Error(`WordPress install failed (${code}): ${stdout}${stderr}`);
}

/** Changes siteurl and home in the database directly (e.g. to a production URL after installing locally). */
export async function setWordPressUrls(db: MariaDb, siteUrl: string, home: string = siteUrl): Promise<void> {
  await db.query([
    `UPDATE \`${db.database}\`.wp_options SET option_value = ${sqlString(siteUrl)} WHERE option_name = 'siteurl';`,
    `UPDATE \`${db.database}\`.wp_options SET option_value = ${sqlString(home)} WHERE option_name = 'home';`,
  ].join('\n'));
}
