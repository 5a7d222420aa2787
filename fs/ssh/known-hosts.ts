/**
 * known_hosts files as sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT" defines them: `[marker] hostpatterns keytype
 * base64key [comment]`; host patterns are comma-separated globs (`*`, `?`, `!negation`), `[host]:port` for a
 * port other than 22, or one hashed name `|1|base64(salt)|base64(HMAC-SHA1(salt, name))` (HashKnownHosts).
 * Markers: `@revoked` (this key must be refused) and `@cert-authority` (a CA; devmount does not do host
 * certificates, so those lines are skipped). There is no maintained npm parser; `ssh-keygen -F` is the test oracle.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SshConfigError } from './types.js';

export interface KnownHostEntry {
  readonly file: string;
  readonly line: number; // 1-based, as ssh and `ssh-keygen -F` report it
  readonly marker: 'revoked' | 'cert-authority' | undefined;
  readonly patterns: string; // the host field as written
  readonly keyType: string;
  readonly key: Buffer; // the public key blob (RFC 4253 §6.6 encoding), what ssh2 hands the host verifier
}

export type HostKeyVerdict =
  | { readonly kind: 'ok'; readonly entry: KnownHostEntry }
  | { readonly kind: 'revoked'; readonly entry: KnownHostEntry }
  | { readonly kind: 'changed'; readonly entry: KnownHostEntry }
  | { readonly kind: 'unknown' };

/** The name ssh looks up: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const lower = host.toLowerCase(); // ssh lower-cases host names before lookup
  return port === 22 ? lower : `[${lower}]:${port}`;
}

/** `SHA256:` + unpadded base64 of the key blob's SHA-256, the form ssh(1) and ssh-keygen -l print. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type inside a blob (its first SSH string), e.g. "ssh-ed25519". */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const len = key.readUInt32BE(0);
  return len > 0 && 4 + len <= key.length ? key.subarray(4, 4 + len).toString('latin1') : 'unknown';
}

/** "ED25519", "ECDSA", "RSA": how ssh names key types in its prompts. */
export function keyTypeLabel(keyType: string): string {
  if (keyType === 'ssh-ed25519') return 'ED25519';
  if (keyType.startsWith('ecdsa-')) return 'ECDSA';
  if (keyType === 'ssh-rsa' || keyType.startsWith('rsa-')) return 'RSA';
  if (keyType === 'ssh-dss') return 'DSA';
  return keyType;
}

export function parseKnownHosts(text: string, file: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const trimmed = (lines[i] ?? '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const fields = trimmed.split(/\s+/);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const name = fields.shift();
      if (name === '@revoked') marker = 'revoked';
      else if (name === '@cert-authority') marker = 'cert-authority';
      else continue; // an unknown marker: ssh ignores the line
    }
    const [patterns, keyType, base64] = fields;
    if (patterns === undefined || keyType === undefined || base64 === undefined) continue; // malformed: ssh skips it too
    const key = Buffer.from(base64, 'base64');
    if (key.length === 0 || keyTypeOf(key) !== keyType) continue;
    entries.push({ file, line: i + 1, marker, patterns, keyType, key });
  }
  return entries;
}

/** Reads every file; missing ones count as empty (ssh does not require any of them to exist). */
export async function loadKnownHosts(files: readonly string[]): Promise<KnownHostEntry[]> {
  const texts = await Promise.all(files.map(async (file) => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return ''; // like ssh: an unreadable file holds no keys
      throw new SshConfigError(`cannot read known_hosts file ${file} (${code ?? (err as Error).message}): give a file with -o UserKnownHostsFile=…`);
    }
  }));
  return texts.flatMap((text, i) => parseKnownHosts(text, files[i] ?? ''));
}

/** Does the host field of an entry match this name (already in `knownHostsName` form)? */
export function entryMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) return hashedMatches(patterns, name);
  let matched = false;
  for (const raw of patterns.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (!globMatches(pattern, name)) continue;
    if (negated) return false; // a matching negation rejects the line whatever else matches (match_hostname in OpenSSH)
    matched = true;
  }
  return matched;
}

function hashedMatches(field: string, name: string): boolean {
  const [, , salt64, hash64] = field.split('|');
  if (salt64 === undefined || hash64 === undefined) return false;
  const salt = Buffer.from(salt64, 'base64');
  const expected = Buffer.from(hash64, 'base64');
  const actual = createHmac('sha1', salt).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function globMatches(pattern: string, name: string): boolean {
  const regex = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return regex.test(name);
}

/**
 * The verdict for the key a server presented. A revoked key is refused first; a listed equal key is ok;
 * the host listed with any other key means the key changed — always refused, whatever StrictHostKeyChecking says.
 */
export function checkHostKey(entries: readonly KnownHostEntry[], name: string, key: Buffer): HostKeyVerdict {
  const forHost = entries.filter((e) => e.marker !== 'cert-authority' && entryMatches(e.patterns, name));
  const revoked = forHost.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { kind: 'revoked', entry: revoked };
  const plain = forHost.filter((e) => e.marker === undefined);
  const same = plain.find((e) => e.key.equals(key));
  if (same) return { kind: 'ok', entry: same };
  // Prefer reporting a line with the same key type: that is the one to remove.
  const changed = plain.find((e) => e.keyType === keyTypeOf(key)) ?? plain[0];
  if (changed) return { kind: 'changed', entry: changed };
  return { kind: 'unknown' };
}

/** Key types known for this host, so the connector can ask the server for one of them first (as ssh does). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], name: string): string[] {
  return [...new Set(entries.filter((e) => e.marker === undefined && entryMatches(e.patterns, name)).map((e) => e.keyType))];
}

// Appends are serialised per file so parallel connections accepting the same new key write one line.
const appendQueues = new Map<string, Promise<void>>();

/** Appends `name keytype base64`, creating the directory (0700, like ~/.ssh) if needed; skips if already listed. */
export async function appendKnownHost(file: string, name: string, key: Buffer): Promise<void> {
  const previous = appendQueues.get(file) ?? Promise.resolve();
  const next = previous.then(async () => {
    const current = await loadKnownHosts([file]);
    if (checkHostKey(current, name, key).kind === 'ok') return;
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    let prefix = '';
    try {
      const text = await readFile(file, 'utf8');
      if (text.length > 0 && !text.endsWith('\n')) prefix = '\n';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // a new file needs no separator
    }
    await appendFile(file, `${prefix}${name} ${keyTypeOf(key)} ${key.toString('base64')}\n`, { mode: 0o600 });
  });
  const settled = next.catch(() => undefined);
  appendQueues.set(file, settled);
  try {
    await next;
  } finally {
    if (appendQueues.get(file) === settled) appendQueues.delete(file);
  }
}
