/**
 * The SFTP pool with its data connections opened in the background (dataConnections: 'in-background', what
 * `serve user@host:path` uses): the pool is handed out once the metadata connection is up, files use that one
 * until a data connection joins, the pool's state is not "connecting" meanwhile, and a data connection that
 * cannot be made leaves files on the metadata connection. Real sshd; the second connect is held at a gate the
 * test opens (a slow handshake), or failed (a server refusing a second login).
 */
import { constants as C } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { ConnectError, type Connector } from '../fs/ssh/types.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

const CONTENT = Buffer.from('content over whichever connection is up\n');

/** The harness connector, with every connect after the first held until `release` (or failed when `fail`). */
function gatedConnector(sshd: Sshd, fail: boolean): { connector: Connector; connects: () => number; release: () => void } {
  const inner = harnessConnector(sshd);
  let connects = 0;
  let release = (): void => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const connector: Connector = async () => {
    connects += 1;
    if (connects === 1) return inner();
    if (fail) throw new ConnectError('refused', 'the server refuses a second login');
    await gate;
    return inner();
  };
  return { connector, connects: () => connects, release };
}

describe('SFTP pool with data connections in the background', () => {
  let sshd: Sshd;
  beforeAll(async () => {
    sshd = await startSshd();
    await writeFile(join(sshd.root, 'page.php'), CONTENT);
  });
  afterAll(async () => {
    await sshd.stop();
  });

  it('is handed out before the data connection is up, reads on the metadata one meanwhile, and uses the data one once it joined', async () => {
    const gated = gatedConnector(sshd, false);
    const fs = await createSftpRemoteFs(gated.connector, sshd.root, { maxConns: 2, dataConnections: 'in-background' });
    try {
      expect(gated.connects()).toBe(2); // the data connection was asked for, and is held at the gate
      expect(fs.state()).toBe('connected');
      const early = await fs.open('/page.php', C.O_RDONLY);
      expect((await early.read(0, 4096)).equals(CONTENT)).toBe(true);
      await early.close();
      gated.release();
      // Bounded: the handshake with the local sshd, then a file opened on the joined connection reads the same.
      for (let i = 0; i < 100 && fs.stats().connections < 2; i++) await new Promise((r) => setTimeout(r, 50));
      expect(fs.stats().connections).toBe(2);
      const late = await fs.open('/page.php', C.O_RDONLY);
      expect((await late.read(0, 4096)).equals(CONTENT)).toBe(true);
      await late.close();
      expect(fs.state()).toBe('connected');
    } finally {
      await fs.close();
    }
  });

  it('a data connection that cannot be made leaves files on the metadata connection', async () => {
    const gated = gatedConnector(sshd, true);
    const fs = await createSftpRemoteFs(gated.connector, sshd.root, { maxConns: 2, dataConnections: 'in-background' });
    try {
      await new Promise((r) => setTimeout(r, 50));
      expect(fs.stats().connections).toBe(1);
      const file = await fs.open('/page.php', C.O_RDONLY);
      expect((await file.read(0, 4096)).equals(CONTENT)).toBe(true);
      await file.close();
      expect(fs.state()).toBe('connected');
    } finally {
      await fs.close();
    }
  });

  it("'with-meta' (the default) fails the start when a data connection cannot be made", async () => {
    const gated = gatedConnector(sshd, true);
    await expect(createSftpRemoteFs(gated.connector, sshd.root, { maxConns: 2 })).rejects.toThrow(/second login/);
  });
});
