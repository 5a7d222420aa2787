/**
 * The static readers and spellings of the database tunnel: WordPress's DB_HOST forms and define() statements,
 * Laravel's .env, ssh's -L forms and --db, and how each address maps to a forward and php-cgi settings.
 */
import { expect, test } from 'vitest';
import { definesConstant, laravelDatabase, parseDotenv, parseWordPressHost, phpDefines, wordpressDatabase } from '../fs/tunnel/site-config.js';
import { parseDbTarget, parseLocalForward, TunnelSpecError } from '../fs/tunnel/spec.js';
import { planDbTunnel } from '../fs/tunnel/db-plan.js';
import { dumpCommand, loadCommand } from '../fs/backup/database.js';

test('WordPress DB_HOST spellings, as wpdb::parse_db_host reads them', () => {
  expect(parseWordPressHost('localhost')).toEqual({ kind: 'default-socket' });
  expect(parseWordPressHost('localhost:3307')).toEqual({ kind: 'default-socket' });
  expect(parseWordPressHost('localhost:/var/run/mysqld/mysqld.sock')).toEqual({ kind: 'unix', path: '/var/run/mysqld/mysqld.sock' });
  expect(parseWordPressHost('127.0.0.1')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 3306, portGiven: false });
  expect(parseWordPressHost('127.0.0.1:3307')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 3307, portGiven: true });
  expect(parseWordPressHost('[::1]:3308')).toEqual({ kind: 'tcp', host: '::1', port: 3308, portGiven: true });
  expect(parseWordPressHost('db.internal')).toEqual({ kind: 'tcp', host: 'db.internal', port: 3306, portGiven: false });
});

test('define() statements: quotes, escapes, spacing, comments; the first definition wins; computed values are not taken', () => {
  const defines = phpDefines(`<?php
// define('DB_HOST', 'commented-out');
/* define('DB_NAME', 'also-commented'); */
define( "DB_NAME" , "site" );
define('DB_PASSWORD', 'it\\'s "secret" \\\\ ok');
define('DB_USER', getenv('DB_USER'));
DEFINE('DB_HOST', 'localhost', true);
define('DB_HOST', 'second');
# define('WP_DEBUG', true);
`);
  expect(defines.get('DB_NAME')).toBe('site');
  expect(defines.get('DB_PASSWORD')).toBe('it\'s "secret" \\ ok');
  expect(defines.has('DB_USER')).toBe(false);
  expect(defines.get('DB_HOST')).toBe('localhost');
  expect(defines.has('WP_DEBUG')).toBe(false);
});

test.each([
  ["define('DISABLE_WP_CRON', true);", true],
  ['define( "DISABLE_WP_CRON" , getenv("NO_CRON") === "1" );', true],
  ["// define('DISABLE_WP_CRON', true);", false],
  ["define('DISABLE_WP_CRON_X', true);", false],
  ["if (defined('DISABLE_WP_CRON')) {}", false],
])('a constant defined with any value (not to be defined twice): %s → %s', (line, defined) => {
  expect(definesConstant(`<?php\n${line}\n`, 'DISABLE_WP_CRON')).toBe(defined);
});

test('wp-config.php → the site database with its table prefix', () => {
  const db = wordpressDatabase("<?php define('DB_NAME','wp'); define('DB_USER','u'); define('DB_PASSWORD','p'); define('DB_HOST','127.0.0.1:3307'); $table_prefix = 'blog_';");
  expect(db).toEqual({ engine: 'mysql', address: { kind: 'tcp', host: '127.0.0.1', port: 3307, portGiven: true }, name: 'wp', user: 'u', password: 'p', tablePrefix: 'blog_', from: 'wp-config.php' });
  expect(wordpressDatabase("<?php define('DB_NAME', getenv('X'));")).toBeNull();
});

test('Laravel .env: engines, socket, quoted values and comments', () => {
  expect(parseDotenv('A=1\n# B=2\nexport C="x y" \nD=\'single\'\nE=plain # comment\n')).toEqual(new Map([['A', '1'], ['C', 'x y'], ['D', 'single'], ['E', 'plain']]));
  expect(laravelDatabase('DB_CONNECTION=mysql\nDB_HOST=127.0.0.1\nDB_PORT=3306\nDB_DATABASE=app\nDB_USERNAME=app\nDB_PASSWORD="p#w"\n')).toEqual({
    engine: 'mysql', address: { kind: 'tcp', host: '127.0.0.1', port: 3306, portGiven: true }, name: 'app', user: 'app', password: 'p#w', from: '.env',
  });
  expect(laravelDatabase('DB_CONNECTION=pgsql\nDB_HOST=127.0.0.1\nDB_DATABASE=app\n')?.address).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 5432, portGiven: true });
  expect(laravelDatabase('DB_CONNECTION=mysql\nDB_SOCKET=/run/mysqld/mysqld.sock\n')?.address).toEqual({ kind: 'unix', path: '/run/mysqld/mysqld.sock' });
  expect(laravelDatabase('DB_CONNECTION=sqlite\n')).toBeNull();
});

