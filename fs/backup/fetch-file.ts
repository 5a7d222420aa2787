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
/** The process umask, read once: process.umask() with no argument reads it without changing it. */
const UMASK = process.umask();

/** Reads up to `length` bytes at `position`; Buffer.alloc(0) at end of file. */
async function readChunk(file: RemoteFile, position: number, length: number): Promise<Buffer> {
  return length <= 0 ? Buffer.alloc(0) : file.read(position, length);
}

/** Returns the number of bytes written. */
export async function fetchFile(remote: RemoteFs, remotePath: string, entry: TreeEntry, tempPath: string, finalPath: string): Promise<number> {
  // Created with its final mode (the file is invisible until renamed); fchmod only when the umask would strip
  // bits or the mode has setuid/setgid/sticky bits (open(2) takes the low 9 bits, less the umask).
  const local = await open(tempPath, 'w', entry.mode & 0o777);
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
        // Not awaited: the data is in, and a CLOSE reply would hold this file's slot for one more round trip.
        // A failed close of a read-only handle loses nothing (the server frees it when the session ends).
        file.close().catch(() => undefined);
      }
    }
    if ((entry.mode & 0o777 & ~UMASK) !== entry.mode) await local.chmod(entry.mode);
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

/** Writes an already-fetched file into the snapshot (temp name, mode, mtime, rename), as fetchFile does. */
export async function placeFile(data: Buffer, entry: TreeEntry, tempPath: string, finalPath: string): Promise<void> {
  const local = await open(tempPath, 'w', entry.mode & 0o777);
  let done = false;
  try {
    if (data.length > 0) await local.write(data, 0, data.length, 0);
    if ((entry.mode & 0o777 & ~UMASK) !== entry.mode) await local.chmod(entry.mode);
    await local.utimes(utimesSeconds(entry.mtimeMs), utimesSeconds(entry.mtimeMs));
    await local.close();
    done = true;
    await rename(tempPath, finalPath);
  } finally {
    if (!done) {
      await local.close().catch(() => { /* the write or utimes failure above is the one to report */ });
      await unlink(tempPath).catch(() => { /* the temp dir is emptied at the start of the next run anyway */ });
    }
  }
}
