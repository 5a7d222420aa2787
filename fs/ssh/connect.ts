/**
 * Opens one authenticated SSH connection with an SFTP channel. Minimal first version: private keys from
 * files, agent, password; host key verification is delegated to `verifyHostKey`. The fs/ssh owner extends
 * authentication, known_hosts handling and error classification here.
 */
import { readFile } from 'node:fs/promises';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { ConnectError, type Connector, type ExecResult, type ResolvedSshOptions, type SshConnection } from './types.js';

/** Decides whether a host key is acceptable; the default refuses nothing only when checking is 'no'. */
export type HostKeyVerifier = (key: Buffer) => Promise<boolean>;

const DEFAULT_LIMIT = 32 * 1024; // SFTP draft minimum every server must accept (draft-ietf-secsh-filexfer-02 §3)

export function createConnector(options: ResolvedSshOptions, verifyHostKey: HostKeyVerifier): Connector {
  return () => connectOnce(options, verifyHostKey);
}

async function loadPrivateKey(options: ResolvedSshOptions): Promise<Buffer | undefined> {
  for (const file of options.identityFiles) {
    try {
      return await readFile(file);
    } catch (err) {
      if (options.identityFilesExplicit) {
        throw new ConnectError('key-file', `cannot read identity file ${file}: ${(err as Error).message}`);
      }
      // a default key file that does not exist is simply not offered, as ssh(1) does
    }
  }
  return undefined;
}

async function connectOnce(options: ResolvedSshOptions, verifyHostKey: HostKeyVerifier): Promise<SshConnection> {
  const privateKey = await loadPrivateKey(options);
  const client = new Client();
  const config: ConnectConfig = {
    host: options.hostName,
    port: options.port,
    username: options.user,
    readyTimeout: options.connectTimeoutMs,
    keepaliveInterval: options.keepaliveIntervalMs,
    keepaliveCountMax: options.keepaliveCountMax,
    hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
      verifyHostKey(key).then(verify, () => verify(false));
    },
    ...(privateKey ? { privateKey } : {}),
    ...(options.agentSocket ? { agent: options.agentSocket } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
  };
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error & { level?: string; code?: string }) => {
      client.removeListener('ready', onReady);
      reject(classifyConnectError(err, options));
    };
    const onReady = () => {
      client.removeListener('error', onError);
      resolve();
    };
    client.once('error', onError);
    client.once('ready', onReady);
    client.connect(config);
  });
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  // Errors after 'ready' end in 'close'; the session layer reacts to `closed`.
  client.on('error', () => client.end());
  const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
    client.sftp((err, channel) => (err ? reject(new ConnectError('protocol', `SFTP subsystem refused: ${err.message}`)) : resolve(channel)));
  });
  const internal = sftp as unknown as { _maxReadLen?: number; _maxWriteLen?: number };
  const limits = Object.freeze({
    maxReadLength: internal._maxReadLen && internal._maxReadLen > 0 ? internal._maxReadLen : DEFAULT_LIMIT,
    maxWriteLength: internal._maxWriteLen && internal._maxWriteLen > 0 ? internal._maxWriteLen : DEFAULT_LIMIT,
  });
  const execStream = (command: string) => new Promise<ClientChannel>((resolve, reject) => {
    client.exec(command, (err, channel) => (err ? reject(new ConnectError('no-exec', `exec refused: ${err.message}`)) : resolve(channel)));
  });
  const exec = async (command: string, opts: { stdin?: Buffer | string; signal?: AbortSignal } = {}): Promise<ExecResult> => {
    const channel = await execStream(command);
    return new Promise<ExecResult>((resolve) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let code: number | null = null;
      let signal: string | null = null;
      channel.on('data', (d: Buffer) => out.push(d));
      channel.stderr.on('data', (d: Buffer) => err.push(d));
      channel.on('exit', (c: number | null, s?: string) => { code = c; signal = s ?? null; });
      channel.on('close', () => resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
      opts.signal?.addEventListener('abort', () => channel.close(), { once: true });
      if (opts.stdin !== undefined) channel.end(opts.stdin);
      else channel.end();
    });
  };
  return {
    client,
    sftp,
    limits,
    exec,
    execStream,
    closed,
    close: () => client.end(),
  };
}

/** ssh2/socket errors → ConnectError kinds (the CLI maps kinds to exit codes). */
export function classifyConnectError(err: Error & { level?: string; code?: string }, options: ResolvedSshOptions): ConnectError {
  const where = `${options.hostName}:${options.port}`;
  if (err instanceof ConnectError) return err;
  switch (err.code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConnectError('dns', `cannot resolve host ${options.hostName}: check the name or your DNS`);
    case 'ECONNREFUSED':
      return new ConnectError('refused', `connection refused by ${where}: is sshd running on that port?`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConnectError('unreachable', `${where} is unreachable: check your network`);
    case 'ETIMEDOUT':
      return new ConnectError('timeout', `timed out connecting to ${where}`);
    default:
      break;
  }
  if (err.level === 'client-timeout') return new ConnectError('timeout', `timed out connecting to ${where}`);
  if (err.level === 'client-authentication') {
    return new ConnectError('auth', `authentication failed for ${options.user}@${options.hostName}: use a key (-o IdentityFile=…), ssh-agent, or --password-stdin`);
  }
  if (/host key verification failed/i.test(err.message)) {
    return new ConnectError('host-key-unknown', `host key verification failed for ${where}`);
  }
  return new ConnectError('protocol', `SSH connection to ${where} failed: ${err.message}`);
}
