/**
 * PHP helper processes die with devmount even when it is killed with SIGKILL, which no exit handler sees: the
 * php-cgi workers of the pool and the php-fpm master (and so its children) are started with the parent-death
 * signal (devserver/cgi/parent-bound.ts). Real `devmount serve`, real php-cgi and php-fpm.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServeProcess, type ServeProcess } from './helpers/serve-process.js';
import { eventually } from './helpers/eventually.js';

/** The pids of every live descendant of `root`, from /proc (its ppid is the 4th field of /proc/PID/stat). */
async function descendantsOf(root: number): Promise<number[]> {
  const parents = new Map<number, number>();
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => null);
    if (stat === null) continue;
    // The command name (2nd field) is in parentheses and may hold spaces: the fields after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    parents.set(Number(name), Number(fields[1]));
  }
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, parent] of parents) {
      if (parent === pid) {
        found.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return found;
}

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  // A zombie (state Z) has exited; only its parent's wait is missing.
  return stat !== null && stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
}

async function commandOf(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ');
}

describe('PHP helper processes after devmount serve is killed with SIGKILL', () => {
  let site: string;
  const started: ServeProcess[] = [];
  beforeAll(async () => {
    site = await mkdtemp(join(tmpdir(), 'devmount-parent-death-'));
    await writeFile(join(site, 'index.php'), '<?php echo "php ", PHP_VERSION;');
  });
  afterAll(async () => {
    for (const serve of started) await serve.stop();
    await rm(site, { recursive: true, force: true });
  });

  for (const backend of ['cgi', 'fpm'] as const) {
    it(`--php-backend ${backend}: the PHP processes are gone once devmount is`, async () => {
      const serve = await startServeProcess([site, '--no-livereload', '--php-backend', backend], { ...process.env });
      started.push(serve);
      const page = await fetch(`${serve.url}index.php`);
      expect(await page.text()).toMatch(/^php \d/);
      const pid = serve.child.pid ?? 0;
      const helpers = await descendantsOf(pid);
      const commands = await Promise.all(helpers.map(commandOf));
      expect(commands.some((c) => (backend === 'fpm' ? /php-fpm/ : /php-cgi/).test(c)), commands.join('\n')).toBe(true);
      process.kill(pid, 'SIGKILL');
      const living = async () => (await Promise.all(helpers.map(async (p) => ((await alive(p)) ? p : 0)))).filter((p) => p !== 0);
      await eventually(async () => (await living()).length === 0, 10_000);
      expect(await Promise.all((await living()).map(commandOf))).toEqual([]);
    });
  }
});
