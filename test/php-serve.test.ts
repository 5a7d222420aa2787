import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPhpSite, type PhpSite, type SiteFiles } from './helpers/php-site.js';
import { processGone } from './helpers/process.js';
import { REPORT_SCRIPT, WORDPRESS_HTACCESS } from './helpers/rewrite-cases.js';

const FILES: SiteFiles = {
  '.htaccess': WORDPRESS_HTACCESS,
  'index.php': REPORT_SCRIPT,
  'real.txt': 'a real file\n',
  'form.php': '<?php header("Content-Type: application/json"); echo json_encode($_POST);',
  'upload.php': `<?php header("Content-Type: application/json");
$f = $_FILES['doc'];
echo json_encode(['name' => $f['name'], 'size' => $f['size'], 'md5' => md5_file($f['tmp_name']), 'field' => $_POST['title'] ?? null]);`,
  'info.php': REPORT_SCRIPT,
  'missing.php': '<?php http_response_code(404); echo "no such thing";',
  'redirect.php': '<?php header("Location: https://example.com/elsewhere"); echo "moved";',
  'env.php': `<?php header("Content-Type: application/json");
$keys = ['GATEWAY_INTERFACE','SERVER_SOFTWARE','SERVER_NAME','SERVER_PORT','SERVER_PROTOCOL','REQUEST_METHOD','REQUEST_URI',
  'QUERY_STRING','SCRIPT_NAME','SCRIPT_FILENAME','DOCUMENT_ROOT','CONTENT_TYPE','CONTENT_LENGTH','REMOTE_ADDR','REMOTE_PORT',
  'REDIRECT_STATUS','HTTP_REDIRECT_STATUS','HTTP_PROXY','HTTP_X_CUSTOM','HTTPS','PATH_INFO','PATH_TRANSLATED'];
$out = [];
foreach ($keys as $k) { $out[$k] = $_SERVER[$k] ?? null; }
$out['getenv_HTTP_PROXY'] = getenv('HTTP_PROXY');
$out['argv'] = $_SERVER['argv'] ?? null;
echo json_encode($out);`,
  'length.php': '<?php $in = file_get_contents("php://input"); echo $_SERVER["CONTENT_LENGTH"], " ", strlen($in), " ", md5($in);',
  'source.php': '<?php /* SECRET-SOURCE-MARKER */ echo "ran";',
  'hang.php': '<?php file_put_contents(__DIR__ . "/hang-" . ($_GET["tag"] ?? "x") . ".pid", getmypid()); sleep(60); echo "finished";',
  // The report's repro, with connection_aborted() recorded: it ignores user aborts, so it finishes after its client
  // left (and writes nothing after that, so it never learns of the abort: 0).
  'runs-on.php': `<?php ignore_user_abort(true); echo "x"; flush(); sleep(1);
file_put_contents(__DIR__ . "/done-" . $_GET["tag"] . ".txt", "y:" . connection_aborted());`,
  // A script that does not ignore user aborts and writes every 40 ms (past php.ini's output_buffering); its shutdown
  // function records connection_status() (1: aborted), and it marks its own end.
  'writes-on.php': `<?php while (ob_get_level() > 0) { ob_end_flush(); }
register_shutdown_function(function () {
  file_put_contents(__DIR__ . "/status-" . $_GET["tag"] . ".txt", (string) connection_status());
});
echo "x"; flush();
for ($i = 0; $i < 30; $i++) { usleep(40000); echo str_repeat(".", 10); flush(); }
file_put_contents(__DIR__ . "/completed-" . $_GET["tag"] . ".txt", "y");`,
  'pause.php': '<?php usleep(500000); echo "paused";',
  'ini.php': '<?php echo ini_get("upload_max_filesize"), " ", ini_get("post_max_size"), " ", ini_get("memory_limit"), " ", ini_get("display_errors");',
  'tuned/.htaccess': 'php_value memory_limit 99M\nphp_flag display_errors off\n<IfModule mod_php.c>\n  php_admin_value upload_max_filesize 9M\n</IfModule>\n',
  'tuned/ini.php': '<?php echo ini_get("upload_max_filesize"), " ", ini_get("post_max_size"), " ", ini_get("memory_limit"), " ", ini_get("display_errors");',
  'stderr.php': '<?php error_log("marker-from-php-stderr"); echo "logged";',
  '.hidden/run.php': '<?php echo "ran";',
};

