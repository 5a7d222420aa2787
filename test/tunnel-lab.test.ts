/**
 * The database tunnel against a server in its own network namespace (test/helpers/netns-server.ts): MariaDB
 * listens only inside it, so the host reaches it only through forwards over the site's SSH connection —
 * direct-tcpip to its port, direct-streamlocal@openssh.com to its socket — and php-cgi's default socket/port
 * settings make an unchanged `localhost` / `127.0.0.1` configuration use them. Also: the production URL read
 * through the tunnel, and the lab's own non-loopback detector catching a socket that does leave loopback.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createConnector } from '../fs/ssh/connect.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { startForward } from '../fs/tunnel/forward.js';
import type { ForwardTarget, LocalEnd } from '../fs/tunnel/types.js';
import { openSiteTunnels, type SiteTunnels } from '../fs/tunnel/site-tunnels.js';
import type { LocalForwardSpec } from '../fs/tunnel/spec.js';
import type { ReadSiteFile } from '../fs/tunnel/site-config.js';
import { wordpressSiteUrl } from '../cli/site-url.js';
import { harnessSshOptions } from './harness/connect.js';
import { startNetnsServer, watchNonLoopback, type NetnsServer } from './helpers/netns-server.js';
import { mariadbAvailable } from './helpers/mariadb.js';

let lab: NetnsServer;
let remote: SftpRemoteFs;
let scratch: string;

const DB_PASSWORD = 'tunnel pass\'word';

beforeAll(async () => {
  if (!(await mariadbAvailable())) throw new Error('mariadb-server is not installed (.ci/run installs it)');
  scratch = await mkdtemp(join(tmpdir(), 'devmount-tunnel-test-'));
  // The server's client configuration names its socket, as /etc/mysql/my.cnf does on a real server: sshd hands
  // MYSQL_HOME to commands it runs, so `my_print_defaults` there finds it.
  lab = await startNetnsServer({
    // MySQL's own port inside the namespace: `127.0.0.1` without a port means it. No test on this machine
    // listens on the host's 3306 (the harnesses pick ephemeral ports), so the host side must refuse it.
    mariadb: { listen: { host: '127.0.0.1', port: 3306 }, database: 'site', user: 'siteuser', password: DB_PASSWORD },
    sshd: { extraConfig: `SetEnv MYSQL_HOME=${scratch}` },
    // 20 ms RTT between host and server (scripts/delay-proxy.ts in front of the bridge), as a far-away host.
    delayMs: 10,
  });
  await writeFile(join(scratch, 'my.cnf'), `[client]\nsocket=${lab.db!.socket}\n`);
  await lab.db!.query([
    'CREATE TABLE site.wp_options (option_name VARCHAR(191) PRIMARY KEY, option_value LONGTEXT);',
    "INSERT INTO site.wp_options VALUES ('siteurl', 'https://www.example.com'), ('home', 'https://www.example.com/');",
  ].join('\n'));
  const connector = createConnector(harnessSshOptions(lab.sshd, { port: lab.port, knownHostsFiles: [lab.knownHostsPath] }));
  remote = await createSftpRemoteFs(connector, lab.sshd.root, { maxConns: 1 });
}, 120_000);

afterAll(async () => {
  await remote?.close();
  await lab?.stop();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function runPhp(args: readonly string[], script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('php-cgi', ['-q', ...args, script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.resume();
    child.once('error', reject);
    child.once('close', () => resolve(out));
  });
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

/** A PHP script that connects as WordPress does (host, no port, no socket) and prints the server's hostname variable. */
async function phpScript(host: string): Promise<string> {
  const file = join(scratch, `connect-${host.replace(/\W/g, '_')}.php`);
  await writeFile(file, `<?php
mysqli_report(MYSQLI_REPORT_OFF);
$db = @mysqli_connect(${JSON.stringify(host)}, 'siteuser', ${JSON.stringify(DB_PASSWORD)}, 'site');
if (!$db) { echo 'ERROR ', mysqli_connect_error(); exit; }
$r = mysqli_fetch_row(mysqli_query($db, "SELECT option_value FROM wp_options WHERE option_name = 'siteurl'"));
echo 'OK ', $r[0];
`);
  return file;
}

/** Forwards `local` → `target`, runs a PHP client with `ini(local end)` connecting to `host`, and checks it went through. */
async function queryThroughForward(local: LocalEnd, target: ForwardTarget, ini: (bound: LocalEnd) => string, host: string): Promise<void> {
  const forward = await startForward(() => remote.sshClient(), local, target);
  try {
    const out = await runPhp(['-d', ini(forward.local)], await phpScript(host));
    expect(out).toBe('OK https://www.example.com');
    expect(forward.stats().carried).toBe(1);
  } finally {
    await forward.close();
  }
}

test('the database port is not reachable from the host, only through a direct-tcpip forward', async () => {
  expect(await connectRefused(lab.db!.port!)).toBe(true);
  await queryThroughForward({ kind: 'tcp', port: 0 }, { kind: 'tcp', host: '127.0.0.1', port: lab.db!.port! },
    (bound) => `mysqli.default_port=${bound.kind === 'tcp' ? bound.port : 0}`, '127.0.0.1');
});

