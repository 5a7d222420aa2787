/** Option resolution: command line > ssh config > defaults, tokens, Include, ProxyJump chains, bad values. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../cli/exit-codes.js';
import { translateError } from '../cli/translate-error.js';
import { resolveSshOptions } from '../fs/ssh/resolve.js';
import { SshConfigError } from '../fs/ssh/types.js';

describe('resolveSshOptions', () => {
  let home: string;
  let empty: string;
  const saved = { HOME: process.env.HOME, SSH_AUTH_SOCK: process.env.SSH_AUTH_SOCK };

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'devmount-home-'));
    process.env.HOME = home; // os.homedir() reads $HOME first
    process.env.SSH_AUTH_SOCK = '/run/agent.sock';
    await mkdir(join(home, '.ssh', 'conf.d'), { recursive: true });
    await writeFile(join(home, '.ssh', 'id_ed25519'), 'not read during resolution');
    await writeFile(join(home, '.ssh', 'work_key'), 'x');
    await writeFile(join(home, '.ssh', 'config'), [
      'Include conf.d/*.conf',
      'Host web',
      '  HostName web.example.com',
      '  User deploy',
      '  Port 2200',
      '  IdentityFile ~/.ssh/work_key',
      '  IdentityFile ~/.ssh/missing_key',
      '  UserKnownHostsFile ~/.ssh/kh_%h_%p %d/.ssh/kh2',
      '  StrictHostKeyChecking accept-new',
      '  ServerAliveInterval 30',
      '  ServerAliveCountMax 5',
      '  ConnectTimeout 4',
      '  HostKeyAlias webalias',
      'Host lonely',
      '  IdentitiesOnly yes',
      'Host chain',
      '  ProxyJump first,jumper@second:2222',
      'Host badport',
      '  Port eighty',
      'Host viacommand',
      '  ProxyCommand nc %h %p',
      'Host badtoken',
      '  IdentityFile ~/.ssh/%Z',
      '',
    ].join('\n'));
    await writeFile(join(home, '.ssh', 'conf.d', 'extra.conf'), 'Host included\n  HostName 10.1.2.3\n  Port 2022\n');
    empty = join(home, 'empty_config');
    await writeFile(empty, '');
  });
  afterAll(async () => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    await rm(home, { recursive: true, force: true });
  });

  it('uses the defaults when nothing is configured', async () => {
    const o = await resolveSshOptions({ host: 'plain.example.com' }, { sshConfigFile: empty });
    expect(o).toMatchObject({
      host: 'plain.example.com', hostName: 'plain.example.com', port: 22, user: userInfo().username,
      strictHostKeyChecking: 'ask', keepaliveIntervalMs: 15_000, keepaliveCountMax: 3, connectTimeoutMs: 15_000,
      agentSocket: '/run/agent.sock', identityFilesExplicit: false, proxyJump: undefined, jump: undefined,
    });
    // Default key files that exist, in ssh's order; missing ones are skipped.
    expect(o.identityFiles).toEqual([join(home, '.ssh', 'id_ed25519')]);
    expect(o.knownHostsFiles).toEqual([join(home, '.ssh', 'known_hosts'), join(home, '.ssh', 'known_hosts2'), '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2']);
    expect(Object.isFrozen(o)).toBe(true);
  });

  it('reads ~/.ssh/config by default: alias, tokens, several known_hosts files, and the rest', async () => {
    const o = await resolveSshOptions({ host: 'web' }, {});
    expect(o).toMatchObject({
      host: 'web', hostName: 'web.example.com', port: 2200, user: 'deploy', strictHostKeyChecking: 'accept-new',
      keepaliveIntervalMs: 30_000, keepaliveCountMax: 5, connectTimeoutMs: 4000, hostKeyAlias: 'webalias',
    });
    expect(o.identityFiles).toEqual([join(home, '.ssh', 'work_key')]); // missing_key skipped, defaults not added
    expect(o.knownHostsFiles.slice(0, 2)).toEqual([join(home, '.ssh', 'kh_web.example.com_2200'), join(home, '.ssh', 'kh2')]);
  });

  it('command line beats the config', async () => {
    const o = await resolveSshOptions({ host: 'web', user: 'cliuser' }, {
      port: 2300, user: 'ignored-since-the-spec-names-a-user', identityFiles: ['~/cli_key'], knownHostsFile: '~/kh_cli',
      strictHostKeyChecking: 'yes', serverAliveInterval: 0, serverAliveCountMax: 2, connectTimeout: 9, proxyJump: 'none',
      password: 'secret', sshConfigFile: join(home, '.ssh', 'config'),
    });
    expect(o).toMatchObject({
      hostName: 'web.example.com', port: 2300, user: 'cliuser', strictHostKeyChecking: 'yes', keepaliveIntervalMs: 0,
      keepaliveCountMax: 2, connectTimeoutMs: 9000, identityFilesExplicit: true, password: 'secret', jump: undefined,
    });
    expect(o.identityFiles).toEqual([join(home, 'cli_key'), join(home, '.ssh', 'work_key')]);
    expect(o.knownHostsFiles[0]).toBe(join(home, 'kh_cli'));
    expect((await resolveSshOptions({ host: 'web' }, { user: 'optuser' })).user).toBe('optuser');
  });

  it('follows Include (relative to ~/.ssh, with a glob)', async () => {
    const o = await resolveSshOptions({ host: 'included' }, {});
    expect(o).toMatchObject({ hostName: '10.1.2.3', port: 2022 });
  });

  it('IdentitiesOnly yes leaves the agent out', async () => {
    expect((await resolveSshOptions({ host: 'lonely' }, {})).agentSocket).toBeUndefined();
  });

  it('resolves a ProxyJump chain: the last hop is the jump host, the rest its own jump', async () => {
    const o = await resolveSshOptions({ host: 'chain' }, {});
    expect(o.proxyJump).toBe('first,jumper@second:2222');
    expect(o.jump).toMatchObject({ host: 'second', user: 'jumper', port: 2222, proxyJump: 'first' });
    expect(o.jump?.jump).toMatchObject({ host: 'first', port: 22, jump: undefined });
  });

  const bad: Record<string, [{ host: string }, Parameters<typeof resolveSshOptions>[1] | undefined, RegExp]> = {
    'a bad Port in the config': [{ host: 'badport' }, undefined, /port "eighty"/i],
    'an unknown %token': [{ host: 'badtoken' }, undefined, /unknown token "%Z"/],
    'a missing -F file': [{ host: 'x' }, { sshConfigFile: '/nonexistent/devmount/config' }, /cannot read ssh config \/nonexistent/],
    'a ProxyJump loop': [{ host: 'x' }, { proxyJump: 'loop' , sshConfigFile: 'LOOP' }, /ProxyJump chain longer than/],
    'ProxyCommand (not supported)': [{ host: 'viacommand' }, undefined, /ProxyCommand.*use ProxyJump/],
    'a port out of range': [{ host: 'x' }, { port: 70000 }, /port 70000 is out of range/],
  };
  for (const [what, [target, overrides, message]] of Object.entries(bad)) {
    it(`rejects ${what} with a usage error`, async () => {
      let o = overrides ?? {};
      if (o.sshConfigFile === 'LOOP') {
        const loop = join(home, 'loop_config');
        await writeFile(loop, 'Host *\n  ProxyJump loop\n');
        o = { ...o, sshConfigFile: loop };
      }
      let caught: unknown;
      try {
        await resolveSshOptions(target, o);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(SshConfigError);
      expect((caught as Error).message).toMatch(message);
      expect(translateError(caught).exitCode).toBe(ExitCode.usage);
    });
  }
});
