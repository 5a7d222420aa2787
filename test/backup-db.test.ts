/**
 * `backup --db` / `restore --db` against MariaDB on a server in a network namespace (test/helpers/netns-server.ts):
 * the dump lands in the snapshot compressed, an unchanged database is hard-linked from the previous snapshot,
 * the password never shows in the process list, and a row added after the backup is gone after the restore.
 */
import { spawn } from 'node:child_process';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ExitCode } from '../cli/exit-codes.js';
import { DATABASE_DUMP_NAME } from '../fs/backup/database.js';
import { createCliEnv, type CliEnv } from './mount-cli-helpers.js';
import { startNetnsServer, type NetnsServer } from './helpers/netns-server.js';

const PASSWORD = 'db-secret-"quoted"\\-pw';
let lab: NetnsServer;
let cli: CliEnv;
let site: string;

beforeAll(async () => {
  cli = await createCliEnv();
  lab = await startNetnsServer({ mariadb: { database: 'shop', user: 'shopuser', password: PASSWORD } });
  site = join(lab.sshd.root, 'site');
  await mkdir(site);
  const php = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  await writeFile(join(site, 'wp-config.php'), `<?php
define('DB_NAME', 'shop');
define('DB_USER', 'shopuser');
define('DB_PASSWORD', ${php(PASSWORD)});
define('DB_HOST', ${php(`localhost:${lab.db!.socket}`)});
`);
  await writeFile(join(site, 'index.php'), '<?php echo "shop";');
  await lab.db!.query('CREATE TABLE shop.orders (id INT PRIMARY KEY, item VARCHAR(64)); INSERT INTO shop.orders VALUES (1, \'first\');');
}, 120_000);

afterAll(async () => {
  await lab?.stop();
  await cli?.cleanup();
});

const remoteArgs = () => ['-o', `Port=${lab.port},IdentityFile=${lab.sshd.privateKeyPath},UserKnownHostsFile=${lab.knownHostsPath}`, `${lab.sshd.user}@127.0.0.1:${site}`];

/** Every command line seen while `work` runs (ps every 20 ms): the password must never be in one. */
async function watchingProcessList<T>(work: () => Promise<T>): Promise<{ result: T; commandLines: Set<string> }> {
  const commandLines = new Set<string>();
  let running = true;
  const sample = (): Promise<void> => new Promise((resolve) => {
    const ps = spawn('ps', ['-eo', 'args'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    ps.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    ps.once('close', () => { for (const line of out.split('\n')) commandLines.add(line); resolve(); });
  });
  const loop = (async () => { while (running) { await sample(); await new Promise((r) => setTimeout(r, 20)); } })();
  try {
    return { result: await work(), commandLines };
  } finally {
    running = false;
    await loop;
  }
}

function events(stdout: string): Array<Record<string, unknown>> {
  return stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

test('backup --db dumps into the snapshot, links an unchanged dump, and restore --db brings the old rows back', async () => {
  const dest = join(cli.scratch, 'backups');
  const { result: first, commandLines } = await watchingProcessList(() => cli.run(['backup', ...remoteArgs(), dest, '--db', '--json']));
  expect(first.code, first.stderr).toBe(ExitCode.ok);
  const firstEvents = events(first.stdout);
  expect(firstEvents).toContainEqual(expect.objectContaining({ event: 'file', action: 'copy', path: DATABASE_DUMP_NAME }));
  expect(commandLines.size).toBeGreaterThan(0);
  expect([...commandLines].filter((l) => l.includes('db-secret'))).toEqual([]);
  expect(first.stdout + first.stderr).not.toContain('db-secret');
  const snapshot1 = (firstEvents.at(-1) as { snapshot: string }).snapshot;
  const dump = gunzipSync(await readFile(join(snapshot1, DATABASE_DUMP_NAME))).toString('utf8');
  expect(dump).toContain("INSERT INTO `orders` VALUES\n(1,'first')");
  expect((await stat(join(snapshot1, DATABASE_DUMP_NAME))).mode & 0o777).toBe(0o600);

  // Unchanged database: the same bytes, so the same inode as the previous snapshot's dump.
  const second = await cli.run(['backup', ...remoteArgs(), dest, '--db', '--json']);
  expect(second.code, second.stderr).toBe(ExitCode.ok);
  expect(events(second.stdout)).toContainEqual(expect.objectContaining({ event: 'file', action: 'link', path: DATABASE_DUMP_NAME }));
  const snapshot2 = (events(second.stdout).at(-1) as { snapshot: string }).snapshot;
  expect((await stat(join(snapshot2, DATABASE_DUMP_NAME))).ino).toBe((await stat(join(snapshot1, DATABASE_DUMP_NAME))).ino);

  await lab.db!.query("INSERT INTO shop.orders VALUES (2, 'after the backup');");
  expect(await lab.db!.query('SELECT id FROM shop.orders ORDER BY id;')).toEqual([['1'], ['2']]);

  const restored = await cli.run(['restore', join(dest, 'latest'), ...remoteArgs(), '--db', '--json']);
  expect(restored.code, restored.stderr).toBe(ExitCode.ok);
  const restoreEvents = events(restored.stdout);
  expect(restoreEvents).toContainEqual(expect.objectContaining({ event: 'file', action: 'database', path: DATABASE_DUMP_NAME }));
  expect(restoreEvents.at(-1)).toMatchObject({ event: 'summary', failed: 0 });
  expect(await lab.db!.query('SELECT id, item FROM shop.orders ORDER BY id;')).toEqual([['1', 'first']]);
  // The dump is not a site file: it was not uploaded to the server.
  await expect(stat(join(site, DATABASE_DUMP_NAME))).rejects.toThrow();
});

test('backup --db of a site without database settings: one line, exit code usage', async () => {
  const bare = join(lab.sshd.root, 'bare');
  await mkdir(bare);
  await writeFile(join(bare, 'index.html'), 'static');
  const args = ['-o', `Port=${lab.port},IdentityFile=${lab.sshd.privateKeyPath},UserKnownHostsFile=${lab.knownHostsPath}`, `${lab.sshd.user}@127.0.0.1:${bare}`];
  const result = await cli.run(['backup', ...args, join(cli.scratch, 'bare-backups'), '--db']);
  expect(result.code).toBe(ExitCode.usage);
  expect(result.stderr.trim()).toBe('devmount: no database settings found in the site (wp-config.php with literal DB_* defines, or a Laravel .env): back up the files only, without --db');
});
