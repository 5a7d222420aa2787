/**
 * The contract between the SSH layer (fs/ssh: config, keys, known_hosts, connect) and its users (the SFTP
 * session pool, the remote watcher, backups). Options are resolved once (ssh config + command line) and frozen.
 */
import type { Client, SFTPWrapper } from 'ssh2';
import type { FramerStats } from './inbound-framer.js';

export type StrictHostKeyChecking = 'yes' | 'accept-new' | 'no' | 'ask';

/** Asks the person at the terminal; absent when there is no TTY (then nothing may prompt). */
export interface Prompter {
  /** Free-text question (yes/no for an unknown host key). */
  ask(question: string): Promise<string>;
  /** Secret input without echo (password, key passphrase). */
  secret(question: string): Promise<string>;
}

export interface SshTarget {
  readonly host: string; // the name the user typed (an alias in ~/.ssh/config, or a host name)
  readonly hostName: string; // what we actually connect to
  readonly port: number;
  readonly user: string;
}

export interface ResolvedSshOptions extends SshTarget {
  readonly identityFiles: readonly string[];
  /** Whether the user named identity files explicitly (then missing files are an error, not skipped). */
  readonly identityFilesExplicit: boolean;
  readonly agentSocket: string | undefined;
  readonly password: string | undefined; // from --password-stdin
  readonly knownHostsFiles: readonly string[]; // first one is where accept-new appends
  readonly strictHostKeyChecking: StrictHostKeyChecking;
  readonly keepaliveIntervalMs: number; // ServerAliveInterval × 1000; 0 = off
  readonly keepaliveCountMax: number;
  readonly connectTimeoutMs: number;
  readonly proxyJump: string | undefined;
  readonly prompter: Prompter | undefined;
  /** The resolved jump host when ProxyJump is set (its own `jump` for a chain); absent = direct TCP. */
  readonly jump?: ResolvedSshOptions | undefined;
  /** HostKeyAlias: the name looked up in known_hosts instead of `[hostName]:port` (used verbatim, as ssh does). */
  readonly hostKeyAlias?: string | undefined;
}

/** One authenticated SSH connection with its SFTP channel. */
export interface SshConnection {
  readonly client: Client;
  readonly sftp: SFTPWrapper;
  /** Server limits from limits@openssh.com (or safe defaults). */
  readonly limits: { readonly maxReadLength: number; readonly maxWriteLength: number };
  /** One SFTP request-reply timed when the connection was made (ms). */
  readonly roundTripMs: number;
  /** How the socket is read (fs/ssh/inbound-framer.ts); undefined through a jump host. */
  readerStats(): FramerStats | undefined;
  /** Runs a command over an exec channel; rejects with ConnectError('no-exec') when the server forbids it. */
  exec(command: string, options?: { stdin?: Buffer | string; signal?: AbortSignal }): Promise<ExecResult>;
  /** Streaming exec for long outputs (bulk listings, watchers). */
  execStream(command: string): Promise<import('ssh2').ClientChannel>;
  /** Resolves when the connection closes for any reason. */
  readonly closed: Promise<void>;
  close(): void;
}

export interface ExecResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

/** Opens a new connection with the resolved options; the pool calls it again to reconnect. */
export type Connector = () => Promise<SshConnection>;

/** Why a connection could not be made; the CLI maps each kind to an exit code and a message. */
export type ConnectErrorKind =
  | 'dns' | 'refused' | 'timeout' | 'unreachable' | 'auth' | 'host-key-unknown' | 'host-key-changed'
  | 'host-key-revoked'
  | 'key-file' | 'no-exec' | 'protocol' | 'sftp-protocol' | 'closed';

export class ConnectError extends Error {
  readonly kind: ConnectErrorKind;
  constructor(kind: ConnectErrorKind, message: string) {
    super(message);
    this.name = 'ConnectError';
    this.kind = kind;
  }
}

/** A bad ssh config file or option value (exit code `usage`): the message names the file/option and the fix. */
export class SshConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SshConfigError';
  }
}
