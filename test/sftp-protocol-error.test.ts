/**
 * Protocol errors from the server: a relay in front of OpenSSH's sftp-server (test/harness/sftp-relay.py, the
 * harness sshd's sftp Subsystem) answers chosen requests with a zero-length packet, as a broken or hostile
 * server might. The call gets EIO, the log names the protocol error (ssh2's message), the connection is
 * re-opened and everything else keeps working; a server that breaks the protocol at every connection attempt
 * makes the session give up with one line instead of retrying forever.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../cli/exit-codes.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { createCliEnv, daemonLogText, isMounted, sh, type CliEnv } from './mount-cli-helpers.js';
import { eventually } from './helpers/eventually.js';

const RELAY = fileURLToPath(new URL('./harness/sftp-relay.py', import.meta.url));

interface Logged { level: string; obj: Record<string, unknown>; msg: string }

function recordingLogger(into: Logged[]) {
  const at = (level: string) => (obj: object, msg: string) => { into.push({ level, obj: obj as Record<string, unknown>, msg }); };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('a zero-length SFTP reply to one request', () => {
  let sshd: Sshd;
  let fs: SftpRemoteFs;
  let flagDir: string;
  const logged: Logged[] = [];
  beforeAll(async () => {
    flagDir = await mkdtemp(join(tmpdir(), 'devmount-relay-'));
    sshd = await startSshd({ sftpSubsystem: `/usr/bin/python3 ${RELAY} --poison poison-me --poison-version-if ${join(flagDir, 'break-version')}` });
    await writeFile(join(sshd.root, 'ok.txt'), 'fine');
    await writeFile(join(sshd.root, 'poison-me.txt'), 'never seen');
    fs = await createSftpRemoteFs(harnessConnector(sshd), sshd.root, { logger: recordingLogger(logged), maxConns: 1 });
  });
  afterAll(async () => {
    await fs?.close();
    await sshd?.stop();
    if (flagDir) await rm(flagDir, { recursive: true, force: true });
  });

  it('fails that call with EIO, logs the protocol error, and the rest keeps working', async () => {
    expect((await fs.stat('/ok.txt')).size).toBe(4);
    await expect(fs.stat('/poison-me.txt')).rejects.toMatchObject({ code: 'EIO', message: expect.stringContaining('Invalid packet length') });
    const warning = logged.find((l) => l.msg.includes('protocol error'));
    expect(warning?.obj.err).toBe('Invalid packet length');
    // The connection is re-opened; other calls are answered.
    expect((await fs.stat('/ok.txt')).size).toBe(4);
    expect((await fs.readFile('/ok.txt')).toString()).toBe('fine');
  });

  it('a server that breaks the protocol at every reconnect makes the session give up with one line', async () => {
    await writeFile(join(flagDir, 'break-version'), '');
    await expect(fs.stat('/poison-me.txt')).rejects.toMatchObject({ code: 'EIO' });
    // Every reconnect now gets a zero-length VERSION: bounded attempts, then closed for good.
    for (let i = 0; i < 200 && fs.state() !== 'closed'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.state()).toBe('closed');
    const fatal = logged.filter((l) => l.level === 'error');
    expect(fatal).toHaveLength(1);
    expect(fatal[0]?.msg).toMatch(/malformed SFTP/);
    expect(String(fatal[0]?.obj.err)).toContain('Invalid packet length');
    await expect(fs.stat('/ok.txt')).rejects.toMatchObject({ code: 'ENOTCONN' });
  });
});

describe('through devmount mount', () => {
  let sshd: Sshd;
  let cli: CliEnv;
  let flagDir: string;
  beforeAll(async () => {
    flagDir = await mkdtemp(join(tmpdir(), 'devmount-relay-'));
    sshd = await startSshd({ sftpSubsystem: `/usr/bin/python3 ${RELAY} --poison poison-me --poison-version-if ${join(flagDir, 'break-version')}` });
    cli = await createCliEnv();
    await writeFile(join(sshd.root, 'ok.txt'), 'fine');
    await writeFile(join(sshd.root, 'poison-me.txt'), 'never seen');
  });
  afterAll(async () => {
    await cli?.cleanup();
    await sshd?.stop();
    if (flagDir) await rm(flagDir, { recursive: true, force: true });
  });

  it('EIO for the broken call, the daemon log names the protocol error, the rest of the mount works', async () => {
    const mp = await cli.newMountpoint('mnt');
    const r = await cli.run(['mount', ...cli.sshArgs(sshd), `127.0.0.1:${sshd.root}`, mp]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    try {
      await expect(sh(`cat ${mp}/poison-me.txt`)).rejects.toMatchObject({ stderr: expect.stringContaining('Input/output error') });
      expect((await sh(`cat ${mp}/ok.txt`)).stdout).toBe('fine');
      expect((await sh(`ls ${mp}`)).stdout.split('\n')).toContain('ok.txt');
      const log = await daemonLogText(cli, mp);
      expect(log).toMatch(/SFTP protocol error from the server.*Invalid packet length/);
    } finally {
      await cli.run(['unmount', mp]);
    }
  });

  it('a server that breaks the protocol at every reconnect: the mount stops and its log says why', async () => {
    const mp = await cli.newMountpoint('mnt-gives-up');
    const r = await cli.run(['mount', ...cli.sshArgs(sshd), `127.0.0.1:${sshd.root}`, mp]);
    expect(r.code, r.stderr).toBe(0);
    await writeFile(join(flagDir, 'break-version'), '');
    expect(await sshd.dropSessions()).toBeGreaterThan(0);
    await eventually(async () => !(await isMounted(mp)), 20_000);
    const log = await daemonLogText(cli, mp);
    expect(log.match(/giving up: the server answers every connection with malformed SFTP packets/g)?.length).toBeGreaterThanOrEqual(1);
    expect(log).toMatch(/stopping.*malformed SFTP packet \(Invalid packet length\)/);
    await rm(join(flagDir, 'break-version'));
  });

  it('a server that breaks the protocol while connecting: one line, exit 11, nothing mounted', async () => {
    await writeFile(join(flagDir, 'break-version'), '');
    const mp = await cli.newMountpoint('mnt-refused');
    const r = await cli.run(['mount', ...cli.sshArgs(sshd), `127.0.0.1:${sshd.root}`, mp]);
    expect(r.code).toBe(ExitCode.protocol);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^devmount: .*malformed SFTP packet \(Invalid packet length\)/);
    expect(await isMounted(mp)).toBe(false);
  });
});