test('a Unix-socket forward (direct-streamlocal) reaches the server socket; `localhost` uses it through mysqli.default_socket', async () => {
  const socketPath = join(scratch, 'forwarded.sock');
  await queryThroughForward({ kind: 'unix', path: socketPath }, { kind: 'unix', path: lab.db!.socket },
    () => `mysqli.default_socket=${socketPath}`, 'localhost');
});

/** The site's tunnels for a site whose only configuration file is `wpConfig` (or a reader); start lines go to `lines`. */
function siteTunnels(wpConfig: string | ReadSiteFile, forwards: readonly LocalForwardSpec[], lines: string[]): Promise<SiteTunnels> {
  return openSiteTunnels({ db: 'auto', forwards }, {
    client: () => remote.sshClient(),
    shell: remote.selfCheckingShell,
    readSiteFile: typeof wpConfig === 'function' ? wpConfig : async (path) => (path === '/wp-config.php' ? Buffer.from(wpConfig) : null),
    say: (line) => lines.push(line),
    onForwardError: (err) => lines.push(`error: ${err.message}`),
  });
}

test('wp-config.php DB_HOST localhost: the server socket is found, forwarded, and named in php-cgi settings; the URL is read through it', async () => {
  const wpConfig = `<?php
// define('DB_HOST', 'db.example.com');
define( 'DB_NAME', 'site' );
define( 'DB_USER', 'siteuser' );
define( 'DB_PASSWORD', 'tunnel pass\\'word' );
define( 'DB_HOST', 'localhost' );
$table_prefix = 'wp_';
`;
  const lines: string[] = [];
  const tunnels = await siteTunnels(wpConfig, [], lines);
  try {
    expect(tunnels.database?.password).toBe(DB_PASSWORD);
    expect(tunnels.forwards[0]?.target).toEqual({ kind: 'unix', path: lab.db!.socket });
    expect(lines.join('\n')).toMatch(/the site talks to the server's LIVE database "site" \(from wp-config.php\)/);
    expect(lines.join('\n')).not.toContain(DB_PASSWORD);
    const out = await runPhp([...tunnels.phpArgs], await phpScript('localhost'));
    expect(out).toBe('OK https://www.example.com');
    expect(await wordpressSiteUrl('/usr/bin/php-cgi', tunnels.database!, tunnels.databaseLocal!)).toBe('https://www.example.com');
  } finally {
    await tunnels.close();
  }
});

test('DB_HOST 127.0.0.1 and an -L forward for another service: each gets its own local end', async () => {
  const lines: string[] = [];
  const wpConfig = "<?php define('DB_NAME','site'); define('DB_USER','siteuser'); define('DB_PASSWORD','x'); define('DB_HOST','127.0.0.1');";
  const otherSocket = join(scratch, 'other.sock');
  const tunnels = await siteTunnels(wpConfig, [{ local: { kind: 'unix', path: otherSocket }, target: { kind: 'tcp', host: '127.0.0.1', port: lab.db!.port! } }], lines);
  try {
    expect(tunnels.forwards).toHaveLength(2);
    const local = tunnels.databaseLocal;
    expect(local?.kind).toBe('tcp');
    expect(tunnels.phpArgs).toEqual(['-d', `mysqli.default_port=${local?.kind === 'tcp' ? local.port : -1}`]);
    expect(tunnels.forwards[0]?.target).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 3306 });
    expect(lines.some((l) => l.startsWith(`devmount serve: forwarding ${otherSocket} → 127.0.0.1:${lab.db!.port!}`))).toBe(true);
    const out = await runPhp(['-d', `mysqli.default_socket=${otherSocket}`], await phpScript('localhost'));
    expect(out).toBe('OK https://www.example.com');
  } finally {
    await tunnels.close();
  }
});

test('the non-loopback detector sees a socket whose peer is not loopback (so the lab tests can fail)', async () => {
  // A connected UDP socket to TEST-NET-1 (RFC 5737): connect() on UDP sends nothing, so no packet leaves.
  const child = spawn(process.execPath, ['-e', "const s=require('dgram').createSocket('udp4');s.connect(9,'192.0.2.1',()=>{console.log('ready')});setTimeout(()=>{},5000)"], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    const watch = watchNonLoopback(process.pid);
    const seen = await watch.stop();
    expect(seen).toContain('udp 010200C0:0009');
  } finally {
    child.kill('SIGKILL');
  }
});

test('a configuration file that cannot be read: one line, no tunnel, no failure', async () => {
  const lines: string[] = [];
  const tunnels = await siteTunnels(async () => { throw new Error('EACCES: permission denied, open /wp-config.php'); }, [], lines);
  try {
    expect(lines).toEqual(["devmount serve: no database tunnel: the site's configuration could not be read (EACCES: permission denied, open /wp-config.php)"]);
    expect(tunnels.forwards).toEqual([]);
    expect(tunnels.phpArgs).toEqual([]);
  } finally {
    await tunnels.close();
  }
});
