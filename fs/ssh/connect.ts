/**
 * Opens one authenticated SSH connection with an SFTP channel, from options resolved once (resolve.ts):
 * transport (TCP or through ProxyJump hosts) → handshake with the host key checked against known_hosts
 * (host-key.ts) → authentication in ssh's order (auth.ts) → SFTP subsystem. Every failure becomes a
 * ConnectError with one line saying what to do (classify.ts). The returned Connector is called again by the
 * session pool to reconnect; prompts only happen where options.prompter exists.
 */
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { authFailureMessage, createAuthHandler, newAuthReport, newSecretMemory, type SecretMemory } from './auth.js';
import { classifyConnectError } from './classify.js';
import { Deadline, pausingPrompter } from './deadline.js';
import { createHostKeyCheck, hostKeyName } from './host-key.js';
import type { InboundFramer } from './inbound-framer.js';
import { assembleSftpReplies } from './sftp-reply-assembler.js';
import { knownKeyTypes, loadKnownHosts } from './known-hosts.js';
import { openTcp, openThroughJump, type Transport } from './transport.js';
import { ConnectError, type Connector, type ExecResult, type Prompter, type ResolvedSshOptions, type SshConnection } from './types.js';

const DEFAULT_LIMIT = 32 * 1024; // SFTP draft minimum every server must accept (draft-ietf-secsh-filexfer-02 §3)

// ssh2's default host key algorithm order (lib/protocol/constants.js), to which known key types are moved first.
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa',
];

type LibError = Error & { level?: string; code?: string };

/** Typed secrets per host (target and each jump host), kept for the connector's lifetime. */
type MemoryFor = (options: ResolvedSshOptions) => SecretMemory;

function memoryTable(): MemoryFor {
  const table = new WeakMap<ResolvedSshOptions, SecretMemory>();
  return (options) => {
    let memory = table.get(options);
    if (memory === undefined) {
      memory = newSecretMemory();
      table.set(options, memory);
    }
    return memory;
  };
}

/**
 * Every call opens a new connection. A password or passphrase typed for one connection is reused by the
 * later ones (more sessions, reconnects), so only the first connection may need a terminal. Until a first
 * login has succeeded, calls made meanwhile (the pool opening max_conns sessions at once) wait for it, so
 * the person is asked once, not once per session; if that first login fails they fail with it.
 */
export function createConnector(options: ResolvedSshOptions): Connector {
  const memoryFor = memoryTable();
  let loggedIn = false;
  let firstLogin: Promise<SshConnection> | undefined;
  return async () => {
    if (loggedIn) return connectWithSftp(options, memoryFor);
    if (firstLogin) {
      await firstLogin;
      return connectWithSftp(options, memoryFor);
    }
    const attempt = connectWithSftp(options, memoryFor);
    firstLogin = attempt;
    try {
      const connection = await attempt;
      loggedIn = true;
      return connection;
    } finally {
      firstLogin = undefined;
    }
  };
}

/** "user@host:port", for messages. */
export function describeTarget(options: ResolvedSshOptions): string {
  return `${options.user}@${options.hostName}${options.port === 22 ? '' : `:${options.port}`}`;
}

/** An authenticated client without channels, and the reader of its socket (none through a jump host). */
interface OpenedClient {
  readonly client: Client;
  readonly inbound: InboundFramer | undefined;
}

/**
 * An authenticated client without channels (what a jump host is). Closing it also closes the jump hosts it
 * was opened through.
 */
async function openClient(options: ResolvedSshOptions, memoryFor: MemoryFor): Promise<OpenedClient> {
  const jump = options.jump === undefined ? undefined : (await openClient(options.jump, memoryFor)).client;
  try {
    const opened = await handshake(options, jump, memoryFor(options));
    // The jump connection exists only to carry this one.
    if (jump) opened.client.once('close', () => jump.end());
    return opened;
  } catch (err) {
    jump?.end();
    throw err;
  }
}