const pidGone = (pid: number): Promise<boolean> => processGone(pid, 50);

async function readPid(root: string, tag: string): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const text = await readFile(path.join(root, `hang-${tag}.pid`), 'utf8').catch(() => '');
    if (text !== '') return Number(text);
    await delay(50);
  }
  throw new Error('hang.php never started');
}

/** Asks for `target` on a raw connection and hangs up after `ms`, or once the first bytes of the answer came. */
async function askAndLeave(port: number, target: string, leave: number | 'after first bytes'): Promise<void> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  if (leave === 'after first bytes') await new Promise((resolve) => socket.once('data', resolve));
  else await delay(leave);
  socket.destroy();
}

/** The content of a file a script writes, once it is there ('' if it never comes: `attempts` × 50 ms). */
async function whenWritten(file: string, attempts: number): Promise<string> {
  let written = '';
  for (let i = 0; i < attempts && written === ''; i++) {
    written = await readFile(file, 'utf8').catch(() => '');
    if (written === '') await delay(50);
  }
  return written;
}

describe.each([
  // stopsOnAbort: a client leaving closes the FastCGI connection, as nginx does; a CGI process per request runs on.
  ['the php-cgi FastCGI pool', 2, 'cgi', true],
  ['php-fpm', 2, 'fpm', true],
  ['php-cgi per request', 0, 'cgi', false],
])('PHP through %s', (_mode, workers, backend, stopsOnAbort) => {
  let site: PhpSite;
  beforeAll(async () => { site = await startPhpSite(FILES, { phpWorkers: workers, phpTimeoutSeconds: 2, flags: { phpBackend: backend } }); });
  afterAll(async () => { await site.close(); });

  it('reaches the front controller through the WordPress .htaccess, real files bypass it', async () => {
    const pretty = await fetch(`${site.origin}/blog/hello-world/?utm=1`);
    expect(pretty.status).toBe(200);
    expect(await pretty.json()).toMatchObject({ script: '/index.php', uri: '/blog/hello-world/?utm=1', query: 'utm=1' });
    const real = await fetch(`${site.origin}/real.txt`);
    expect(await real.text()).toBe('a real file\n');
  });

  it('passes a POSTed form', async () => {
    const res = await fetch(`${site.origin}/form.php`, { method: 'POST', body: new URLSearchParams({ a: '1', b: 'two words' }) });
    expect(await res.json()).toEqual({ a: '1', b: 'two words' });
  });

  it('passes a multipart upload', async () => {
    const form = new FormData();
    const content = Buffer.alloc(300_000, 'x');
    form.append('title', 'report');
    form.append('doc', new Blob([content]), 'report.bin');
    const res = await fetch(`${site.origin}/upload.php`, { method: 'POST', body: form });
    const { createHash } = await import('node:crypto');
    expect(await res.json()).toEqual({ name: 'report.bin', size: content.length, md5: createHash('md5').update(content).digest('hex'), field: 'report' });
  });

  it('gives a chunked request body (no Content-Length) to the script with CONTENT_LENGTH', async () => {
    const { createHash } = await import('node:crypto');
    const parts = [Buffer.alloc(70_000, 'a'), Buffer.alloc(12_345, 'b')];
    const answer = await new Promise<string>((resolve, reject) => {
      const req = request(`${site.origin}/length.php`, { method: 'POST', headers: { 'Transfer-Encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => { text += c.toString(); });
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      for (const part of parts) req.write(part);
      req.end();
    });
    const all = Buffer.concat(parts);
    expect(answer).toBe(`${all.length} ${all.length} ${createHash('md5').update(all).digest('hex')}`);
  });

  it('sets PATH_INFO and PATH_TRANSLATED inside the root', async () => {
    const res = await fetch(`${site.origin}/env.php/some/extra%20path?x=1`);
    const env = await res.json() as Record<string, string>;
    expect(env.PATH_INFO).toBe('/some/extra path');
    expect(env.PATH_TRANSLATED).toBe(`${site.root}/some/extra path`);
    expect(env.SCRIPT_NAME).toBe('/env.php');
    expect(env.SCRIPT_FILENAME).toBe(`${site.root}/env.php`);
  });

  it('gives the script the full CGI/1.1 environment', async () => {
    const res = await fetch(`${site.origin}/env.php?a=b`, { method: 'POST', headers: { 'Content-Type': 'text/plain', 'X-Custom': 'yes' }, body: 'hello' });
    const env = await res.json() as Record<string, string | null>;
    expect(env).toMatchObject({
      GATEWAY_INTERFACE: 'CGI/1.1', SERVER_SOFTWARE: 'Apache/2.4 (devmount)', SERVER_NAME: '127.0.0.1', SERVER_PORT: String(site.port),
      SERVER_PROTOCOL: 'HTTP/1.1', REQUEST_METHOD: 'POST', REQUEST_URI: '/env.php?a=b', QUERY_STRING: 'a=b',
      DOCUMENT_ROOT: site.root, CONTENT_TYPE: 'text/plain', CONTENT_LENGTH: '5', REMOTE_ADDR: '127.0.0.1',
      REDIRECT_STATUS: '200', HTTP_X_CUSTOM: 'yes', HTTPS: null,
    });
    expect(Number(env.REMOTE_PORT)).toBeGreaterThan(0);
  });

  it('names the server Apache-compatible only while .htaccess files are read (WordPress\'s $is_apache)', async () => {
    const plain = await startPhpSite(FILES, { phpWorkers: workers, htaccess: false });
    try {
      const env = await (await fetch(`${plain.origin}/env.php`)).json() as Record<string, string | null>;
      expect(env.SERVER_SOFTWARE).toBe('devmount');
    } finally {
      await plain.close();
    }
  });

  it('runs PHP with upload limits applications can show, and --php-ini settings on top', async () => {
    expect(await (await fetch(`${site.origin}/ini.php`)).text()).toMatch(/^2G 2G /);
    const tuned = await startPhpSite(FILES, { phpWorkers: workers, phpIni: ['memory_limit=77M', 'upload_max_filesize=5M', 'display_errors=stderr'] });
    try {
      expect(await (await fetch(`${tuned.origin}/ini.php`)).text()).toBe('5M 2G 77M stderr');
    } finally {
      await tuned.close();
    }
  });

  it('applies php_value/php_flag/php_admin_value from .htaccess to the scripts of that directory only', async () => {
    for (let round = 0; round < 2; round++) {
      expect(await (await fetch(`${site.origin}/tuned/ini.php`)).text()).toBe('9M 2G 99M 0');
      expect(await (await fetch(`${site.origin}/ini.php`)).text()).toMatch(/^2G 2G (?!99M)/);
    }
  });

  it('honours Status: 404 from a script', async () => {
    const res = await fetch(`${site.origin}/missing.php`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('no such thing');
  });

  it('honours a Location: redirect from a script', async () => {
    const res = await fetch(`${site.origin}/redirect.php`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://example.com/elsewhere');
  });

  it('drops the Proxy header (httpoxy) and a client Redirect-Status', async () => {
    const res = await fetch(`${site.origin}/env.php`, { headers: { Proxy: 'http://evil.example:8080', 'Redirect-Status': '200' } });
    const env = await res.json() as Record<string, unknown>;
    expect(env.HTTP_PROXY).toBeNull();
    expect(env.getenv_HTTP_PROXY).toBe(false);
    expect(env.HTTP_REDIRECT_STATUS).toBeNull();
  });

  it('never passes the query string as arguments: ?-s does not disclose the source (CVE-2012-1823)', async () => {
    const res = await fetch(`${site.origin}/source.php?-s`);
    const body = await res.text();
    expect(body).toBe('ran');
    expect(body).not.toContain('SECRET-SOURCE-MARKER');
    const env = await (await fetch(`${site.origin}/env.php?-d+allow_url_include%3d1`)).json() as Record<string, unknown>;
    expect(env.QUERY_STRING).toBe('-d+allow_url_include%3d1');
    expect(env.argv === null || (Array.isArray(env.argv) && env.argv.length <= 1)).toBe(true);
  });

  it('never runs a script under a dot-directory', async () => {
    const res = await fetch(`${site.origin}/.hidden/run.php`);
    expect(res.status).toBe(404);
    expect(await res.text()).not.toContain('ran');
  });

  it('logs script stderr with the request id', async () => {
    const res = await fetch(`${site.origin}/stderr.php`, { headers: { 'X-Request-Id': `stderr-test-${workers}` } });
    expect(await res.text()).toBe('logged');
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 40 && line === undefined; i++) {
      line = site.logs.find((l) => String(l.stderr ?? '').includes('marker-from-php-stderr'));
      if (line === undefined) await delay(50);
    }
    expect(line?.reqId).toBe(`stderr-test-${workers}`);
  });

  it('kills a script that hangs at the timeout and answers 504', async () => {
    const tag = `timeout${workers}`;
    const res = await fetch(`${site.origin}/hang.php?tag=${tag}`);
    expect(res.status).toBe(504);
    expect(await pidGone(await readPid(site.root, tag))).toBe(true);
    const after = await fetch(`${site.origin}/missing.php`);
    expect(after.status).toBe(404);
  });

  it('lets a script run on after the client left (ignore_user_abort), as php-fpm does, and logs it as info', async () => {
    const tag = `abort${workers}`;
    // curl -m 0.5: the client gives up half a second after asking, while the script sleeps.
    await askAndLeave(site.port, `/runs-on.php?tag=${tag}`, 500);
    expect(await whenWritten(path.join(site.root, `done-${tag}.txt`), 100)).toBe('y:0');
    const lines = site.logs.filter((l) => JSON.stringify(l).includes('runs-on.php'));
    expect(lines.some((l) => l.level === 30 && String(l.msg).includes('client went away')), JSON.stringify(site.logs.slice(-8))).toBe(true);
    expect(lines.filter((l) => typeof l.level === 'number' && l.level >= 40)).toEqual([]);
  });

  it(stopsOnAbort ? 'stops a script that does not ignore user aborts at its next write after the client left, as nginx + php-fpm do'
    : 'lets a script run to its end after the client left (a CGI process per request)', async () => {
    const tag = `leave${workers}${backend}`;
    await askAndLeave(site.port, `/writes-on.php?tag=${tag}`, 'after first bytes');
    const status = await whenWritten(path.join(site.root, `status-${tag}.txt`), 100);
    const completed = await readFile(path.join(site.root, `completed-${tag}.txt`), 'utf8').catch(() => null);
    expect({ status, completed }).toEqual(stopsOnAbort ? { status: '1', completed: null } : { status: '0', completed: 'y' });
    // The worker is free again: the next script runs.
    const next = await fetch(`${site.origin}/source.php`);
    expect(await next.text()).toBe('ran');
  });

  it('runs a request whose client left while it waited for a worker, as nginx + php-fpm do (WordPress\'s cron spawn)', async () => {
    const tag = `queued${workers}${backend}`;
    // Every worker busy for half a second (the waiting request's --php-timeout of 2 s counts from its arrival).
    const busy = Array.from({ length: Math.max(workers, 1) }, () => fetch(`${site.origin}/pause.php`).then((r) => r.text()));
    await delay(100);
    await askAndLeave(site.port, `/runs-on.php?tag=${tag}`, 100);
    const written = await whenWritten(path.join(site.root, `done-${tag}.txt`), 200);
    // 1 when its flush() reached the closed connection, 0 when the headers were still buffered: either way it ran.
    expect(written).toMatch(/^y:[01]$/);
    expect(await Promise.all(busy)).toEqual(busy.map(() => 'paused'));
  });

  it('still stops a script at --php-timeout after its client left, and the next request is served', async () => {
    const tag = `disconnect${workers}`;
    const req = request(`${site.origin}/hang.php?tag=${tag}`);
    req.on('error', () => undefined);
    req.end();
    const pid = await readPid(site.root, tag);
    req.destroy();
    expect(await pidGone(pid)).toBe(true);
    const after = await fetch(`${site.origin}/missing.php`);
    expect(after.status).toBe(404);
  });
});
