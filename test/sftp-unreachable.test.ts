/**
 * Server unreachable: a TCP proxy in front of the harness sshd black-holes traffic (no RST, no FIN, as when a
 * network goes away). Operations must fail with EIO after opTimeoutMs instead of hanging (sshfs#3, #223), and
 * everything must work again, open handles included, once the network comes back.
 */
import { constants as C } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsError } from '../fs/errors.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import type { ConnectionState } from '../fs/types.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { startDelayProxy, type DelayProxy } from '../scripts/delay-proxy.js';
import { eventually } from './helpers/eventually.js';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    return err instanceof FsError ? err.code : String(err);
  }
}

/** `probe`'s value once it resolves (bounded, 15 s: the network has just come back, reconnect backoff is ≤ 1 s here). */
async function resolved<T>(probe: () => Promise<T>): Promise<T> {
  const values: T[] = [];
  await eventually(async () => {
    values.push(await probe());
    return true;
  }, 15_000);
  return values[0] as T;
}

describe('SFTP with the server unreachable', () => {
  let sshd: Sshd;
  let proxy: DelayProxy;
  let fs: SftpRemoteFs;
  const states: ConnectionState[] = [];

  beforeAll(async () => {
    sshd = await startSshd();
    proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: 0 });
    await writeFile(join(sshd.root, 'file.txt'), 'content');
    const connector = harnessConnector(sshd, { connectTimeoutMs: 1_000, keepaliveIntervalMs: 0 }, proxy.port);
    fs = await createSftpRemoteFs(connector, sshd.root, { opTimeoutMs: 1_500, backoffMaxMs: 1_000 });
    fs.onStateChange((s) => states.push(s));
  });

  afterAll(async () => {
    await fs?.close();
    await proxy?.close();
    await sshd?.stop();
  });

  it('an operation sent into silence fails with EIO after opTimeoutMs, then queued ones fail the same way', async () => {
    const file = await fs.open('/file.txt', C.O_RDWR);
    expect((await fs.stat('/file.txt')).size).toBe(7);
    proxy.pause();
    // Sent on the live-looking connection: no reply ever comes.
    expect(await codeOf(fs.stat('/file.txt'))).toBe('EIO');
    // The stuck connection was dropped; reconnects cannot get through either: waiting ops give up too.
    expect(await codeOf(fs.readdir('/'))).toBe('EIO');
    expect(await codeOf(file.read(0, 10))).toBe('EIO');
    expect(fs.state()).toBe('reconnecting');

    proxy.resume();
    expect((await resolved(() => fs.stat('/file.txt'))).size).toBe(7);
    // The handle opened before the outage is re-opened transparently.
    expect((await resolved(() => file.read(0, 100))).toString()).toBe('content');
    await file.write(Buffer.from('C'), 0);
    await file.close();
    expect(await readFile(join(sshd.root, 'file.txt'), 'utf8')).toBe('Content');
    expect(states).toContain('reconnecting');
    expect(fs.state()).toBe('connected');
  });

  it('connections cut without warning are re-made, and operations continue', async () => {
    const before = fs.stats().reconnects;
    proxy.cutAll();
    expect((await fs.readdir('/')).map((e) => e.name)).toContain('file.txt');
    expect(fs.stats().reconnects).toBeGreaterThan(before);
  });

  it('with the port refusing connections (server gone), operations fail with EIO after opTimeoutMs', async () => {
    await proxy.close(); // last test: closes every connection and the listening port
    expect(await codeOf(fs.stat('/file.txt'))).toBe('EIO');
    expect(fs.state()).toBe('reconnecting');
  });
});

describe('SFTP pool: a stalled data connection does not stall metadata', () => {
  it('stat and readdir answer while the file-data connection is black-holed; the read completes once it flows', async () => {
    const sshd = await startSshd();
    const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: 0 });
    try {
      await writeFile(join(sshd.root, 'data.bin'), Buffer.alloc(1024 * 1024, 7));
      const connector = harnessConnector(sshd, { connectTimeoutMs: 5_000, keepaliveIntervalMs: 0 }, proxy.port);
      // The pool opens the metadata connection first, then the data one: proxy connections 0 and 1.
      const fs = await createSftpRemoteFs(connector, sshd.root, { maxConns: 2, opTimeoutMs: 20_000 });
      try {
        expect(proxy.connections()).toBe(2);
        const file = await fs.open('/data.bin', C.O_RDONLY);
        proxy.pauseConnection(1);
        let readSettled = false;
        const read = file.read(0, 1024 * 1024).finally(() => { readSettled = true; });
        expect((await fs.stat('/data.bin')).size).toBe(1024 * 1024);
        expect((await fs.readdir('/')).map((e) => e.name)).toEqual(['data.bin']);
        expect(readSettled).toBe(false); // still waiting on the silent data connection
        proxy.resume();
        expect((await read).equals(Buffer.alloc(1024 * 1024, 7))).toBe(true);
        await file.close();
      } finally {
        await fs.close();
      }
    } finally {
      await proxy.close();
      await sshd.stop();
    }
  });
});
