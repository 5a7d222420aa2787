/**
 * The connector against a real OpenSSH sshd: host key policy (known_hosts plain / hashed / changed / unknown,
 * accept-new, prompts), authentication (keys, encrypted keys, agent), ~/.ssh/config aliases, ProxyJump,
 * and the classification of every failure into a ConnectError kind with a one-line message.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { appendFile, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../cli/exit-codes.js';
import { translateError } from '../cli/translate-error.js';
import { createConnector } from '../fs/ssh/connect.js';
import { fingerprint } from '../fs/ssh/known-hosts.js';
import { resolveSshOptions } from '../fs/ssh/resolve.js';
import { ConnectError, type ConnectErrorKind, type Prompter, type ResolvedSshOptions } from '../fs/ssh/types.js';
import { harnessSshOptions } from './harness/connect.js';
import { freePort, startSshd, type Sshd } from './harness/sshd.js';

const execFileAsync = promisify(execFile);

async function connectAndList(options: ResolvedSshOptions, path: string): Promise<string[]> {
  const conn = await createConnector(options)();
  try {
    return await new Promise<string[]>((resolve, reject) => conn.sftp.readdir(path, (err, list) => (err ? reject(err) : resolve(list.map((e) => e.filename).sort()))));
  } finally {
    conn.close();
  }
}

async function connectError(options: ResolvedSshOptions, kind: ConnectErrorKind): Promise<ConnectError> {
  let caught: unknown;
  try {
    const conn = await createConnector(options)();
    conn.close();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConnectError);
  const error = caught as ConnectError;
  expect({ kind: error.kind, message: error.message }).toMatchObject({ kind });
  expect(error.message).not.toContain('\n');
  return error;
}

/** A prompter stub that records questions and answers from a script. */
function scriptedPrompter(answers: { ask?: string[]; secret?: string[] }): Prompter & { asked: string[] } {
  const asked: string[] = [];
  const ask = [...(answers.ask ?? [])];
  const secret = [...(answers.secret ?? [])];
  return {
    asked,
    ask: async (q) => { asked.push(q); return ask.shift() ?? ''; },
    secret: async (q) => { asked.push(q); return secret.shift() ?? ''; },
  };
}

