/**
 * The production URL of a WordPress site, read from its live database through the tunnel: `home` (what
 * visitors see; `siteurl` when home is unset), asked with the local php-cgi's mysqli (the PHP the site runs
 * on here, so no extra client is needed). Credentials go to php-cgi on stdin, never on a command line or in
 * its environment.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SiteDatabase } from '../fs/tunnel/site-config.js';
import type { LocalEnd } from '../fs/tunnel/types.js';

/** Bounded: a database that accepts but never answers must not hold up the start. */
const QUERY_TIMEOUT_MS = 10_000;

const QUERY_SCRIPT = `<?php
$in = json_decode(stream_get_contents(fopen('php://stdin', 'r')), true);
mysqli_report(MYSQLI_REPORT_OFF);
$db = @mysqli_connect($in['host'], $in['user'], $in['password'], $in['name'], $in['port'], $in['socket']);
if (!$db) { echo json_encode(['error' => mysqli_connect_error()]); exit; }
$table = '\`' . str_replace('\`', '', $in['prefix']) . 'options\`';
$result = mysqli_query($db, "SELECT option_name, option_value FROM $table WHERE option_name IN ('home', 'siteurl')");
if (!$result) { echo json_encode(['error' => mysqli_error($db)]); exit; }
$out = [];
while ($row = mysqli_fetch_row($result)) { $out[$row[0]] = $row[1]; }
echo json_encode(['options' => $out]);
`;

interface QueryAnswer {
  readonly error?: string;
  readonly options?: Record<string, string>;
}

function runPhp(phpCgi: string, script: string, stdin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // -q: no CGI headers. Run as a plain script: php-cgi reads the file named on its command line.
    const child = spawn(phpCgi, ['-q', '-d', 'display_errors=stderr', script], { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    const out: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), QUERY_TIMEOUT_MS);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.resume();
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else reject(new Error(`php-cgi exited with ${code ?? 'a signal'}`));
    });
    child.stdin.end(stdin);
  });
}

/** A URL as WordPress stores it, checked: an http(s) origin with an optional path. */
function normaliseUrl(value: string | undefined): string | null {
  if (value === undefined || value === '') return null;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href.replace(/\/$/, '') : null;
  } catch {
    return null; // not a URL: the option holds something WordPress would not use either
  }
}

/** The production URL, or an Error saying why it could not be read. */
export async function wordpressSiteUrl(phpCgi: string, database: SiteDatabase, local: LocalEnd): Promise<string | Error> {
  const dir = await mkdtemp(join(tmpdir(), 'devmount-siteurl-'));
  try {
    const script = join(dir, 'site-url.php');
    await writeFile(script, QUERY_SCRIPT, { mode: 0o600 });
    const request = JSON.stringify({
      host: local.kind === 'unix' ? 'localhost' : '127.0.0.1',
      port: local.kind === 'tcp' ? local.port : 0,
      socket: local.kind === 'unix' ? local.path : null,
      user: database.user,
      password: database.password,
      name: database.name,
      prefix: database.tablePrefix ?? 'wp_',
    });
    const answer = JSON.parse(await runPhp(phpCgi, script, request)) as QueryAnswer;
    if (answer.error !== undefined) return new Error(answer.error);
    const url = normaliseUrl(answer.options?.home) ?? normaliseUrl(answer.options?.siteurl);
    return url ?? new Error('no home or siteurl option in the database');
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
