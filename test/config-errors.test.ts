/**
 * Config file errors: each gives one line naming where the problem is (line:column for bad JSON, the key path
 * otherwise) and exit code 2. Table-driven against the parser, then through the real CLI for up/down/status/
 * autostart.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseConfigText, selectMounts } from '../cli/config/load.js';
import { isUserError } from '../cli/user-error.js';

const FILE = '/home/u/.config/devmount/config.json';

function errorOf(text: string): { message: string; exitCode: number } {
  try {
    parseConfigText(text, FILE, { HOME: '/home/u' });
  } catch (err) {
    if (isUserError(err)) return { message: err.message, exitCode: err.exitCode };
    throw err;
  }
  throw new Error(`accepted: ${text}`);
}

const mount = (extra: Record<string, unknown>): string => JSON.stringify({
  mounts: { site: { remote: 'deploy@example.com:/var/www/site', mountpoint: '~/remote/site', ...extra } },
});

// [what, config text, the exact message after "FILE: "]
const cases: ReadonlyArray<readonly [string, string, string]> = [
  ['trailing comma', '{\n  "mounts": {},\n}', '3:1: bad JSON: expected a key in double quotes (JSON allows no comma after the last entry)'],
  ['missing comma', '{"mounts": {\n  "a": {"remote": "h:/", "mountpoint": "/m"}\n  "b": 1}}', "3:3: bad JSON: expected ',' between entries"],
  ['unquoted key', '{mounts: {}}', '1:2: bad JSON: unexpected character "mounts:" (strings and keys need double quotes)'],
  ['comment', '{"mounts": {} // mine\n}', '1:15: bad JSON: comments are not allowed in JSON'],
  ['empty file', '', '1:1: bad JSON: unexpected end of file'],
  ['truncated', '{"mounts": {"site": {', "1:22: bad JSON: unexpected end of file: expected '}'"],
  ['not an object', '[]', 'must be an object like {"mounts": {"site": {"remote": "user@host:/path", "mountpoint": "~/remote/site"}}}, not an array'],
  ['unknown top key', '{"mounts": {}, "mount": {}}', 'mount: unknown key (did you mean "mounts"?); allowed here: $schema, mounts'],
  ['no mounts', '{}', 'mounts: missing: an object of named mounts, e.g. {"site": {"remote": "user@host:/path", "mountpoint": "~/remote/site"}}'],
  ['unknown mount key', mount({ mountpiont: '/x' }), 'mounts.site.mountpiont: unknown key (did you mean "mountpoint"?); allowed here: remote, mountpoint, port, options, serve'],
  ['unknown key, no near match', mount({ verbose: true }), 'mounts.site.verbose: unknown key; allowed here: remote, mountpoint, port, options, serve'],
  ['missing mountpoint', '{"mounts": {"site": {"remote": "h:/x"}}}', 'mounts.site.mountpoint: missing: the local directory to mount on, e.g. "~/remote/site"'],
  ['missing remote', '{"mounts": {"site": {"mountpoint": "/x"}}}', 'mounts.site.remote: missing: the remote directory as [user@]host:[path], e.g. "deploy@example.com:/var/www/site"'],
  ['port as string', mount({ port: '22' }), 'mounts.site.port: must be a whole number from 1 to 65535, not "22" (a string)'],
  ['port out of range', mount({ port: 70000 }), 'mounts.site.port: must be a whole number from 1 to 65535, not 70000 (a number)'],
  ['remote not a string', mount({ remote: 42 }), 'mounts.site.remote: must be a string ([user@]host:[path]), not 42 (a number)'],
  ['remote without colon', mount({ remote: 'example.com/var/www' }), 'mounts.site.remote: "example.com/var/www" is not [user@]host:[path] (e.g. "deploy@example.com:/var/www/site")'],
  ['relative mountpoint', mount({ mountpoint: 'remote/site' }), 'mounts.site.mountpoint: "remote/site" must be an absolute path or start with ~/'],
  ['options not a string', mount({ options: ['ro'] }), 'mounts.site.options: must be a string (the -o list of `devmount mount`, e.g. "IdentityFile=~/.ssh/id_ed25519,reconnect"), not an array'],
  ['unknown -o option', mount({ options: 'reconnect,turbo' }), 'mounts.site.options: unknown option -o turbo: supported are '],
  ['bad -o value', mount({ options: 'cache=maybe' }), 'mounts.site.options: -o cache=maybe: expected yes or no'],
  ['serve not an object', mount({ serve: true }), 'mounts.site.serve: must be an object like {"port": 8080, "php": true}, not true (true/false)'],
  ['serve.php wrong type', mount({ serve: { php: 'yes' } }), 'mounts.site.serve.php: must be true or false, not "yes" (a string)'],
  ['serve unknown key', mount({ serve: { prot: 8080 } }), 'mounts.site.serve.prot: unknown key (did you mean "port"?); allowed here: port, php'],
  ['mount not an object', '{"mounts": {"site": "h:/x"}}', 'mounts.site: must be an object like {"remote": "user@host:/path", "mountpoint": "~/remote/site"}, not "h:/x" (a string)'],
  ['bad name', '{"mounts": {"my site": {"remote": "h:/", "mountpoint": "/m"}}}', 'mounts["my site"]: bad mount name: use letters, digits, "-" and "_" (at most 64, starting with a letter or digit)'],
];

describe('config validation messages', () => {
  for (const [what, text, expected] of cases) {
    it(what, () => {
      const { message, exitCode } = errorOf(text);
      expect(exitCode).toBe(2);
      expect(message.includes('\n')).toBe(false);
      const sep = expected.match(/^\d+:\d+:/) ? ':' : ': ';
      if (what === 'unknown -o option') expect(message.startsWith(`${FILE}${sep}${expected}`)).toBe(true);
      else expect(message).toBe(`${FILE}${sep}${expected}`);
    });
  }

  it('expands ~ in mount points, fills serve defaults and keeps file order', () => {
    const config = parseConfigText(JSON.stringify({
      mounts: {
        site: { remote: 'deploy@example.com:/var/www/site', mountpoint: '~/remote/site', port: 2222,
          options: 'IdentityFile=~/.ssh/id_ed25519,reconnect', serve: { port: 8081 } },
        blog: { remote: 'blog:', mountpoint: '/mnt/blog/' },
      },
    }), FILE, { HOME: '/home/u' });
    expect(config.mounts).toEqual([
      { name: 'site', remote: 'deploy@example.com:/var/www/site', mountpoint: '/home/u/remote/site', port: 2222,
        options: 'IdentityFile=~/.ssh/id_ed25519,reconnect', serve: { port: 8081, php: false } },
      { name: 'blog', remote: 'blog:', mountpoint: '/mnt/blog', port: undefined, options: undefined, serve: undefined },
    ]);
    expect(Object.isFrozen(config.mounts[0])).toBe(true);
    expect(selectMounts(config, ['blog']).map((m) => m.name)).toEqual(['blog']);
    expect(() => selectMounts(config, ['blgo'])).toThrow('no mount named "blgo" in /home/u/.config/devmount/config.json (configured: site, blog)');
  });

  it('finds the default file under $XDG_CONFIG_HOME, else ~/.config', async () => {
    await expect(loadConfig(undefined, { HOME: '/nonexistent-home', XDG_CONFIG_HOME: '/nonexistent-xdg' }))
      .rejects.toThrow('no config file at /nonexistent-xdg/devmount/config.json');
    await expect(loadConfig(undefined, { HOME: '/nonexistent-home' }))
      .rejects.toThrow('no config file at /nonexistent-home/.config/devmount/config.json');
  });
});

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['bin/devmount.js', ...args], { env, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

describe('config errors through the CLI', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'devmount-config-errors-'));
    env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_STATE_HOME: join(dir, 'state'), XDG_RUNTIME_DIR: join(dir, 'run') };
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  const files: ReadonlyArray<readonly [string, string, string]> = [
    ['bad-json.json', '{\n  "mounts": {\n    "site": {"remote": "h:/x" "mountpoint": "/m"}\n  }\n}', ":3:31: bad JSON: expected ',' between entries"],
    ['unknown-key.json', '{"mounts": {"site": {"remote": "h:/x", "mountpont": "/m"}}}', ': mounts.site.mountpont: unknown key (did you mean "mountpoint"?); allowed here: remote, mountpoint, port, options, serve'],
    ['no-mountpoint.json', '{"mounts": {"site": {"remote": "h:/x"}}}', ': mounts.site.mountpoint: missing: the local directory to mount on, e.g. "~/remote/site"'],
    ['wrong-type.json', '{"mounts": {"site": {"remote": "h:/x", "mountpoint": "/m", "port": "22"}}}', ': mounts.site.port: must be a whole number from 1 to 65535, not "22" (a string)'],
  ];
  const commands: ReadonlyArray<readonly string[]> = [['up'], ['down'], ['status'], ['autostart', 'install', '--print']];

  for (const [name, text, suffix] of files) {
    for (const command of commands) {
      it(`${command.join(' ')} with ${name}: exit 2, one line with where`, async () => {
        const file = join(dir, name);
        await writeFile(file, text);
        const { code, stdout, stderr } = await runCli([...command, '--config', file], env);
        expect(stderr).toBe(`devmount: ${file}${suffix}\n`);
        expect(code).toBe(2);
        expect(stdout).toBe('');
      });
    }
  }

  it('a missing --config file is exit 2 with one line', async () => {
    const file = join(dir, 'nope.json');
    const { code, stderr } = await runCli(['up', '--config', file], env);
    expect(stderr).toBe(`devmount: no config file at ${file}: create it with your mounts (see "Start at login" in the README) or pass --config FILE\n`);
    expect(code).toBe(2);
  });

  it('a bad --wait is exit 2 with one line', async () => {
    const { code, stderr } = await runCli(['up', '--wait', 'soon'], env);
    expect(stderr).toBe('devmount: --wait soon: expected a number of seconds from 0 to 86400\n');
    expect(code).toBe(2);
  });
});
