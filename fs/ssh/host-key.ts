/**
 * Host key policy, as ssh(1) applies StrictHostKeyChecking (ssh_config(5)):
 * - key listed → accept; key revoked or host listed with another key → refuse, always;
 * - unknown key: 'yes' refuses, 'accept-new' appends and accepts, 'no' accepts, 'ask' prompts on a TTY
 *   (and appends on "yes") and refuses without one.
 */
import {
  appendKnownHost, checkHostKey, fingerprint, keyTypeLabel, keyTypeOf, knownHostsName, loadKnownHosts,
} from './known-hosts.js';
import type { SecretMemory } from './auth.js';
import { ConnectError, type Prompter, type ResolvedSshOptions } from './types.js';

/** Resolves when the key is acceptable; rejects with ConnectError('host-key-*') otherwise. */
export type HostKeyCheck = (key: Buffer) => Promise<void>;

const MAX_ANSWERS = 3;

// Deciding about an unknown key is serialised per known_hosts name, process-wide: when the pool opens
// several connections at once, the person is asked once and the others find the key already accepted.
const decisions = new Map<string, Promise<unknown>>();

async function oneDecisionAtATime<T>(name: string, decide: () => Promise<T>): Promise<T> {
  const previous = decisions.get(name) ?? Promise.resolve();
  const result = previous.then(decide, decide);
  const settled = result.catch(() => undefined); // the next decision runs whatever this one's outcome; its caller gets the error
  decisions.set(name, settled);
  try {
    return await result;
  } finally {
    if (decisions.get(name) === settled) decisions.delete(name);
  }
}

/** The known_hosts name for these options: HostKeyAlias if set, else `host` / `[host]:port`. */
export function hostKeyName(options: ResolvedSshOptions): string {
  return options.hostKeyAlias ?? knownHostsName(options.hostName, options.port);
}

export function createHostKeyCheck(options: ResolvedSshOptions, prompter: Prompter | undefined, memory: SecretMemory): HostKeyCheck {
  const name = hostKeyName(options);
  const files = options.knownHostsFiles;
  const removeCommand = `ssh-keygen -R '${name}'`;
  const check = async (key: Buffer, decideUnknown: boolean): Promise<'ok' | 'unknown'> => {
    const print = fingerprint(key);
    const label = keyTypeLabel(keyTypeOf(key));
    const verdict = checkHostKey(await loadKnownHosts(files), name, key);
    switch (verdict.kind) {
      case 'ok':
        return 'ok';
      case 'revoked':
        throw new ConnectError('host-key-revoked', `host key for ${name} (${label} ${print}) is marked @revoked in ${verdict.entry.file} line ${verdict.entry.line}: refusing to connect`);
      case 'changed':
        throw new ConnectError('host-key-changed', `host key for ${name} has CHANGED: the server sent ${label} ${print}, but ${verdict.entry.file} line ${verdict.entry.line} lists a different key. Someone may be intercepting the connection; if the server was reinstalled, remove the old key with ${removeCommand} -f ${verdict.entry.file} and connect again`);
      case 'unknown':
        break;
    }
    if (memory.confirmedHostKeys.has(key.toString('base64'))) return 'ok';
    if (!decideUnknown) return 'unknown';
    const userFile = files[0];
    switch (options.strictHostKeyChecking) {
      case 'no':
        return 'ok';
      case 'accept-new':
        await remember(userFile, key);
        return 'ok';
      case 'yes':
        throw new ConnectError('host-key-unknown', `host key for ${name} (${label} ${print}) is not in ${files.join(', ') || 'any known_hosts file'} and StrictHostKeyChecking=yes: connect once with ssh to confirm it, or use -o StrictHostKeyChecking=accept-new`);
      case 'ask':
        break;
    }
    if (prompter === undefined) {
      throw new ConnectError('host-key-unknown', `host key for ${name} (${label} ${print}) is unknown and there is no terminal to confirm it: connect once with ssh ${options.port === 22 ? '' : `-p ${options.port} `}${options.user}@${options.hostName}, or use -o StrictHostKeyChecking=accept-new`);
    }
    if (!(await confirm(prompter, name, label, print))) {
      throw new ConnectError('host-key-unknown', `host key for ${name} (${label} ${print}) was not confirmed`);
    }
    await remember(userFile, key);
    return 'ok';
  };

  const remember = async (file: string | undefined, key: Buffer) => {
    memory.confirmedHostKeys.add(key.toString('base64'));
    if (file === undefined) return;
    try {
      await appendKnownHost(file, name, key);
    } catch {
      // ssh(1) only warns when it cannot write known_hosts ("Failed to add the host to the list of known
      // hosts"): the key stays accepted in memory for this connector's reconnects; the next run asks again.
    }
  };

  return async (key) => {
    // The common case (key known, or changed/revoked) needs no lock; only decisions about new keys are serialised.
    if (await check(key, false) === 'ok') return;
    await oneDecisionAtATime(name, () => check(key, true));
  };
}

/** The question ssh asks; it also takes the fingerprint itself as a "yes" (OpenSSH 8.0+). */
async function confirm(prompter: Prompter, name: string, label: string, print: string): Promise<boolean> {
  let question = `The authenticity of host '${name}' can't be established.\n${label} key fingerprint is ${print}.\nAre you sure you want to continue connecting (yes/no/[fingerprint])? `;
  for (let i = 0; i < MAX_ANSWERS; i++) {
    const answer = (await prompter.ask(question)).trim();
    if (answer.toLowerCase() === 'yes' || answer === print) return true;
    if (answer.toLowerCase() === 'no' || answer === '') return false;
    question = "Please type 'yes', 'no' or the fingerprint: ";
  }
  return false;
}
