/**
 * The socket reader (fs/ssh/inbound-framer.ts) over a real OpenSSH sshd: SFTP reads with lent packets and an
 * exec stream (copies) on one connection come back byte for byte while the server re-keys every 1 MiB
 * (RekeyLimit), and a server that only offers a cipher with an encrypted length is read unframed. (The
 * unit test, test/ssh-inbound-framer.test.ts, runs the lending rules through every read size.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SshConnection } from '../fs/ssh/types.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

const FILE_BYTES = 24 * 1024 * 1024;
const CHUNK = 255 * 1024;

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a whole file over SFTP, 16 requests in flight, each into a buffer of its own (as fs/sftp/file.ts does). */
async function sftpReadAll(sftp: SFTPWrapper, path: string, size: number): Promise<Buffer> {
  const handle = await new Promise<Buffer>((resolve, reject) => sftp.open(path, 'r', (err, h) => (err ? reject(err) : resolve(h))));
  const out = Buffer.alloc(size);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < size) {
      const at = next;
      next += CHUNK;
      const length = Math.min(CHUNK, size - at);
      const piece = Buffer.alloc(length);
      const got = await new Promise<number>((resolve, reject) => sftp.read(handle, piece, 0, length, at, (err, n) => (err ? reject(err) : resolve(n))));
      piece.copy(out, at, 0, got);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await new Promise<void>((resolve) => sftp.close(handle, () => resolve()));
  return out;
}

async function execOutput(conn: SshConnection, command: string): Promise<Buffer> {
  const channel = await conn.execStream(command);
  const parts: Buffer[] = [];
  channel.on('data', (d: Buffer) => parts.push(d));
  await new Promise((resolve) => channel.once('close', resolve));
  return Buffer.concat(parts);
}

describe('SSH socket reader over a real sshd', () => {
  let sshd: Sshd;
  let content: Buffer;
  let path: string;

  beforeAll(async () => {
    // Re-key after every 1 MiB in either direction: a re-key keeps the server's KEXINIT across packets.
    sshd = await startSshd({ extraConfig: 'RekeyLimit 1M' });
    content = randomBytes(FILE_BYTES);
    path = join(sshd.root, 'data.bin');
    await writeFile(path, content);
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('lends GCM packets to SFTP reads and copies to an exec stream, through many re-keys', async () => {
    const conn = await harnessConnector(sshd)();
    try {
      let handshakes = 0;
      conn.client.on('handshake', () => { handshakes += 1; });
      // One after the other: ssh2 1.17 with SFTP and exec data both flowing loses the connection to OpenSSH
      // in some re-keys (ECONNRESET, with or without this reader).
      const viaSftp = await sftpReadAll(conn.sftp, path, FILE_BYTES);
      const viaExec = await execOutput(conn, `cat ${path}`);
      // Once the exec stream is closed, packets are lent again.
      const again = await sftpReadAll(conn.sftp, path, FILE_BYTES);
      expect(sha256(viaSftp)).toBe(sha256(content));
      expect(sha256(viaExec)).toBe(sha256(content));
      expect(sha256(again)).toBe(sha256(content));
      expect(handshakes).toBeGreaterThan(10);
      const stats = conn.readerStats();
      expect(stats?.mode).toBe('aead');
      expect(stats!.lentBytes).toBeGreaterThan(FILE_BYTES);
      expect(stats!.copiedBytes).toBeGreaterThan(FILE_BYTES);
    } finally {
      conn.close();
    }
  });
});

describe('SSH socket reader with a cipher whose packet length is encrypted', () => {
  let sshd: Sshd;

  beforeAll(async () => {
    sshd = await startSshd({ extraConfig: 'Ciphers chacha20-poly1305@openssh.com' });
  });
  afterAll(async () => {
    await sshd?.stop();
  });

  it('passes the stream to ssh2 unframed, and reads still arrive intact', async () => {
    const content = randomBytes(3 * 1024 * 1024);
    const path = join(sshd.root, 'data.bin');
    await writeFile(path, content);
    const conn = await harnessConnector(sshd)();
    try {
      expect(sha256(await sftpReadAll(conn.sftp, path, content.length))).toBe(sha256(content));
      expect(conn.readerStats()).toMatchObject({ mode: 'opaque', lentBytes: 0 });
    } finally {
      conn.close();
    }
  });
});
