/**
 * One backup run per destination: DEST/.devmount-backup.lock created with O_EXCL (open(2): atomic on local
 * file systems) holding "pid host". A lock whose pid is dead on this host is stale (the run was killed -9)
 * and is taken over.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { BackupLockedError } from './types.js';
import { LOCK_FILE } from './snapshot-names.js';

export interface Lock {
  readonly path: string;
  release(): Promise<void>;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function holderOf(path: string): Promise<{ pid: number; host: string } | undefined> {
  try {
    const [pid, host] = (await readFile(path, 'utf8')).trim().split(/\s+/);
    const n = Number(pid);
    return Number.isInteger(n) && n > 0 && host ? { pid: n, host } : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

export async function acquireLock(dest: string): Promise<Lock> {
  const path = join(dest, LOCK_FILE);
  const me = `${process.pid} ${hostname()}\n`;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const fh = await open(path, 'wx', 0o644);
      try {
        await fh.writeFile(me);
      } finally {
        await fh.close();
      }
      return {
        path,
        release: async () => {
          const holder = await holderOf(path);
          if (holder?.pid === process.pid) await unlink(path);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await holderOf(path);
    // A lock being written right now has no content yet: treat it as held.
    if (holder === undefined || holder.host !== hostname() || processAlive(holder.pid)) {
      throw new BackupLockedError(path, holder ? `pid ${holder.pid} on ${holder.host}` : 'another process');
    }
    // Stale: its pid is gone. unlink may race another run doing the same; the O_EXCL open decides.
    await unlink(path).catch((e: NodeJS.ErrnoException) => { if (e.code !== 'ENOENT') throw e; });
  }
  throw new BackupLockedError(path, 'another process (the lock kept changing hands)');
}
