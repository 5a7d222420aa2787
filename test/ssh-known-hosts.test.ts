/** known_hosts parsing and matching, with `ssh-keygen -F` / `-H` / `-l` as the oracle. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendKnownHost, checkHostKey, entryMatches, fingerprint, keyTypeOf, knownHostsName, loadKnownHosts, parseKnownHosts,
} from '../fs/ssh/known-hosts.js';

const execFileAsync = promisify(execFile);

/** Line numbers `ssh-keygen -F name -f file` reports (exit 1 = none). */
async function oracleLines(name: string, file: string): Promise<number[]> {
  try {
    const { stdout } = await execFileAsync('ssh-keygen', ['-F', name, '-f', file]);
    return [...stdout.matchAll(/found: line (\d+)/g)].map((m) => Number(m[1]));
  } catch (err) {
    if ((err as { code?: number }).code === 1) return [];
    throw err;
  }
}

describe('known_hosts', () => {
  let dir: string;
  let keyA: string; // "ssh-ed25519 BASE64"
  let keyB: string;
  let blobA: Buffer;
  let blobB: Buffer;
  let rsaLine: string;

  const newKey = async (name: string, type = 'ed25519') => {
    await execFileAsync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-f', join(dir, name)]);
    return (await readFile(join(dir, `${name}.pub`), 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'devmount-kh-'));
    [keyA, keyB, rsaLine] = await Promise.all([newKey('a'), newKey('b'), newKey('r', 'ecdsa')]);
    blobA = Buffer.from(keyA.split(' ')[1] ?? '', 'base64');
    blobB = Buffer.from(keyB.split(' ')[1] ?? '', 'base64');
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  const names = ['host1', 'HOST1', 'alias2', '[h2]:2222', 'h2', '[h2]:22', 'www.ex.com', 'bad.ex.com', 'ex.com',
    '[10.0.0.1]:2200', '10.0.0.1', 'rv', 'ca', 'nowhere', 'q1.net', 'qq1.net'];

  const fixture = () => [
    '# a comment line',
    '',
    `host1,alias2 ${keyA}`,
    `[h2]:2222 ${keyA} comment words here`,
    `*.ex.com,!bad.ex.com ${keyA}`,
    `[10.0.0.1]:2200 ${keyB}`,
    `@revoked rv ${keyA}`,
    `@cert-authority ca ${keyA}`,
    `q?.net ${rsaLine}`,
    'garbage-line-without-key',
  ].join('\n');

  it('matches the same lines as ssh-keygen -F, plain and after ssh-keygen -H', async () => {
    const file = join(dir, 'kh-plain');
    await writeFile(file, `${fixture()}\n`);
    const check = async () => {
      const entries = await loadKnownHosts([file]);
      for (const name of names) {
        const lookup = name.toLowerCase();
        const ours = entries.filter((e) => entryMatches(e.patterns, lookup)).map((e) => e.line);
        // ssh lower-cases the host before lookup; ssh-keygen -F does not for hashed lines, so ask it the lower-case name.
        expect({ name, lines: ours }).toEqual({ name, lines: await oracleLines(lookup, file) });
      }
    };
    await check();
    // ssh-keygen -H refuses files with invalid lines; it splits host lists into one hashed line per name.
    await writeFile(file, `${fixture().replace('garbage-line-without-key', '')}\n`);
    await execFileAsync('ssh-keygen', ['-H', '-f', file]);
    const hashed = await readFile(file, 'utf8');
    expect(hashed).toMatch(/^\|1\|/m);
    expect(hashed).not.toContain('host1');
    await check();
  });

  it('knows the names ssh looks up: host on port 22, [host]:port otherwise', () => {
    expect(knownHostsName('Example.COM', 22)).toBe('example.com');
    expect(knownHostsName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
  });

  it('prints fingerprints as ssh-keygen -l does', async () => {
    const { stdout } = await execFileAsync('ssh-keygen', ['-l', '-f', join(dir, 'a.pub')]);
    expect(stdout).toContain(` ${fingerprint(blobA)} `);
    expect(fingerprint(blobA)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(keyTypeOf(blobA)).toBe('ssh-ed25519');
  });

  it('gives ok / changed / revoked / unknown verdicts', () => {
    const entries = parseKnownHosts(fixture(), '/kh');
    expect(checkHostKey(entries, 'host1', blobA).kind).toBe('ok');
    const changed = checkHostKey(entries, 'host1', blobB);
    expect(changed).toMatchObject({ kind: 'changed', entry: { file: '/kh', line: 3 } });
    expect(checkHostKey(entries, 'rv', blobA).kind).toBe('revoked');
    expect(checkHostKey(entries, 'ca', blobA).kind).toBe('unknown'); // CA lines are not host keys
    expect(checkHostKey(entries, 'bad.ex.com', blobA).kind).toBe('unknown'); // negated
    expect(checkHostKey(entries, 'www.ex.com', blobA).kind).toBe('ok');
    expect(checkHostKey(entries, 'nowhere', blobA).kind).toBe('unknown');
    // A host with keys of several types: the one presented is listed → ok.
    const multi = parseKnownHosts(`h ${keyB}\nh ${keyA}\n`, '/kh2');
    expect(checkHostKey(multi, 'h', blobA).kind).toBe('ok');
  });

  it('appends [host]:port lines ssh-keygen finds, creating the directory 0700, without duplicates', async () => {
    const file = join(dir, 'new-ssh-dir', 'known_hosts');
    await appendKnownHost(file, '[127.0.0.1]:2222', blobA);
    await Promise.all([appendKnownHost(file, 'plainhost', blobB), appendKnownHost(file, 'plainhost', blobB)]);
    await appendKnownHost(file, '[127.0.0.1]:2222', blobA);
    expect(((await stat(join(dir, 'new-ssh-dir'))).mode & 0o777)).toBe(0o700);
    const text = await readFile(file, 'utf8');
    expect(text.trim().split('\n')).toHaveLength(2);
    expect(await oracleLines('[127.0.0.1]:2222', file)).toEqual([1]);
    expect(await oracleLines('plainhost', file)).toEqual([2]);
  });

  it('adds the missing newline before appending to a file that lacks one', async () => {
    const file = join(dir, 'no-newline');
    await writeFile(file, `other ${keyB}`);
    await appendKnownHost(file, 'host9', blobA);
    expect(await oracleLines('other', file)).toEqual([1]);
    expect(await oracleLines('host9', file)).toEqual([2]);
  });
});
