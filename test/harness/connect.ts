/** A Connector for the harness sshd, with its throwaway key and host key pinned: what integration tests use. */
import { createConnector } from '../../fs/ssh/connect.js';
import type { Connector, ResolvedSshOptions } from '../../fs/ssh/types.js';
import type { Sshd } from './sshd.js';

export function harnessSshOptions(sshd: Sshd, overrides: Partial<ResolvedSshOptions> = {}): ResolvedSshOptions {
  return Object.freeze({
    host: sshd.host,
    hostName: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identityFiles: [sshd.privateKeyPath],
    identityFilesExplicit: true,
    agentSocket: undefined,
    password: undefined,
    knownHostsFiles: [sshd.knownHostsPath],
    strictHostKeyChecking: 'yes' as const,
    keepaliveIntervalMs: 15_000,
    keepaliveCountMax: 3,
    connectTimeoutMs: 10_000,
    proxyJump: undefined,
    prompter: undefined,
    ...overrides,
  });
}

export function harnessConnector(sshd: Sshd, overrides: Partial<ResolvedSshOptions> = {}, port?: number): Connector {
  const options = harnessSshOptions(sshd, port === undefined ? overrides : { ...overrides, port });
  const expected = Buffer.from(sshd.hostPublicKey.split(' ')[1] ?? '', 'base64');
  return createConnector(options, async (key) => key.equals(expected));
}
