/**
 * devmount reaches into ssh2's private internals in a few places (each for a measured reason, explained where it
 * is used). package.json pins ssh2 to one exact version so an update is a deliberate change; this test is what
 * tells that change whether the shapes we rely on are still there, naming each one and the file that uses it.
 * It runs against a real sshd so the objects are the ones a live connection has.
 */
import { createRequire } from 'node:module';
import { readFile, writeFile } from 'node:fs/promises';
import { Client, type SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';
import { sendWrite } from '../fs/sftp/write-request.js';

const require = createRequire(import.meta.url);

interface Shape {
  readonly what: string;
  readonly usedBy: string;
  readonly holds: (sftp: Record<string, unknown>) => boolean;
}

const isFunction = (v: unknown) => typeof v === 'function';
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const field = (v: unknown, key: string): unknown => (isRecord(v) ? v[key] : undefined);

/** Every private member of an open client SFTP channel that devmount reads or calls. */
const SHAPES: readonly Shape[] = [
  { what: 'sftp.push(chunk) parses the packet stream', usedBy: 'fs/ssh/sftp-reply-assembler.ts', holds: (s) => isFunction(s.push) },
  { what: 'sftp._requests is the table of pending requests', usedBy: 'fs/ssh/sftp-reply-assembler.ts', holds: (s) => isRecord(s._requests) },
  { what: 'sftp.server is false on a client channel', usedBy: 'fs/ssh/sftp-reply-assembler.ts', holds: (s) => s.server === false },
  { what: 'sftp._pktLenBytes is 0 between packets', usedBy: 'fs/ssh/sftp-reply-assembler.ts', holds: (s) => s._pktLenBytes === 0 },
  { what: 'sftp._pkt is undefined between packets', usedBy: 'fs/ssh/sftp-reply-assembler.ts', holds: (s) => 'push' in s && s._pkt === undefined },
  { what: 'sftp._maxInPktLen is a number', usedBy: 'fs/ssh/sftp-reply-assembler.ts', holds: (s) => typeof s._maxInPktLen === 'number' },
  { what: 'sftp._maxReadLen / _maxWriteLen are numbers (limits@openssh.com)', usedBy: 'fs/ssh/connect.ts', holds: (s) => typeof s._maxReadLen === 'number' && typeof s._maxWriteLen === 'number' },
  { what: 'sftp._extensions maps extension names to versions', usedBy: 'fs/sftp/wire.ts', holds: (s) => isRecord(s._extensions) && typeof s._extensions['posix-rename@openssh.com'] === 'string' },
  { what: "sftp.outgoing.state is 'open' and outgoing.id a number", usedBy: 'fs/sftp/wire.ts, fs/sftp/window.ts', holds: (s) => field(s.outgoing, 'state') === 'open' && typeof field(s.outgoing, 'id') === 'number' },
  { what: 'sftp.incoming.window is a number', usedBy: 'fs/sftp/window.ts', holds: (s) => typeof field(s.incoming, 'window') === 'number' },
  { what: 'sftp.outgoing.window and outgoing.packetSize are numbers', usedBy: 'fs/sftp/write-request.ts', holds: (s) => typeof field(s.outgoing, 'window') === 'number' && typeof field(s.outgoing, 'packetSize') === 'number' },
  { what: 'sftp._writeReqid is the request id counter', usedBy: 'fs/sftp/write-request.ts', holds: (s) => typeof s._writeReqid === 'number' },
  { what: 'sftp._buffer is the queue waiting for window space, sftp._waitWindow its flag', usedBy: 'fs/sftp/write-request.ts', holds: (s) => Array.isArray(s._buffer) && typeof s._waitWindow === 'boolean' },
  { what: 'sftp._protocol.channelData(id, data) exists', usedBy: 'fs/sftp/write-request.ts', holds: (s) => isFunction(field(s._protocol, 'channelData')) },
  { what: 'sftp._client._protocol.channelWindowAdjust(id, amount) exists', usedBy: 'fs/sftp/window.ts', holds: (s) => isFunction(field(field(s._client, '_protocol'), 'channelWindowAdjust')) },
];

function broken(sftp: SFTPWrapper): string[] {
  const s = sftp as unknown as Record<string, unknown>;
  return SHAPES.filter((shape) => !shape.holds(s)).map((shape) => `${shape.what} (used by ${shape.usedBy})`);
}

describe('ssh2 internals devmount relies on', () => {
  let sshd: Sshd;
  let client: Client;
  let sftp: SFTPWrapper;

  beforeAll(async () => {
    sshd = await startSshd();
    client = new Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', resolve).once('error', reject);
      client.connect({ host: sshd.host, port: sshd.port, username: sshd.user, privateKey: sshd.privateKey });
    });
    sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((err, s) => (err ? reject(err) : resolve(s))));
  });
  afterAll(async () => {
    client?.end();
    await sshd?.stop();
  });

  it('ssh2 is installed at exactly the version package.json pins', async () => {
    const pinned = (JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> }).dependencies.ssh2;
    const installed = (require('ssh2/package.json') as { version: string }).version;
    expect(pinned, 'pin ssh2 to an exact version: its private internals are used (see this test)').toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed, `ssh2 ${installed} is installed but package.json pins ${pinned}: run npm install`).toBe(pinned);
  });

  it('an open client SFTP channel has every private member we use', () => {
    const missing = broken(sftp);
    expect(missing, `ssh2 changed shapes devmount relies on; adapt these files before upgrading:\n${missing.join('\n')}`).toEqual([]);
  });

  it('a pending READ keeps the caller\'s buffer at _requests[id].buffer (the assembler lends DATA replies into it)', async () => {
    const path = `${sshd.root}/internals.bin`;
    await writeFile(path, Buffer.alloc(4096, 7));
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(path, 'r', (err, h) => (err ? reject(err) : resolve(h))));
    const target = Buffer.alloc(4096);
    const requests = (sftp as unknown as { _requests: Record<string, { buffer?: Buffer } | undefined> })._requests;
    const done = new Promise<number>((resolve, reject) => sftp.read(handle, target, 0, 4096, 0, (err, n) => (err ? reject(err) : resolve(n))));
    // A view of the caller's memory (ssh2 slices it to the requested range), so the reply lands in place.
    const viewsTarget = Object.values(requests).some((r) => r?.buffer !== undefined
      && r.buffer.buffer === target.buffer && r.buffer.byteOffset === target.byteOffset && r.buffer.length === target.length);
    expect(viewsTarget, 'ssh2 no longer keeps a pending read\'s buffer at _requests[id].buffer (fs/ssh/sftp-reply-assembler.ts)').toBe(true);
    expect(await done).toBe(4096);
    expect(target.every((b) => b === 7)).toBe(true);
    await new Promise<void>((resolve, reject) => sftp.close(handle, (err) => (err ? reject(err) : resolve())));
  });

  it('WRITEs sent as a header and views of the data (fs/sftp/write-request.ts) land, sent at once or queued for the window', async () => {
    const path = `${sshd.root}/pieces.bin`;
    const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(path, 'w', (err, h) => (err ? reject(err) : resolve(h))));
    // 48 × 64 KiB = 3 MiB in flight, more than OpenSSH's 2 MiB channel window: the later ones wait in ssh2's queue.
    const piece = 64 * 1024;
    const expected = Buffer.alloc(48 * piece);
    for (let i = 0; i < 48; i++) expected.fill(i + 1, i * piece, (i + 1) * piece);
    let queuedAtSomePoint = false;
    const writes = Array.from({ length: 48 }, (_, i) => {
      const written = new Promise<void>((resolve, reject) => sendWrite(sftp, handle, expected.subarray(i * piece, (i + 1) * piece), i * piece, (err) => (err ? reject(err) : resolve())));
      queuedAtSomePoint ||= (sftp as unknown as { _buffer: unknown[] })._buffer.length > 0;
      return written;
    });
    expect(queuedAtSomePoint, 'the window never filled: the queued path was not exercised').toBe(true);
    await Promise.all(writes);
    await new Promise<void>((resolve, reject) => sftp.close(handle, (err) => (err ? reject(err) : resolve())));
    expect((await readFile(path)).equals(expected)).toBe(true);
  });
});