async function handshake(options: ResolvedSshOptions, jump: Client | undefined, memory: SecretMemory): Promise<OpenedClient> {
  const controller = new AbortController();
  const where = `${options.hostName}:${options.port}`;
  const deadline = new Deadline(options.connectTimeoutMs, () => controller.abort(new ConnectError('timeout',
    `timed out after ${options.connectTimeoutMs / 1000} s connecting to ${where}${options.jump ? ` via ${options.jump.hostName}` : ''}: the host is down or a firewall drops the connection (-o ConnectTimeout=N to wait longer)`)));
  const prompter = pausingPrompter(options.prompter, deadline);
  try {
    const transport = jump && options.jump
      ? await openThroughJump(jump, options.jump.hostName, options, controller.signal)
      : await openTcp(options, controller.signal);
    return { client: await sshHandshake(options, transport, prompter, memory, controller.signal), inbound: transport.inbound };
  } finally {
    deadline.clear();
  }
}

async function sshHandshake(options: ResolvedSshOptions, transport: Transport, prompter: Prompter | undefined, memory: SecretMemory, signal: AbortSignal): Promise<Client> {
  const sock = transport.stream;
  const hostKeyCheck = createHostKeyCheck(options, prompter, memory);
  const report = newAuthReport();
  const known = knownKeyTypes(await loadKnownHosts(options.knownHostsFiles), hostKeyName(options));
  const endpoint = { hostName: options.hostName, port: options.port, via: options.jump?.hostName };
  const client = new Client();
  // After each key exchange: the framer reads packets of the server→client cipher after NEWKEYS.
  const inbound = transport.inbound;
  if (inbound) client.on('handshake', (negotiated) => inbound.setServerCipher(negotiated.sc.cipher));
  // Why we refused the host key: a ConnectError from the check, or the prompter's own error (Ctrl-C).
  let hostKeyFailure: Error | undefined;
  return new Promise<Client>((resolve, reject) => {
    let settled = false;
    const detach = () => {
      client.removeListener('error', onError);
      client.removeListener('close', onClose);
      client.removeListener('ready', onReady);
      signal.removeEventListener('abort', onAbort);
    };
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      detach();
      // The attempt has failed; anything the dying client still emits adds nothing to the reason already given.
      client.on('error', () => undefined);
      client.end();
      sock.destroy();
      reject(err);
    };
    const onError = (err: LibError) => {
      // An unreachable agent: ssh2 moves on to the next method, as ssh(1) does after a warning.
      if (err.level === 'agent') return;
      const first = hostKeyFailure ?? report.failure;
      if (first) return fail(first);
      if (err.level === 'client-authentication') return fail(new ConnectError('auth', authFailureMessage(options, report)));
      fail(classifyConnectError(err, endpoint));
    };
    const onClose = () => fail(hostKeyFailure ?? report.failure ?? new ConnectError('closed',
      `${options.hostName}:${options.port} closed the connection during the SSH handshake: check that it is an SSH server and that it lets you in (AllowUsers, MaxStartups, fail2ban)`));
    const onAbort = () => fail(signal.reason instanceof ConnectError ? signal.reason : new ConnectError('timeout', `timed out connecting to ${options.hostName}:${options.port}`));
    const onReady = () => {
      settled = true;
      detach();
      if (report.lastPassword !== undefined) memory.password = report.lastPassword;
      // After 'ready' an error always ends in 'close'; the session layer watches `closed`.
      client.on('error', () => client.end());
      resolve(client);
    };
    client.on('error', onError);
    client.once('close', onClose);
    client.once('ready', onReady);
    signal.addEventListener('abort', onAbort, { once: true });
    const config: ConnectConfig = {
      sock,
      username: options.user,
      readyTimeout: 0, // the Deadline owns the timeout so that prompts do not count against it
      keepaliveInterval: options.keepaliveIntervalMs,
      keepaliveCountMax: options.keepaliveCountMax,
      algorithms: { serverHostKey: preferKnownHostKeyTypes(known) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] },
      hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
        hostKeyCheck(key).then(() => verify(true), (err: unknown) => {
          hostKeyFailure = err instanceof Error ? err : classifyConnectError(err, endpoint);
          verify(false);
        });
      },
      authHandler: createAuthHandler(options, prompter, report, memory),
    };
    try {
      client.connect(config);
    } catch (err) {
      fail(classifyConnectError(err, endpoint)); // ssh2 throws synchronously on a config it cannot use
    }
  });
}

