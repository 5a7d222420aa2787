/**
 * Password authentication against a real sshd (PasswordAuthentication yes) with a throwaway system user made
 * with useradd/chpasswd (the tests run as root) and removed afterwards.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnector } from '../fs/ssh/connect.js';
import { ConnectError, type Prompter, type ResolvedSshOptions } from '../fs/ssh/types.js';
import { harnessSshOptions } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

const execFileAsync = promisify(execFile);

function chpasswd(user: string, password: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd failed: ${stderr}`))));
    child.stdin.end(`${user}:${password}\n`);
  });
}

describe('password authentication', () => {
  const user = `dmpw${randomBytes(4).toString('hex')}`;
  const password = `pw ${randomBytes(6).toString('hex')}`;
  let sshd: Sshd;
  let created = false;

  beforeAll(async () => {
    await execFileAsync('useradd', ['-m', '-s', '/bin/sh', user]);
    created = true;
    await chpasswd(user, password);
    sshd = await startSshd({ passwordAuthentication: true });
  });
  afterAll(async () => {
    await sshd?.stop();
    if (created) await execFileAsync('userdel', ['-r', '-f', user]);
  });

  const options = (overrides: Partial<ResolvedSshOptions>) => harnessSshOptions(sshd, {
    user, identityFiles: [], identityFilesExplicit: false, ...overrides,
  });

  const homeOf = async (o: ResolvedSshOptions) => {
    const conn = await createConnector(o)();
    try {
      return await new Promise<string>((resolve, reject) => conn.sftp.realpath('.', (err, p) => (err ? reject(err) : resolve(p))));
    } finally {
      conn.close();
    }
  };

  const failure = async (o: ResolvedSshOptions) => {
    try {
      (await createConnector(o)()).close();
    } catch (err) {
      return err as ConnectError;
    }
    throw new Error('connected although it should not');
  };

  it('logs in with the password from --password-stdin (options.password)', async () => {
    expect(await homeOf(options({ password }))).toBe(`/home/${user}`);
  });

  it('a wrong password → auth, naming what was tried', async () => {
    const err = await failure(options({ password: 'wrong' }));
    expect(err).toBeInstanceOf(ConnectError);
    expect(err.kind).toBe('auth');
    expect(err.message).toContain('password');
    expect(err.message).toContain(`${user}@127.0.0.1`);
  });

  it('asks the prompter, and again after a wrong answer', async () => {
    const asked: string[] = [];
    const answers = ['wrong', password];
    const prompter: Prompter = { ask: async () => 'no', secret: async (q) => { asked.push(q); return answers.shift() ?? ''; } };
    expect(await homeOf(options({ prompter }))).toBe(`/home/${user}`);
    expect(asked).toEqual([`${user}@127.0.0.1's password: `, `${user}@127.0.0.1's password: `]);
  });

  it('a typed password is asked once per connector, for parallel sessions and reconnects', async () => {
    let asked = 0;
    const prompter: Prompter = { ask: async () => 'no', secret: async () => { asked++; return password; } };
    const connector = createConnector(options({ prompter }));
    const parallel = await Promise.all([connector(), connector(), connector()]);
    for (const c of parallel) c.close();
    for (let i = 0; i < 2; i++) (await connector()).close();
    expect(asked).toBe(1);
  });

  it("Ctrl-C at the password prompt (the prompter's error) comes out unchanged", async () => {
    const interrupted = new Error('interrupted by the test');
    const prompter: Prompter = { ask: async () => 'no', secret: async () => { throw interrupted; } };
    await expect(createConnector(options({ prompter }))()).rejects.toBe(interrupted);
  });

  it('gives up after three wrong passwords', async () => {
    let asked = 0;
    const prompter: Prompter = { ask: async () => 'no', secret: async () => { asked++; return 'wrong'; } };
    const err = await failure(options({ prompter }));
    expect(err.kind).toBe('auth');
    expect(asked).toBe(3);
  });

  it('no key, no agent, no password, no terminal → auth', async () => {
    const err = await failure(options({}));
    expect(err.kind).toBe('auth');
    expect(err.message).toMatch(/--password-stdin/);
  });
});
