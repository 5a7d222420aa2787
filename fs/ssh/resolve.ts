/**
 * Resolves everything needed to connect, once: command line > ssh config > defaults, the precedence of
 * ssh(1). The result is frozen; the connector reuses it for every reconnect.
 */
import { access } from 'node:fs/promises';
import { computeHostConfig, configSources, loadConfigText, type HostConfig } from './config-file.js';
import { expandTilde, expandTokens, localUser, type TokenValues } from './expand.js';
import { SshConfigError, type Prompter, type ResolvedSshOptions, type StrictHostKeyChecking } from './types.js';

export interface SshOverrides {
  port?: number;
  user?: string;
  identityFiles?: string[];
  knownHostsFile?: string;
  strictHostKeyChecking?: StrictHostKeyChecking;
  serverAliveInterval?: number;
  serverAliveCountMax?: number;
  connectTimeout?: number;
  proxyJump?: string;
  password?: string;
  prompter?: Prompter;
  sshConfigFile?: string;
}

export const DEFAULTS = Object.freeze({
  port: 22,
  serverAliveIntervalS: 15, // what sshfs users pass by hand (ServerAliveInterval=15): on by default here
  serverAliveCountMax: 3,
  // ssh(1) has no ConnectTimeout by default (the kernel's, ~2 min); a mount should say sooner that the host is down.
  connectTimeoutS: 15,
  identityFiles: ['~/.ssh/id_ed25519', '~/.ssh/id_ecdsa', '~/.ssh/id_rsa'],
  userKnownHosts: ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'],
  globalKnownHosts: ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'],
  strictHostKeyChecking: 'ask' as StrictHostKeyChecking,
});

/** ProxyJump chains longer than this are taken for a loop (e.g. `Host *` with ProxyJump). */
const MAX_JUMPS = 8;

export async function resolveSshOptions(target: { user?: string; host: string }, overrides: SshOverrides): Promise<ResolvedSshOptions> {
  const text = await loadConfigText(configSources(overrides.sshConfigFile));
  return resolveWithConfig(text, target, overrides, 0);
}

