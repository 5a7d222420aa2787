/**
 * A Connector for the harness sshd with its throwaway key, verifying the host key through the real
 * known_hosts check (StrictHostKeyChecking=yes against the harness known_hosts file): what integration tests use.
 */
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

/**
 * `port` reaches the same sshd through something else (a delay proxy): the known_hosts entry is still the
 * one for the sshd's own port, so it is looked up under that name (ssh's HostKeyAlias).
 */
export function harnessConnector(sshd: Sshd, overrides: Partial<ResolvedSshOptions> = {}, port?: number): Connector {
  const viaOtherPort = port !== undefined && port !== sshd.port;
  const options = harnessSshOptions(sshd, viaOtherPort ? { hostKeyAlias: `[${sshd.host}]:${sshd.port}`, ...overrides, port } : overrides);
  return createConnector(options);
}
