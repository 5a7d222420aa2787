import { createServer, connect, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDelayProxy } from '../scripts/delay-proxy.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

function roundTrip(port: number, payload: Buffer): Promise<{ data: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      received += d.length;
      if (received >= payload.length) {
        socket.end();
        resolve({ data: Buffer.concat(chunks), ms: Date.now() - started });
      }
    });
    socket.on('error', reject);
    socket.write(payload);
  });
}

describe('delay proxy (latency lab)', () => {
  let echo: Server;
  let echoPort = 0;
  let sshd: Sshd;
  beforeAll(async () => {
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
    const a = echo.address();
    echoPort = typeof a === 'object' && a ? a.port : 0;
    sshd = await startSshd();
  });
  afterAll(async () => {
    await new Promise<void>((r) => echo.close(() => r()));
    await sshd.stop();
  });

  it('delivers every byte in order, at least one RTT later', async () => {
    const proxy = await startDelayProxy({ targetPort: echoPort, delayMs: 25 });
    try {
      const payload = Buffer.alloc(3 * 1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7919) & 0xff;
      const { data, ms } = await roundTrip(proxy.port, payload);
      expect(data.equals(payload)).toBe(true);
      // A lower bound only (the delay is the point of the proxy); no upper bound: the machine is shared.
      expect(ms).toBeGreaterThanOrEqual(50);
    } finally {
      await proxy.close();
    }
  });

  it('holds traffic while paused and delivers it after resume', async () => {
    const proxy = await startDelayProxy({ targetPort: echoPort, delayMs: 0 });
    try {
      const socket = connect(proxy.port, '127.0.0.1');
      await new Promise<void>((r) => socket.once('connect', () => r()));
      await new Promise((r) => setTimeout(r, 50));
      proxy.pause();
      const got: Buffer[] = [];
      socket.on('data', (d: Buffer) => got.push(d));
      socket.write('held');
      await new Promise((r) => setTimeout(r, 200));
      expect(Buffer.concat(got).toString()).toBe('');
      proxy.resume();
      await new Promise((r) => setTimeout(r, 200));
      expect(Buffer.concat(got).toString()).toBe('held');
      socket.destroy();
    } finally {
      await proxy.close();
    }
  });

  it('carries a real SSH/SFTP session to the harness sshd', async () => {
    const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: 5 });
    try {
      const conn = await harnessConnector(sshd, {}, proxy.port)();
      const { stdout } = await conn.exec('echo through-proxy');
      expect(stdout.toString().trim()).toBe('through-proxy');
      conn.close();
    } finally {
      await proxy.close();
    }
  });
});
