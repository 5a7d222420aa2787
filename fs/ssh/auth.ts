/**
 * Client authentication in ssh(1)'s order: ssh-agent keys, identity files (a passphrase prompt on a TTY for
 * an encrypted one), then a password (from --password-stdin, else prompted on a TTY; `keyboard-interactive`
 * when the server offers only that, as with PAM). Driven through ssh2's `authHandler` callback, which is
 * called again after every failure with the methods the server still accepts (RFC 4252 §5.1).
 */
import { readFile } from 'node:fs/promises';
import ssh2, {
  type AnyAuthMethod, type AuthenticationType, type AuthHandlerMiddleware, type KeyboardInteractiveCallback,
  type NextAuthHandler, type ParsedKey, type Prompt,
} from 'ssh2';
import { ConnectError, type Prompter, type ResolvedSshOptions } from './types.js';

// ssh2 is CommonJS and Node's ESM loader cannot see `utils` as a named export: take it from the default one.
const { parseKey } = ssh2.utils;

/** ssh_config(5) NumberOfPasswordPrompts default; also used for passphrase retries. */
const MAX_PROMPTS = 3;

/**
 * Secrets a person typed, kept for the connector's later connections (the pool's extra sessions and every
 * reconnect): a daemonized mount has no terminal left to ask, and asking again on each reconnect is what
 * makes sshfs with passwords unusable over flaky links. Memory only, never written anywhere.
 */
export interface SecretMemory {
  password: string | undefined; // set once a login with it succeeded
  readonly passphrases: Map<string, string>; // key file → passphrase that decrypted it
  /** Host keys (base64 blobs) the person confirmed, in case known_hosts could not be written. */
  readonly confirmedHostKeys: Set<string>;
}

export function newSecretMemory(): SecretMemory {
  return { password: undefined, passphrases: new Map(), confirmedHostKeys: new Set() };
}

/** What the handler saw, for the one-line message when every method failed. */
export interface AuthReport {
  /** The last password sent, to remember once the login succeeds. */
  lastPassword: string | undefined;
  readonly tried: string[];
  readonly encryptedWithoutPrompt: string[];
  serverMethods: readonly string[] | undefined;
  /**
   * Set when authentication must stop for a reason other than "the server said no": an unreadable key file
   * (ConnectError 'key-file'), or the prompter's own error (Ctrl-C), which goes out unchanged.
   */
  failure: Error | undefined;
}

type Candidate = { readonly kind: 'agent' } | { readonly kind: 'key'; readonly file: string } | { readonly kind: 'password' };

export function newAuthReport(): AuthReport {
  return { lastPassword: undefined, tried: [], encryptedWithoutPrompt: [], serverMethods: undefined, failure: undefined };
}

export function createAuthHandler(options: ResolvedSshOptions, prompter: Prompter | undefined, report: AuthReport, memory: SecretMemory): AuthHandlerMiddleware {
  const username = options.user;
  const queue: Candidate[] = [
    ...(options.agentSocket !== undefined ? [{ kind: 'agent' } as const] : []),
    ...options.identityFiles.map((file) => ({ kind: 'key', file }) as const),
    { kind: 'password' },
  ];
  // Passwords to try without asking, in order: --password-stdin, then one that worked before.
  const knownPasswords = [...new Set([options.password, memory.password].filter((p): p is string => p !== undefined))];
  let passwordAttempts = 0;
  let lastPassword: string | undefined = knownPasswords[0];

  const permits = (allowed: readonly AuthenticationType[] | null, method: AuthenticationType) => allowed === null || allowed.includes(method);

  const passwordForAttempt = async (): Promise<string | undefined> => {
    const known = knownPasswords.shift();
    if (known !== undefined) {
      lastPassword = known;
    } else {
      // --password-stdin is for scripts: a wrong one fails at once instead of falling back to a prompt.
      if (options.password !== undefined || prompter === undefined || passwordAttempts >= MAX_PROMPTS) return undefined;
      passwordAttempts++;
      lastPassword = await prompter.secret(`${username}@${options.hostName}'s password: `);
    }
    report.lastPassword = lastPassword;
    return lastPassword;
  };

  const keyboardInteractive = (name: string, instructions: string, _lang: string, prompts: Prompt[], finish: KeyboardInteractiveCallback) => {
    report.lastPassword = lastPassword;
    answerPrompts(prompts, lastPassword, prompter, [name, instructions].filter(Boolean).join('\n')).then((answers) => {
      // One hidden prompt is a password (PAM's "Password:"): remember what was typed, like a password login.
      if (prompts.length === 1 && prompts[0]?.echo !== true && answers[0] !== undefined) report.lastPassword = answers[0];
      finish(answers);
    }, (err: unknown) => {
      report.failure = err instanceof Error ? err : new Error(String(err));
      finish([]);
    });
  };

  const nextMethod = async (allowed: readonly AuthenticationType[] | null): Promise<AnyAuthMethod | undefined> => {
    if (allowed !== null) report.serverMethods = allowed;
    for (let candidate = queue[0]; candidate !== undefined; candidate = queue[0]) {
      if (candidate.kind === 'agent') {
        queue.shift();
        if (!permits(allowed, 'publickey') || options.agentSocket === undefined) continue;
        report.tried.push('ssh-agent');
        return { type: 'agent', username, agent: options.agentSocket };
      }
      if (candidate.kind === 'key') {
        queue.shift();
        if (!permits(allowed, 'publickey')) continue;
        const key = await loadIdentity(candidate.file, options, prompter, report, memory);
        if (key === undefined) continue;
        report.tried.push(`key ${candidate.file}`);
        return { type: 'publickey', username, key };
      }
      // Before any password, learn what the server accepts with a "none" request (RFC 4252 §5.2), as ssh does.
      if (allowed === null) return { type: 'none', username };
      if (allowed.includes('password')) {
        const password = await passwordForAttempt();
        if (password !== undefined) {
          if (!report.tried.includes('password')) report.tried.push('password');
          return { type: 'password', username, password };
        }
      } else if (allowed.includes('keyboard-interactive') && (lastPassword !== undefined || prompter !== undefined)) {
        queue.shift();
        report.tried.push('keyboard-interactive');
        return { type: 'keyboard-interactive', username, prompt: keyboardInteractive };
      }
      queue.shift();
    }
    return undefined;
  };

  return (methodsLeft: AuthenticationType[] | null, _partialSuccess: boolean, next: NextAuthHandler) => {
    nextMethod(methodsLeft).then(
      (method) => (method === undefined ? stop(next) : next(method)),
      (err: unknown) => {
        report.failure = err instanceof Error ? err : new ConnectError('auth', `authentication stopped: ${String(err)}`);
        stop(next);
      },
    );
  };
}