/**
 * ssh(1) asks the server for the key types it already knows for this host first, so a server with several
 * host keys does not look "changed" because it offered another type (OpenSSH order_hostkeyalgs()).
 */
function preferKnownHostKeyTypes(known: readonly string[]): string[] {
  const algorithmsFor = (type: string) => (type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type]);
  const first = known.flatMap(algorithmsFor).filter((a) => HOST_KEY_ALGORITHMS.includes(a));
  return [...new Set([...first, ...HOST_KEY_ALGORITHMS])];
}

/** ssh2 found a packet it cannot parse (its doFatalSFTPError): named with ssh2's own message. */
function malformedSftp(options: ResolvedSshOptions, err: Error): ConnectError {
  return new ConnectError('sftp-protocol', `${describeTarget(options)} sent a malformed SFTP packet (${err.message})`);
}

async function connectWithSftp(options: ResolvedSshOptions, memoryFor: MemoryFor): Promise<SshConnection> {
  const { client, inbound } = await openClient(options, memoryFor);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  let sftp: SFTPWrapper;
  try {
    sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
      client.sftp((err, channel) => {
        if (!err) return resolve(channel);
        if ((err as LibError).level === 'sftp-protocol') return reject(malformedSftp(options, err));
        return reject(new ConnectError('protocol', `${describeTarget(options)} refused the SFTP subsystem (${err.message}): the server needs "Subsystem sftp" in sshd_config`));
      });
    });
  } catch (err) {
    client.end();
    throw err;
  }
  // A malformed packet from the server (ssh2's doFatalSFTPError: 'Invalid packet length', 'Malformed … packet')
  // is an 'error' on the channel; until the session installs its own listener it fails this connection attempt.
  let protocolError: Error | null = null;
  const onProtocolError = (err: Error) => {
    protocolError ??= err;
    client.end();
  };
  sftp.on('error', onProtocolError);
  assembleSftpReplies(sftp); // one reusable buffer for split READ replies instead of one Buffer each
  const internal = sftp as unknown as { _maxReadLen?: number; _maxWriteLen?: number };
  const limits = Object.freeze({
    maxReadLength: internal._maxReadLen && internal._maxReadLen > 0 ? internal._maxReadLen : DEFAULT_LIMIT,
    maxWriteLength: internal._maxWriteLen && internal._maxWriteLen > 0 ? internal._maxWriteLen : DEFAULT_LIMIT,
  });
  const roundTripMs = await timeRoundTrip(sftp);
  sftp.removeListener('error', onProtocolError);
  if (protocolError !== null) throw malformedSftp(options, protocolError);
  inbound?.allowLending();
  const execStream = (command: string) => new Promise<ClientChannel>((resolve, reject) => {
    // Its stream keeps what it is given until read: the socket reader hands out copies while it is open.
    const release = inbound?.hold();
    client.exec(command, (err, channel) => {
      if (err) {
        release?.();
        reject(new ConnectError('no-exec', `exec refused: ${err.message}`));
        return;
      }
      if (release) channel.once('close', release);
      resolve(channel);
    });
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
    roundTripMs,
    readerStats: () => inbound?.stats(),
    exec,
    execStream,
    closed,
    close: () => client.end(),
  };
}

/**
 * One round trip, timed: every SFTP server answers REALPATH "." at once (with a name or an error status; either
 * is a reply, and a dead connection shows itself in the next operation). The SFTP layer sizes its receive
 * window from it (fs/sftp/window.ts).
 */
async function timeRoundTrip(sftp: SFTPWrapper): Promise<number> {
  const started = performance.now();
  await new Promise<void>((resolve) => sftp.realpath('.', () => resolve()));
  return performance.now() - started;
}

export { classifyConnectError } from './classify.js';
