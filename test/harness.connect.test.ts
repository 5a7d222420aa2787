import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

describe('harness connector', () => {
  let sshd: Sshd;
  beforeAll(async () => { sshd = await startSshd(); });
  afterAll(async () => { await sshd.stop(); });

  it('opens SFTP and exec on the harness sshd', async () => {
    const conn = await harnessConnector(sshd)();
    try {
      const entries = await new Promise<string[]>((resolve, reject) => conn.sftp.readdir(sshd.root, (err, list) => (err ? reject(err) : resolve(list.map((e) => e.filename)))));
      expect(entries).toEqual([]);
      const result = await conn.exec('printf devmount');
      expect(result.stdout.toString()).toBe('devmount');
      expect(result.code).toBe(0);
      expect(conn.limits.maxReadLength).toBeGreaterThanOrEqual(32 * 1024);
    } finally {
      conn.close();
    }
  });
});