/** ssh2 ends authentication when the handler passes `false`; @types/ssh2 does not list that value. */
function stop(next: NextAuthHandler): void {
  (next as unknown as (method: false) => void)(false);
}

async function answerPrompts(prompts: Prompt[], password: string | undefined, prompter: Prompter | undefined, banner: string): Promise<string[]> {
  // The usual PAM exchange is one hidden "Password:" prompt: answer it with the password we already have.
  if (prompts.length === 1 && prompts[0]?.echo !== true && password !== undefined) return [password];
  if (prompter === undefined) return [];
  const answers: string[] = [];
  let header = banner ? `${banner}\n` : '';
  for (const p of prompts) {
    answers.push(p.echo === true ? await prompter.ask(header + p.prompt) : await prompter.secret(header + p.prompt));
    header = '';
  }
  return answers;
}

/**
 * Reads and parses one identity file. Missing/unreadable: an error when the user named files explicitly,
 * else skipped. Encrypted: asks for the passphrase when a prompter exists (empty answer skips the key,
 * as ssh does), otherwise remembers it for the final message.
 */
async function loadIdentity(file: string, options: ResolvedSshOptions, prompter: Prompter | undefined, report: AuthReport, memory: SecretMemory): Promise<ParsedKey | undefined> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    if (!options.identityFilesExplicit) return undefined; // a default key that vanished is simply not offered
    throw new ConnectError('key-file', `cannot read identity file ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'}): check the path given with -o IdentityFile`);
  }
  let parsed = parse(data, undefined);
  const remembered = memory.passphrases.get(file);
  if (parsed instanceof Error && remembered !== undefined) parsed = parse(data, remembered);
  if (parsed instanceof Error && /no passphrase given|bad passphrase/i.test(parsed.message)) {
    if (prompter === undefined) {
      report.encryptedWithoutPrompt.push(file);
      return undefined;
    }
    for (let i = 0; i < MAX_PROMPTS && parsed instanceof Error; i++) {
      const passphrase = await prompter.secret(i === 0 ? `Enter passphrase for key '${file}': ` : `Bad passphrase, try again for '${file}': `);
      if (passphrase === '') return undefined;
      parsed = parse(data, passphrase);
      if (!(parsed instanceof Error)) memory.passphrases.set(file, passphrase);
    }
    if (parsed instanceof Error) return undefined;
  }
  if (parsed instanceof Error) {
    if (!options.identityFilesExplicit) return undefined;
    throw new ConnectError('key-file', `${file} is not a private key devmount can read (${parsed.message}): give an OpenSSH or PEM private key`);
  }
  if (!parsed.isPrivateKey()) {
    if (!options.identityFilesExplicit) return undefined;
    throw new ConnectError('key-file', `${file} is a public key: give the private key file (without .pub) to -o IdentityFile`);
  }
  return parsed;
}

function parse(data: Buffer, passphrase: string | undefined): ParsedKey | Error {
  const result = parseKey(data, passphrase) as ParsedKey | ParsedKey[] | Error;
  // A file holding several keys parses to an array; ssh uses the first one.
  if (Array.isArray(result)) return result[0] ?? new Error('no key in file');
  return result;
}

/** The one-line message when the server refused everything we offered. */
export function authFailureMessage(options: ResolvedSshOptions, report: AuthReport): string {
  const who = `${options.user}@${options.hostName}`;
  const encrypted = report.encryptedWithoutPrompt;
  if (encrypted.length > 0) {
    return `authentication failed for ${who}: key ${encrypted.join(', ')} is encrypted and there is no terminal to ask for its passphrase: add it to ssh-agent (ssh-add ${encrypted[0]}) or run devmount from a terminal`;
  }
  const tried = report.tried.length > 0 ? report.tried.join(', ') : 'nothing (no agent, no key files, no password)';
  const accepts = report.serverMethods ? `; the server accepts: ${report.serverMethods.join(', ')}` : '';
  return `authentication failed for ${who} (tried ${tried}${accepts}): use -o IdentityFile=KEY, ssh-agent, or --password-stdin`;
}