describe('ssh connector against a real sshd', () => {
  let sshd: Sshd;
  let dir: string;
  let hostPrint: string;
  let otherKeyLine: string;

  beforeAll(async () => {
    [sshd, dir] = await Promise.all([startSshd(), mkdtemp(join(tmpdir(), 'devmount-sshc-'))]);
    await writeFile(join(sshd.root, 'hello.txt'), 'hi');
    hostPrint = fingerprint(Buffer.from(sshd.hostPublicKey.split(' ')[1] ?? '', 'base64'));
    await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
    otherKeyLine = (await readFile(join(dir, 'other.pub'), 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  });
  afterAll(async () => {
    await sshd.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('authenticates with a key and a known host key', async () => {
    expect(await connectAndList(harnessSshOptions(sshd), sshd.root)).toEqual(['hello.txt']);
  });

  it('wrong key → auth, exit code 5, names what was tried', async () => {
    const err = await connectError(harnessSshOptions(sshd, { identityFiles: [join(dir, 'other')] }), 'auth');
    expect(err.message).toContain(`key ${join(dir, 'other')}`);
    expect(err.message).toContain('publickey');
    expect(translateError(err).exitCode).toBe(ExitCode.auth);
  });

  it('missing identity file named on the command line → key-file, exit code 5', async () => {
    const err = await connectError(harnessSshOptions(sshd, { identityFiles: [join(dir, 'nope')] }), 'key-file');
    expect(err.message).toContain(join(dir, 'nope'));
    expect(translateError(err).exitCode).toBe(ExitCode.auth);
  });

  it('unknown host with StrictHostKeyChecking=yes → host-key-unknown, exit code 6', async () => {
    const empty = join(dir, 'empty_known_hosts');
    await writeFile(empty, '');
    const err = await connectError(harnessSshOptions(sshd, { knownHostsFiles: [empty] }), 'host-key-unknown');
    expect(err.message).toContain(hostPrint);
    expect(err.message).toContain('accept-new');
    expect(translateError(err).exitCode).toBe(ExitCode.hostKey);
  });

  it('unknown host with ask and no terminal → host-key-unknown telling how to proceed', async () => {
    const err = await connectError(harnessSshOptions(sshd, { knownHostsFiles: [join(dir, 'absent_kh')], strictHostKeyChecking: 'ask' }), 'host-key-unknown');
    expect(err.message).toMatch(/no terminal/);
    expect(err.message).toContain('StrictHostKeyChecking=accept-new');
  });

  it('accept-new appends a line ssh-keygen -F finds, and the next strict connect succeeds', async () => {
    const file = join(dir, 'accept-new', 'known_hosts');
    expect(await connectAndList(harnessSshOptions(sshd, { knownHostsFiles: [file], strictHostKeyChecking: 'accept-new' }), sshd.root)).toEqual(['hello.txt']);
    const name = `[127.0.0.1]:${sshd.port}`;
    const { stdout } = await execFileAsync('ssh-keygen', ['-F', name, '-f', file]);
    expect(stdout).toContain(`found: line 1`);
    expect(stdout).toContain(sshd.hostPublicKey);
    expect(await connectAndList(harnessSshOptions(sshd, { knownHostsFiles: [file], strictHostKeyChecking: 'yes' }), sshd.root)).toEqual(['hello.txt']);
  });

  it('changed key → always refused with the fingerprint, the file and line, and the fix', async () => {
    const file = join(dir, 'changed_known_hosts');
    await writeFile(file, `# old server\n[127.0.0.1]:${sshd.port} ${otherKeyLine}\n`);
    for (const strictHostKeyChecking of ['yes', 'accept-new', 'no', 'ask'] as const) {
      const prompter = scriptedPrompter({ ask: ['yes'] });
      const err = await connectError(harnessSshOptions(sshd, { knownHostsFiles: [file], strictHostKeyChecking, prompter }), 'host-key-changed');
      expect(err.message).toContain(hostPrint);
      expect(err.message).toContain(`${file} line 2`);
      expect(err.message).toContain(`ssh-keygen -R '[127.0.0.1]:${sshd.port}'`);
      expect(prompter.asked).toEqual([]);
      expect(translateError(err).exitCode).toBe(ExitCode.hostKey);
    }
  });

  it('@revoked key → refused', async () => {
    const file = join(dir, 'revoked_known_hosts');
    await writeFile(file, `@revoked * ${sshd.hostPublicKey}\n[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}\n`);
    const err = await connectError(harnessSshOptions(sshd, { knownHostsFiles: [file], strictHostKeyChecking: 'no' }), 'host-key-revoked');
    expect(translateError(err).exitCode).toBe(ExitCode.hostKey);
  });

  it('a hashed entry made by ssh-keygen -H matches', async () => {
    const file = join(dir, 'hashed_known_hosts');
    await copyFile(sshd.knownHostsPath, file);
    await execFileAsync('ssh-keygen', ['-H', '-f', file]);
    expect(await readFile(file, 'utf8')).toMatch(/^\|1\|/);
    expect(await connectAndList(harnessSshOptions(sshd, { knownHostsFiles: [file] }), sshd.root)).toEqual(['hello.txt']);
  });

  it('ask: a "yes" on the prompt accepts and remembers the key; "no" refuses', async () => {
    const file = join(dir, 'ask', 'known_hosts');
    const no = scriptedPrompter({ ask: ['no'] });
    await connectError(harnessSshOptions(sshd, { knownHostsFiles: [file], strictHostKeyChecking: 'ask', prompter: no }), 'host-key-unknown');
    expect(no.asked).toHaveLength(1);
    expect(no.asked[0]).toContain(hostPrint);
    const yes = scriptedPrompter({ ask: ['maybe', 'yes'] });
    expect(await connectAndList(harnessSshOptions(sshd, { knownHostsFiles: [file], strictHostKeyChecking: 'ask', prompter: yes }), sshd.root)).toEqual(['hello.txt']);
    expect(yes.asked).toHaveLength(2);
    expect(yes.asked[1]).toMatch(/type 'yes', 'no'/);
    const { stdout } = await execFileAsync('ssh-keygen', ['-F', `[127.0.0.1]:${sshd.port}`, '-f', file]);
    expect(stdout).toContain(sshd.hostPublicKey);
  });

  it('parallel connections to an unknown host ask once; the others find the key accepted', async () => {
    const file = join(dir, 'parallel', 'known_hosts');
    const prompter = scriptedPrompter({ ask: ['yes'] });
    const connector = createConnector(harnessSshOptions(sshd, { knownHostsFiles: [file], strictHostKeyChecking: 'ask', prompter }));
    const conns = await Promise.all([connector(), connector(), connector()]);
    for (const c of conns) c.close();
    expect(prompter.asked).toHaveLength(1);
    expect((await readFile(file, 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it('parallel connections behind a refused first login fail with it, without asking again', async () => {
    const prompter = scriptedPrompter({ ask: ['no', 'no', 'no'] });
    const connector = createConnector(harnessSshOptions(sshd, { knownHostsFiles: [join(dir, 'refused-parallel')], strictHostKeyChecking: 'ask', prompter }));
    const results = await Promise.allSettled([connector(), connector(), connector()]);
    for (const r of results) if (r.status === 'fulfilled') r.value.close();
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as ConnectError).kind : 'connected'))).toEqual(['host-key-unknown', 'host-key-unknown', 'host-key-unknown']);
    expect(prompter.asked).toHaveLength(1);
  });

  it("the prompter's own error (Ctrl-C) comes out unchanged, not as a connection error", async () => {
    const interrupted = new Error('interrupted by the test');
    const prompter: Prompter = { ask: async () => { throw interrupted; }, secret: async () => { throw interrupted; } };
    const attempt = createConnector(harnessSshOptions(sshd, { knownHostsFiles: [join(dir, 'ctrl-c')], strictHostKeyChecking: 'ask', prompter }))();
    await expect(attempt).rejects.toBe(interrupted);
  });

  it('time spent answering a prompt does not count against ConnectTimeout', async () => {
    const slow: Prompter = {
      ask: () => new Promise((resolve) => setTimeout(() => resolve('yes'), 1500)),
      secret: async () => '',
    };
    const options = harnessSshOptions(sshd, { knownHostsFiles: [join(dir, 'slow_kh')], strictHostKeyChecking: 'ask', prompter: slow, connectTimeoutMs: 1000 });
    expect(await connectAndList(options, sshd.root)).toEqual(['hello.txt']);
  });

  it('refused port → refused, exit code 4', async () => {
    const err = await connectError(harnessSshOptions(sshd, { port: await freePort() }), 'refused');
    expect(err.message).toContain('sshd running');
    expect(translateError(err).exitCode).toBe(ExitCode.connect);
  });

  it('unresolvable name (RFC 6761 .invalid) → dns, exit code 4', async () => {
    const err = await connectError(harnessSshOptions(sshd, { hostName: 'host.invalid' }), 'dns');
    expect(err.message).toContain('host.invalid');
    expect(translateError(err).exitCode).toBe(ExitCode.connect);
  });

  describe('servers that are not (working) SSH servers', () => {
    let silent: Server;
    let http: Server;
    const sockets = new Set<Socket>();
    beforeAll(async () => {
      silent = createServer((s) => { sockets.add(s); s.on('error', () => s.destroy()); });
      // Tracked too: it never reads, so a client that closes gracefully (FIN, not RST) leaves it open until destroyed.
      http = createServer((s) => { sockets.add(s); s.on('error', () => s.destroy()); s.end('HTTP/1.1 400 Bad Request\r\n\r\n'); });
      await Promise.all([silent, http].map((srv) => new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))));
    });
    afterAll(async () => {
      for (const s of sockets) s.destroy();
      await Promise.all([silent, http].map((srv) => new Promise((r) => srv.close(r))));
    });
    const portOf = (srv: Server) => { const a = srv.address(); return typeof a === 'object' && a ? a.port : 0; };

    it('a server that never speaks → timeout after ConnectTimeout', async () => {
      const err = await connectError(harnessSshOptions(sshd, { port: portOf(silent), connectTimeoutMs: 500 }), 'timeout');
      expect(err.message).toContain('ConnectTimeout');
      expect(translateError(err).exitCode).toBe(ExitCode.connect);
    });

    it('a server that speaks HTTP → a one-line protocol or closed error', async () => {
      let caught: unknown;
      try {
        (await createConnector(harnessSshOptions(sshd, { port: portOf(http) }))()).close();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConnectError);
      expect(['protocol', 'closed']).toContain((caught as ConnectError).kind);
      expect((caught as Error).message).not.toContain('\n');
    });
  });

  describe('encrypted key', () => {
    let keyPath: string;
    beforeAll(async () => {
      keyPath = join(dir, 'encrypted');
      await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pass phrase', '-f', keyPath]);
      await appendFile(join(sshd.dir, 'authorized_keys'), await readFile(`${keyPath}.pub`));
    });

    it('asks the prompter for the passphrase (again after a wrong one)', async () => {
      const prompter = scriptedPrompter({ secret: ['wrong', 'pass phrase'] });
      expect(await connectAndList(harnessSshOptions(sshd, { identityFiles: [keyPath], prompter }), sshd.root)).toEqual(['hello.txt']);
      expect(prompter.asked).toEqual([`Enter passphrase for key '${keyPath}': `, `Bad passphrase, try again for '${keyPath}': `]);
    });

    it('the passphrase is asked once per connector, not on every reconnect', async () => {
      const prompter = scriptedPrompter({ secret: ['pass phrase'] });
      const connector = createConnector(harnessSshOptions(sshd, { identityFiles: [keyPath], prompter }));
      for (let i = 0; i < 3; i++) (await connector()).close();
      expect(prompter.asked).toHaveLength(1);
    });

    it('without a prompter → auth, saying to add it to ssh-agent', async () => {
      const err = await connectError(harnessSshOptions(sshd, { identityFiles: [keyPath] }), 'auth');
      expect(err.message).toContain(`key ${keyPath} is encrypted`);
      expect(err.message).toContain('ssh-agent');
    });
  });

  describe('ssh-agent', () => {
    let agent: ChildProcess;
    let agentSocket: string;
    beforeAll(async () => {
      agentSocket = join(dir, 'agent.sock');
      agent = spawn('ssh-agent', ['-D', '-a', agentSocket], { stdio: 'ignore' });
      for (let i = 0; i < 100; i++) {
        try {
          await execFileAsync('ssh-add', [sshd.privateKeyPath], { env: { ...process.env, SSH_AUTH_SOCK: agentSocket } });
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 50)); // the agent is not listening yet: try again
        }
      }
      throw new Error('ssh-agent did not start');
    });
    afterAll(() => { agent.kill(); });

    it('authenticates with a key held by the agent', async () => {
      expect(await connectAndList(harnessSshOptions(sshd, { identityFiles: [], identityFilesExplicit: false, agentSocket }), sshd.root)).toEqual(['hello.txt']);
    });

    it('an agent socket that does not exist is skipped; the key file still works', async () => {
      expect(await connectAndList(harnessSshOptions(sshd, { agentSocket: join(dir, 'no-agent.sock') }), sshd.root)).toEqual(['hello.txt']);
    });
  });

  it('~/.ssh/config alias with HostName/Port/User/IdentityFile/UserKnownHostsFile connects', async () => {
    const configFile = join(dir, 'ssh_config');
    await writeFile(configFile, [
      'Host myalias',
      '  HostName 127.0.0.1',
      `  Port ${sshd.port}`,
      `  User ${sshd.user}`,
      `  IdentityFile ${sshd.privateKeyPath}`,
      `  UserKnownHostsFile ${sshd.knownHostsPath}`,
      '  StrictHostKeyChecking yes',
      '  ConnectTimeout 7',
      '',
    ].join('\n'));
    const options = await resolveSshOptions({ host: 'myalias' }, { sshConfigFile: configFile });
    expect(options).toMatchObject({ host: 'myalias', hostName: '127.0.0.1', port: sshd.port, user: sshd.user, strictHostKeyChecking: 'yes', connectTimeoutMs: 7000 });
    expect(options.identityFiles[0]).toBe(sshd.privateKeyPath);
    expect(await connectAndList(options, sshd.root)).toEqual(['hello.txt']);
  });

  describe('ProxyJump', () => {
    let target: Sshd;
    let configFile: string;
    beforeAll(async () => {
      target = await startSshd();
      await writeFile(join(target.root, 'behind-the-jump.txt'), 'x');
      const knownHosts = join(dir, 'jump_known_hosts');
      await writeFile(knownHosts, `${await readFile(sshd.knownHostsPath, 'utf8')}${await readFile(target.knownHostsPath, 'utf8')}`);
      configFile = join(dir, 'jump_config');
      await writeFile(configFile, [
        'Host jumpbox',
        '  HostName 127.0.0.1',
        `  Port ${sshd.port}`,
        `  IdentityFile ${sshd.privateKeyPath}`,
        'Host inside',
        '  HostName 127.0.0.1',
        `  Port ${target.port}`,
        `  IdentityFile ${target.privateKeyPath}`,
        '  ProxyJump jumpbox',
        'Host *',
        `  UserKnownHostsFile ${knownHosts}`,
        '  StrictHostKeyChecking yes',
        '',
      ].join('\n'));
    });
    afterAll(async () => { await target.stop(); });

    it('connects to the target through the jump host, and closes the jump connection with it', async () => {
      const options = await resolveSshOptions({ host: 'inside' }, { sshConfigFile: configFile });
      expect(options.jump).toMatchObject({ host: 'jumpbox', port: sshd.port });
      const before = (await sshd.sessionPids()).length;
      const conn = await createConnector(options)();
      const entries = await new Promise<string[]>((resolve, reject) => conn.sftp.readdir(target.root, (err, list) => (err ? reject(err) : resolve(list.map((e) => e.filename)))));
      expect(entries).toEqual(['behind-the-jump.txt']);
      expect((await sshd.sessionPids()).length).toBeGreaterThan(before);
      conn.close();
      await conn.closed;
      let after = -1;
      for (let i = 0; i < 100 && after !== before; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = (await sshd.sessionPids()).length;
      }
      expect(after).toBe(before);
    });

    it('a refused port behind the jump host → refused', async () => {
      const options = await resolveSshOptions({ host: 'inside' }, { sshConfigFile: configFile, port: await freePort() });
      const err = await connectError(options, 'refused');
      expect(err.message).toContain('via 127.0.0.1');
    });
  });
});
