import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';

const run = promisify(execFile);

describe('test harness sshd', () => {
  let sshd: Sshd;
  beforeAll(async () => { sshd = await startSshd(); });
  afterAll(async () => { await sshd.stop(); });

  it('accepts the throwaway key with host key checking on', async () => {
    const { stdout } = await run('ssh', ['-p', String(sshd.port), '-i', sshd.privateKeyPath,
      '-o', `UserKnownHostsFile=${sshd.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
      `${sshd.user}@127.0.0.1`, 'echo', 'hello-from-sshd']);
    expect(stdout.trim()).toBe('hello-from-sshd');
  });
});