test('-L in ssh(1)\'s four forms; only loopback binds', () => {
  expect(parseLocalForward('6379:127.0.0.1:6379')).toEqual({ local: { kind: 'tcp', port: 6379 }, target: { kind: 'tcp', host: '127.0.0.1', port: 6379 } });
  expect(parseLocalForward('127.0.0.1:6380:[::1]:6379')).toEqual({ local: { kind: 'tcp', port: 6380 }, target: { kind: 'tcp', host: '::1', port: 6379 } });
  expect(parseLocalForward('6379:/run/redis.sock')).toEqual({ local: { kind: 'tcp', port: 6379 }, target: { kind: 'unix', path: '/run/redis.sock' } });
  expect(parseLocalForward('/tmp/x.sock:/run/redis.sock')).toEqual({ local: { kind: 'unix', path: '/tmp/x.sock' }, target: { kind: 'unix', path: '/run/redis.sock' } });
  expect(parseLocalForward('/tmp/x.sock:127.0.0.1:6379')).toEqual({ local: { kind: 'unix', path: '/tmp/x.sock' }, target: { kind: 'tcp', host: '127.0.0.1', port: 6379 } });
  expect(() => parseLocalForward('0.0.0.0:80:127.0.0.1:80')).toThrow(TunnelSpecError);
  expect(() => parseLocalForward('80')).toThrow(/wrong number of fields/);
  expect(() => parseLocalForward('99999:127.0.0.1:80')).toThrow(/not a port number/);
});

test('--db: HOST:PORT, HOST, or a socket path', () => {
  expect(parseDbTarget('127.0.0.1:3307', 3306)).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 3307 });
  expect(parseDbTarget('db.internal', 5432)).toEqual({ kind: 'tcp', host: 'db.internal', port: 5432 });
  expect(parseDbTarget('/run/mysqld/mysqld.sock', 3306)).toEqual({ kind: 'unix', path: '/run/mysqld/mysqld.sock' });
  expect(() => parseDbTarget('a:b:c', 3306)).toThrow(TunnelSpecError);
});

test('forward plans: localhost → the server socket and mysqli/pdo default sockets; 127.0.0.1 → a free port and mysqli.default_port', async () => {
  const ctx = { socketDir: '/tmp/devmount-test-plan', serverDefaultSocket: async () => '/run/mysqld/mysqld.sock', portFree: async () => false };
  const socketPlan = await planDbTunnel('mysql', { kind: 'default-socket' }, ctx);
  expect(socketPlan.target).toEqual({ kind: 'unix', path: '/run/mysqld/mysqld.sock' });
  expect(socketPlan.phpIni(socketPlan.local)).toEqual(['mysqli.default_socket=/tmp/devmount-test-plan/mysqld.sock', 'pdo_mysql.default_socket=/tmp/devmount-test-plan/mysqld.sock']);
  const tcpPlan = await planDbTunnel('mysql', { kind: 'tcp', host: '127.0.0.1', port: 3306, portGiven: false }, ctx);
  expect(tcpPlan.local).toEqual({ kind: 'tcp', port: 0 });
  expect(tcpPlan.phpIni({ kind: 'tcp', port: 40000 })).toEqual(['mysqli.default_port=40000']);
  expect(tcpPlan.caveat).toBeUndefined();
  const busy = await planDbTunnel('mysql', { kind: 'tcp', host: '127.0.0.1', port: 3306, portGiven: true }, ctx);
  expect(busy.caveat).toMatch(/port 3306 is in use on this machine/);
  const remoteHost = await planDbTunnel('mysql', { kind: 'tcp', host: 'db.internal', port: 3306, portGiven: true }, { ...ctx, portFree: async () => true });
  expect(remoteHost.local).toEqual({ kind: 'tcp', port: 3306 });
  expect(remoteHost.caveat).toMatch(/db\.internal, which PHP here connects to directly/);
});

test('dump and load commands carry no credential: those go on stdin', () => {
  const db = { engine: 'mysql' as const, address: { kind: 'default-socket' as const }, name: 'wp', user: 'admin', password: 's3cret-pw', from: 'wp-config.php' };
  for (const { command, secretLine } of [dumpCommand(db), loadCommand(db), dumpCommand({ ...db, engine: 'postgres' }), loadCommand({ ...db, engine: 'postgres' })]) {
    expect(command).not.toContain('s3cret-pw');
    expect(Buffer.from(secretLine, 'base64').toString()).toContain('s3cret-pw');
  }
  expect(dumpCommand(db).command).toContain("mysqldump --defaults-extra-file=\"$f\" --single-transaction --skip-dump-date --no-tablespaces 'wp'");
});
