/**
 * resolveSshOptions against OpenSSH's own resolution, `ssh -G -F FILE host` (prints the effective config and
 * exits without connecting), for the settings devmount reads from ssh_config.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveSshOptions, type SshOverrides } from '../fs/ssh/resolve.js';

const execFileAsync = promisify(execFile);

async function sshG(configFile: string, host: string, args: string[] = []): Promise<Map<string, string[]>> {
  const { stdout } = await execFileAsync('ssh', ['-G', '-F', configFile, ...args, host], { timeout: 10_000 });
  const values = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const key = line.slice(0, space);
    values.set(key, [...(values.get(key) ?? []), line.slice(space + 1)]);
  }
  return values;
}

describe('ssh config resolution agrees with ssh -G', () => {
  let dir: string;
  let configFile: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'devmount-sshg-'));
    await mkdir(join(dir, 'conf.d'));
    await writeFile(join(dir, 'conf.d', 'a.conf'), 'Host fromincl\n  HostName included.example.net\n  Port 2022\n');
    await Promise.all(['deploy', 'cli'].map((u) => writeFile(join(dir, `work_${u}`), 'key')));
    configFile = join(dir, 'config');
    await writeFile(configFile, [
      `Include ${join(dir, 'conf.d')}/*.conf`,
      'Host web web2',
      '  HostName %h.example.com',
      '  User deploy',
      '  Port 2200',
      `  IdentityFile ${dir}/work_%r`,
      `  UserKnownHostsFile ${dir}/kh_%h_%p ${dir}/kh_second`,
      '  StrictHostKeyChecking accept-new',
      '  ConnectTimeout 4',
      '  ProxyJump jump1,admin@jump2:2222',
      'Host *.example.org !bad.example.org',
      '  User orguser',
      '  StrictHostKeyChecking no',
      'Host *',
      '  Port 2201',
      '  User fallback',
      '',
    ].join('\n'));
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  const cases: Array<[string, SshOverrides, string[]]> = [
    ['web', {}, []],
    ['web2', {}, []],
    ['www.example.org', {}, []],
    ['bad.example.org', {}, []],
    ['fromincl', {}, []],
    ['web', { port: 2300, user: 'cli' }, ['-p', '2300', '-l', 'cli']],
    ['plain', {}, []],
  ];

  for (const [host, overrides, args] of cases) {
    it(`${host} ${args.join(' ')}`, async () => {
      const ours = await resolveSshOptions({ host }, { ...overrides, sshConfigFile: configFile });
      const theirs = await sshG(configFile, host, args);
      expect({
        hostName: ours.hostName, port: ours.port, user: ours.user, strict: ours.strictHostKeyChecking,
        userKnownHosts: ours.knownHostsFiles.slice(0, -2), globalKnownHosts: ours.knownHostsFiles.slice(-2),
        proxyJump: ours.proxyJump,
      }).toEqual({
        hostName: theirs.get('hostname')?.[0], port: Number(theirs.get('port')?.[0]), user: theirs.get('user')?.[0],
        strict: theirs.get('stricthostkeychecking')?.[0] === 'false' ? 'no' : theirs.get('stricthostkeychecking')?.[0],
        userKnownHosts: theirs.get('userknownhostsfile')?.[0]?.split(' '),
        globalKnownHosts: theirs.get('globalknownhostsfile')?.[0]?.split(' '),
        proxyJump: theirs.get('proxyjump')?.[0],
      });
      if (theirs.get('connecttimeout')?.[0] !== 'none') expect(ours.connectTimeoutMs).toBe(Number(theirs.get('connecttimeout')?.[0]) * 1000);
      // ssh -G prints IdentityFile before token expansion (done when keys are loaded): expand %r with its user.
      // Ours lists only files that exist: the configured ones exist, the defaults in ~/.ssh may or may not.
      const configured = (theirs.get('identityfile') ?? []).filter((f) => f.startsWith(dir))
        .map((f) => f.replace('%r', theirs.get('user')?.[0] ?? ''));
      expect(ours.identityFiles.filter((f) => f.startsWith(dir))).toEqual(configured);
    });
  }
});
