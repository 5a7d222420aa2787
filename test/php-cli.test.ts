import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The PHP/CGI/proxy flags of the real CLI: auto-enabled PHP with its notice, and bad input → one line, exit 2.
function run(args: string[], untilOutput?: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/devmount.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (untilOutput?.test(stdout) === true) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('devmount serve PHP flags', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'devmount-php-cli-'));
    await writeFile(path.join(dir, 'index.php'), '<?php echo 1;');
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('turns PHP on by itself when the root has .php files, with a one-line notice: the php-cgi pool by default', async () => {
    const r = await run(['serve', dir, '--port', '0', '--no-livereload'], /http:\/\/127\.0\.0\.1:\d+/);
    expect(r.stdout).toMatch(/^devmount serve: PHP on \(found \.php files\): FastCGI pool of up to \d+ php-cgi workers .*--no-php to turn it off$/m);
  });

  it('--php-backend fpm: php-fpm, found in /usr/sbin', async () => {
    const r = await run(['serve', dir, '--port', '0', '--no-livereload', '--php-backend', 'fpm'], /http:\/\/127\.0\.0\.1:\d+/);
    expect(r.stdout).toMatch(/^devmount serve: PHP on \(found \.php files\): php-fpm, a static pool of \d+ \(\/usr\/sbin\/php-fpm8\.\d\); --no-php to turn it off$/m);
  });

  it.each([
    [['--proxy', 'api=http://127.0.0.1:1'], /^devmount: --proxy api=http:\/\/127\.0\.0\.1:1: the prefix must start with '\/'\n$/],
    [['--proxy', '/api=nonsense'], /^devmount: --proxy \/api=nonsense: "nonsense" is not a URL\n$/],
    [['--php=/nonexistent/php-cgi'], /^devmount: \/nonexistent\/php-cgi not found: install php-cgi .*\n$/],
    [['--php-timeout', '0'], /^devmount: --php-timeout must be a whole number from 1 to 86400, not "0"\n$/],
    [['--php-workers', 'many'], /^devmount: --php-workers must be a whole number from 0 to 256, not "many"\n$/],
    [['--php-ini', 'memory_limit'], /^devmount: --php-ini expects KEY=VALUE, such as memory_limit=512M, not "memory_limit"\n$/],
    [['--cgi', '../outside'], /^devmount: --cgi \.\.\/outside: give a directory inside the site, such as cgi-bin\n$/],
    [['--php-backend', 'fast'], /^devmount: --php-backend must be one of auto, fpm, cgi, not "fast"\n$/],
    [['--php-backend', 'fpm', '--php-workers', '0'], /^devmount: --php-backend fpm needs --php-workers 1 or more\n$/],
    [['--front-controller', '../x.php'], /^devmount: --front-controller \.\.\/x\.php: give a script inside the site, such as \/index\.php \(or "none"\)\n$/],
    [['--nginx-config', '/nonexistent/site.conf'], /^devmount: --nginx-config: \/nonexistent\/site\.conf: cannot read the file\n$/],
  ])('rejects %j with one line and exit 2', async (args, message) => {
    const r = await run(['serve', dir, '--port', '0', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