async function resolveWithConfig(text: string, target: { user?: string; host: string }, overrides: SshOverrides, depth: number): Promise<ResolvedSshOptions> {
  const cliUser = target.user ?? overrides.user;
  const config = computeHostConfig(text, target.host, cliUser);
  const hostName = expandTokens(first(config, 'hostname') ?? target.host, { host: target.host, hostName: target.host, port: 0, user: '' });
  const port = overrides.port ?? integer(config, 'port', 1, 65535) ?? DEFAULTS.port;
  checkRange('port', port, 1, 65535);
  const user = cliUser ?? first(config, 'user') ?? localUser();
  const tokens: TokenValues = { host: target.host, hostName, port, user };

  const configIdentities = list(config, 'identityfile').filter((f) => f.toLowerCase() !== 'none').map((f) => expandTokens(f, tokens));
  const cliIdentities = (overrides.identityFiles ?? []).map((f) => expandTilde(f));
  // A file the user named on the command line must exist (the connector reports it); ones from the config
  // or the defaults are skipped when missing, as ssh(1) does (it only warns).
  const optional = configIdentities.length > 0 ? configIdentities : DEFAULTS.identityFiles.map((f) => expandTilde(f));
  const identityFiles = [...cliIdentities, ...(await existing(optional.filter((f) => !cliIdentities.includes(f))))];

  // IdentitiesOnly yes: only the named files, no agent keys (ssh_config(5)).
  const agentSocket = (yesNo(config, 'identitiesonly') ?? false) ? undefined : agentFromConfig(first(config, 'identityagent'), tokens);

  const userKnownHosts = overrides.knownHostsFile !== undefined
    ? [expandTilde(overrides.knownHostsFile)]
    : (list(config, 'userknownhostsfile', true).length > 0 ? list(config, 'userknownhostsfile', true) : DEFAULTS.userKnownHosts).map((f) => expandTokens(f, tokens));
  const globalKnownHosts = (list(config, 'globalknownhostsfile', true).length > 0 ? list(config, 'globalknownhostsfile', true) : DEFAULTS.globalKnownHosts).map((f) => expandTokens(f, tokens));
  const knownHostsFiles = [...userKnownHosts.filter((f) => f !== '/dev/null'), ...globalKnownHosts.filter((f) => f !== '/dev/null')];

  const strictHostKeyChecking = overrides.strictHostKeyChecking ?? strictFromConfig(config) ?? DEFAULTS.strictHostKeyChecking;
  const aliveInterval = overrides.serverAliveInterval ?? integer(config, 'serveraliveinterval', 0, 86_400) ?? DEFAULTS.serverAliveIntervalS;
  const aliveCount = overrides.serverAliveCountMax ?? integer(config, 'serveralivecountmax', 1, 1000) ?? DEFAULTS.serverAliveCountMax;
  const connectTimeout = overrides.connectTimeout ?? integer(config, 'connecttimeout', 1, 86_400) ?? DEFAULTS.connectTimeoutS;
  checkRange('ServerAliveInterval', aliveInterval, 0, 86_400);
  checkRange('ServerAliveCountMax', aliveCount, 1, 1000);
  checkRange('ConnectTimeout', connectTimeout, 1, 86_400);

  const proxyCommand = first(config, 'proxycommand');
  if (overrides.proxyJump === undefined && proxyCommand !== undefined && proxyCommand.toLowerCase() !== 'none') {
    // Connecting directly instead would fail later with a misleading DNS or timeout error.
    throw new SshConfigError(`ssh config for ${target.host} uses ProxyCommand, which devmount does not run: use ProxyJump, or -o ProxyJump=none to connect directly`);
  }
  const jumpSpec = overrides.proxyJump ?? first(config, 'proxyjump');
  const proxyJump = jumpSpec === undefined || jumpSpec.toLowerCase() === 'none' ? undefined : jumpSpec;
  const jump = proxyJump === undefined ? undefined : await resolveJump(text, proxyJump, overrides, depth);

  return Object.freeze({
    host: target.host,
    hostName,
    port,
    user,
    identityFiles: Object.freeze(identityFiles),
    identityFilesExplicit: cliIdentities.length > 0,
    agentSocket,
    password: overrides.password,
    knownHostsFiles: Object.freeze(knownHostsFiles),
    strictHostKeyChecking,
    keepaliveIntervalMs: aliveInterval * 1000,
    keepaliveCountMax: aliveCount,
    connectTimeoutMs: connectTimeout * 1000,
    proxyJump,
    prompter: overrides.prompter,
    jump,
    hostKeyAlias: first(config, 'hostkeyalias'),
  });
}

/**
 * `ProxyJump a,b` connects to a, through it to b, through b to the target (ssh(1) -J). The last hop is
 * our jump host; its own jump is the rest of the list. Each hop is looked up in the same ssh config; how
 * host keys are checked and who may prompt carry over, credentials do not (as with ssh -J).
 */
async function resolveJump(text: string, spec: string, overrides: SshOverrides, depth: number): Promise<ResolvedSshOptions> {
  if (depth >= MAX_JUMPS) throw new SshConfigError(`ProxyJump chain longer than ${MAX_JUMPS} hops (a loop in the ssh config?)`);
  const hops = spec.split(',').map((h) => h.trim()).filter(Boolean);
  const last = hops.pop();
  if (last === undefined) throw new SshConfigError(`ProxyJump "${spec}" names no host`);
  const hop = parseJumpHost(last);
  const jumpOverrides: SshOverrides = {
    ...(hop.port !== undefined ? { port: hop.port } : {}),
    ...(hops.length > 0 ? { proxyJump: hops.join(',') } : {}),
    ...(overrides.knownHostsFile !== undefined ? { knownHostsFile: overrides.knownHostsFile } : {}),
    ...(overrides.strictHostKeyChecking !== undefined ? { strictHostKeyChecking: overrides.strictHostKeyChecking } : {}),
    ...(overrides.connectTimeout !== undefined ? { connectTimeout: overrides.connectTimeout } : {}),
    ...(overrides.prompter !== undefined ? { prompter: overrides.prompter } : {}),
  };
  return resolveWithConfig(text, hop.user === undefined ? { host: hop.host } : { user: hop.user, host: hop.host }, jumpOverrides, depth + 1);
}

