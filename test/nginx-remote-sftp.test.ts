/**
 * `devmount serve user@host:path` against a server that runs no commands (sshd `ForceCommand internal-sftp`):
 * the nginx server block for the path is read from sites-enabled/ over SFTP instead of `nginx -T`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';
import { freePort } from './helpers/net.js';
import { eventually } from './helpers/eventually.js';

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'devmount.js');
let sshd: Sshd;
let child: ChildProcess | null = null;

beforeAll(async () => { sshd = await startSshd({ sftpOnly: true }); }, 60_000);
afterAll(async () => {
  if (child !== null && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await sshd?.stop();
});

it('reads the server block over SFTP when the server runs no commands, and applies it', async () => {
  const site = path.join(sshd.root, 'site');
  const configRoot = path.join(sshd.root, 'nginx');
  await mkdir(site, { recursive: true });
  await mkdir(path.join(configRoot, 'sites-enabled'), { recursive: true });
  await writeFile(path.join(site, 'index.html'), 'home\n');
  await writeFile(path.join(configRoot, 'sites-enabled', 'site'),
    `server {\n    root ${site};\n    location = /hello { return 200 "from the server block"; }\n    location /old/ { rewrite ^/old/(.*)$ /$1 permanent; }\n}\n`);
  const port = await freePort();
  child = spawn(process.execPath, [CLI, 'serve', `${sshd.user}@127.0.0.1:${site}`,
    '-o', `Port=${sshd.port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath}`,
    '--server-config-root', configRoot, '--port', String(port), '--no-livereload', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  await eventually(() => stdout.includes(`http://127.0.0.1:${port}/`) || child?.exitCode !== null, 30_000, 'the start-up URLs');
  expect(stdout, stderr).toContain(`devmount serve: applying the nginx server block at ${configRoot}/sites-enabled/site:1 (read via ${configRoot}/sites-enabled/ and conf.d/ over SFTP)`);
  const origin = `http://127.0.0.1:${port}`;
  expect(await (await fetch(`${origin}/hello`)).text()).toBe('from the server block');
  const old = await fetch(`${origin}/old/index.html`, { redirect: 'manual' });
  expect(old.status).toBe(301);
  expect(old.headers.get('location')).toBe('/index.html');
  expect(await (await fetch(`${origin}/`)).text()).toBe('home\n');
  const exited = new Promise((resolve) => child?.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}, 90_000);
