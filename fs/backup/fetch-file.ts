/**
 * Copies one remote file into the snapshot: written under a temporary name outside the tree, given its mode
 * and mtime, then renamed into place — so a file under its final name is always complete, and an interrupted
 * run's partial snapshot can be trusted file by file. Large files are read in chunks, the next chunk in
 * flight while the current one is written.
 */
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import type { TreeEntry } from '../bulk/types.js';
import { utimesSeconds } from './local-tree.js';
import type { RemoteFs, RemoteFile } from '../remote/types.js';

const CHUNK = 8 * 1024 * 1024;

/** Reads up to `length` bytes at `position`; Buffer.alloc(0) at end of file. */
async function readChunk(file: RemoteFile, position: number, length: number): Promise<Buffer> {
  return length <= 0 ? Buffer.alloc(0) : file.read(position, length);
}

/** Returns the number of bytes written. */
export async function fetchFile(remote: RemoteFs, remotePath: string, entry: TreeEntry, tempPath: string, finalPath: string): Promise<number> {
  const local = await open(tempPath, 'w', 0o600);
  let written = 0;
  let done = false;
  try {
    // An empty file costs no round trip: it is complete as listed.
    if (entry.size > 0) {
      const file = await remote.open(remotePath, constants.O_RDONLY);
      try {
        let next = readChunk(file, 0, Math.min(CHUNK, entry.size));
        while (true) {
          const chunk = await next;
          const position = written + chunk.length;
          // Copy what the listing promised; a file that grew since is fetched again next run (its mtime moved).
          const more = chunk.length > 0 && position < entry.size;
          next = more ? readChunk(file, position, Math.min(CHUNK, entry.size - position)) : Promise.resolve(Buffer.alloc(0));
          // If the local write below fails, the read-ahead's own failure is moot: mark it handled.
          next.catch(() => undefined);
          if (chunk.length > 0) await local.write(chunk, 0, chunk.length, written);
          written = position;
          if (!more) break;
        }
      } finally {
        await file.close();
      }
    }
    await local.chmod(entry.mode);
    await local.utimes(utimesSeconds(entry.mtimeMs), utimesSeconds(entry.mtimeMs));
    await local.close();
    await rename(tempPath, finalPath);
    done = true;
    return written;
  } finally {
    if (!done) {
      await local.close().catch(() => { /* already closed on the success path above or a failed close: the unlink below is what matters */ });
      await unlink(tempPath).catch(() => { /* the temp dir is emptied at the start of the next run anyway */ });
    }
  }
}