/** `[user@]host[:port]` or `ssh://[user@]host[:port]` (ssh_config(5) ProxyJump). */
export function parseJumpHost(spec: string): { user?: string; host: string; port?: number } {
  const m = /^(?:ssh:\/\/)?(?:([^@]+)@)?(\[[^\]]+\]|[^:@/[\]]+)(?::(\d+))?\/?$/.exec(spec);
  if (!m || !m[2]) throw new SshConfigError(`ProxyJump "${spec}" is not [user@]host[:port]`);
  const host = m[2].startsWith('[') ? m[2].slice(1, -1) : m[2];
  const port = m[3] === undefined ? undefined : Number(m[3]);
  if (port !== undefined) checkRange('ProxyJump port', port, 1, 65535);
  return { ...(m[1] !== undefined ? { user: m[1] } : {}), host, ...(port !== undefined ? { port } : {}) };
}

function first(config: HostConfig, key: string): string | undefined {
  const value = config[key];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value[0] : value;
}

/** Repeatable directives come as arrays; `splitWords` for ones that take several paths on one line. */
function list(config: HostConfig, key: string, splitWords = false): string[] {
  const value = config[key];
  if (value === undefined) return [];
  const values = Array.isArray(value) ? value : [value];
  return splitWords ? values.flatMap((v) => v.split(/\s+/).filter(Boolean)) : values;
}

function integer(config: HostConfig, key: string, min: number, max: number): number | undefined {
  const raw = first(config, key);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new SshConfigError(`ssh config: ${key} "${raw}" is not a number from ${min} to ${max}`);
  return n;
}

function yesNo(config: HostConfig, key: string): boolean | undefined {
  const raw = first(config, key)?.toLowerCase();
  if (raw === undefined) return undefined;
  if (raw === 'yes' || raw === 'true') return true;
  if (raw === 'no' || raw === 'false') return false;
  throw new SshConfigError(`ssh config: ${key} "${raw}" must be yes or no`);
}

function strictFromConfig(config: HostConfig): StrictHostKeyChecking | undefined {
  const raw = first(config, 'stricthostkeychecking')?.toLowerCase();
  switch (raw) {
    case undefined: return undefined;
    case 'yes': case 'true': return 'yes';
    case 'no': case 'off': case 'false': return 'no';
    case 'accept-new': return 'accept-new';
    case 'ask': return 'ask';
    default: throw new SshConfigError(`ssh config: StrictHostKeyChecking "${raw}" must be yes, accept-new, no or ask`);
  }
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new SshConfigError(`${name} ${value} is out of range (${min}–${max})`);
}

/** IdentityAgent: none, SSH_AUTH_SOCK / $SSH_AUTH_SOCK (the default), or a socket path. */
function agentFromConfig(value: string | undefined, tokens: TokenValues): string | undefined {
  if (value?.toLowerCase() === 'none') return undefined;
  if (value === undefined || value === 'SSH_AUTH_SOCK' || value === '$SSH_AUTH_SOCK') return nonEmpty(process.env.SSH_AUTH_SOCK);
  return expandTokens(value, tokens);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

async function existing(files: string[]): Promise<string[]> {
  const present = await Promise.all(files.map((f) => access(f).then(() => true, () => false)));
  return files.filter((_, i) => present[i]);
}
