/**
 * Starts a real OpenSSH sshd on 127.0.0.1 with throwaway host and user keys, for integration tests and
 * benchmarks. `Subsystem sftp internal-sftp`, so the server speaks the same SFTP as most hosting servers;
 * `sftpOnly` adds `ForceCommand internal-sftp` (a server without a shell, as on many shared hosts).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface SshdOptions {
  /** ForceCommand internal-sftp: no exec channel, no shell. */
  readonly sftpOnly?: boolean;
  /** Extra sshd_config lines (appended: sshd keeps the FIRST value of a keyword, so they cannot override the ones below). */
  readonly extraConfig?: string;
  /** PasswordAuthentication yes (default no), for password-login tests with a throwaway system user. */
  readonly passwordAuthentication?: boolean;
  /** The sftp Subsystem command instead of internal-sftp (e.g. a relay in front of sftp-server). */
  readonly sftpSubsystem?: string;
  /**
   * Run sshd inside this network namespace (`ip netns exec`), on `port` of the namespace's loopback: the host
   * cannot connect to it directly (test/helpers/netns-server.ts bridges to it). Readiness is sshd's PidFile,
   * which it writes after binding its listeners.
   */
  readonly netns?: string;
  readonly port?: number;
}

export interface Sshd {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly user: string;
  /** Private key (OpenSSH format, no passphrase) authorised for `user`. */
  readonly privateKeyPath: string;
  readonly privateKey: Buffer;
  /** A known_hosts file listing this server as `[127.0.0.1]:port`. */
  readonly knownHostsPath: string;
  /** The host public key line ("ssh-ed25519 AAAA…"). */
  readonly hostPublicKey: string;
  /** A scratch directory on the "server" for the test's remote tree (the same machine, so tests can inspect it). */
  readonly root: string;
  /** The directory holding keys and config; removed by stop(). */
  readonly dir: string;
  /** Pids of the per-connection sshd processes (children of the listener): kill them to cut connections. */
  sessionPids(): Promise<number[]>;
  /** Kills every live client session (the listener keeps accepting new ones). */
  dropSessions(signal?: NodeJS.Signals): Promise<number>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function keygen(path: string, comment: string): Promise<void> {
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path]);
}

async function waitForPidFile(pidFile: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${stderr()}`);
    if ((await readFile(pidFile, 'utf8').catch(() => '')).trim() !== '') return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not start within 10 s: ${stderr()}`);
}

async function waitForPort(port: number, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`sshd exited with ${child.exitCode}: ${stderr()}`);
    const ok = await new Promise<boolean>((resolve) => {
      import('node:net').then(({ connect }) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
      });
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not listen on ${port} within 10 s: ${stderr()}`);
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const dir = await mkdtemp(join(tmpdir(), 'devmount-sshd-'));
  const root = join(dir, 'remote');
  await mkdir(root);
  // sshd refuses to start without its privilege-separation directory.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = join(dir, 'host_ed25519');
  const userKey = join(dir, 'user_ed25519');
  await Promise.all([keygen(hostKey, 'devmount-test-host'), keygen(userKey, 'devmount-test-user')]);
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, await readFile(`${userKey}.pub`));
  await chmod(authorizedKeys, 0o600);
  const port = options.port ?? await freePort();
  const user = userInfo().username;
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `PasswordAuthentication ${options.passwordAuthentication ? 'yes' : 'no'}`,
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    // The temp dir is not owned the way StrictModes wants; the keys are throwaway.
    'StrictModes no',
    'UsePAM no',
    'MaxSessions 32',
    'MaxStartups 100:30:200',
    'LogLevel ERROR',
    `Subsystem sftp ${options.sftpSubsystem ?? 'internal-sftp'}`,
    ...(options.sftpOnly ? ['ForceCommand internal-sftp'] : []),
    options.extraConfig ?? '',
  ].join('\n');
  const configPath = join(dir, 'sshd_config');
  await writeFile(configPath, `${config}\n`);
  let stderr = '';
  const sshdArgs = ['/usr/sbin/sshd', '-D', '-e', '-f', configPath];
  const child = options.netns === undefined
    ? spawn(sshdArgs[0] as string, sshdArgs.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn('/usr/sbin/ip', ['netns', 'exec', options.netns, ...sshdArgs], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-4000); });
  if (options.netns === undefined) await waitForPort(port, child, () => stderr);
  else await waitForPidFile(join(dir, 'sshd.pid'), child, () => stderr);
  const hostPublicKey = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  const knownHostsPath = join(dir, 'known_hosts');
  await writeFile(knownHostsPath, `[127.0.0.1]:${port} ${hostPublicKey}\n`);

  const sessionPids = async (): Promise<number[]> => {
    if (child.pid === undefined) return [];
    try {
      const { stdout } = await execFileAsync('pgrep', ['-P', String(child.pid)]);
      return stdout.split('\n').filter(Boolean).map(Number);
    } catch {
      return []; // pgrep exits 1 when nothing matches: no sessions
    }
  };

  const dropSessions = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<number> => {
    const pids = await sessionPids();
    for (const pid of pids) {
      try { process.kill(pid, signal); } catch { /* already gone: that is the goal */ }
    }
    return pids.length;
  };

  return {
    host: '127.0.0.1',
    port,
    user,
    privateKeyPath: userKey,
    privateKey: await readFile(userKey),
    knownHostsPath,
    hostPublicKey,
    root,
    dir,
    sessionPids,
    dropSessions,
    async stop() {
      await dropSessions();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
