/**
 * An append-only log file with a size bound, rotated as logrotate's `rotate N` + `size` would do it: when the
 * next write would take `path` past `maxBytes`, path.(N-1) … path.1 move up one, `path` becomes path.1 and a new
 * `path` is started, so at most `files` files of about maxBytes each are kept. Writes are asynchronous and queued
 * in order (never a synchronous call: a log file may sit next to a FUSE mount served by this process).
 *
 * Two processes appending to the same file (two foreground servers of one site) both rotate by their own
 * count; lines are never lost, at worst one lands in path.1 early.
 */
import { open, rename, type FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

export interface LogFileLimits {
  readonly maxBytes: number;
  /** Files kept, the current one included (3: path, path.1, path.2). */
  readonly files: number;
}

export const LOG_FILE_LIMITS: LogFileLimits = Object.freeze({ maxBytes: 10 * 1024 * 1024, files: 3 });

export interface RotatingLogFile {
  readonly path: string;
  /** Queues whole lines (ending in '\n'); written in order. */
  write(text: string): void;
  /**
   * Resolves when everything queued so far is written, then closes the file; rejects with the first write error
   * (disk full) if there was one. write() after close is dropped.
   */
  close(): Promise<void>;
}

export async function openRotatingLogFile(path: string, limits: LogFileLimits = LOG_FILE_LIMITS): Promise<RotatingLogFile> {
  const frozen = Object.freeze({ ...limits });
  let handle: FileHandle = await open(path, 'a', 0o600);
  let size = (await handle.stat()).size;
  let pending = '';
  let closed = false;
  let failure: Error | null = null;
  // The one writer: a chain of drains, so rotation and writes never interleave.
  let chain: Promise<void> = Promise.resolve();

  const rotate = async (): Promise<void> => {
    await handle.close();
    for (let i = frozen.files - 1; i >= 1; i--) {
      const from = i === 1 ? path : `${path}.${i - 1}`;
      await rename(from, `${path}.${i}`).catch((err: NodeJS.ErrnoException) => {
        // A rotated file that was never made (the first rotations) is nothing to move.
        if (err.code !== 'ENOENT') throw err;
      });
    }
    handle = await open(path, 'a', 0o600);
    size = 0;
  };

  /** Writes `text` (whole lines) in parts that fit the current file, rotating in between. */
  const writeBounded = async (text: string): Promise<void> => {
    let rest = text;
    while (rest !== '') {
      let cut = frozen.files > 1 ? wholeLinesWithin(rest, frozen.maxBytes - size) : rest.length;
      if (cut === 0 && size > 0) {
        await rotate();
        continue;
      }
      // A line longer than the whole bound goes into a file of its own rather than be cut.
      if (cut === 0) cut = rest.indexOf('\n') + 1 || rest.length;
      const part = rest.slice(0, cut);
      rest = rest.slice(cut);
      await handle.write(part);
      size += Buffer.byteLength(part);
    }
  };

  const drain = async (): Promise<void> => {
    while (pending !== '') {
      const text = pending;
      pending = '';
      await writeBounded(text);
    }
  };

  const schedule = (): Promise<void> => {
    // A failed write (disk full) must not stop later ones, nor go unseen by close().
    chain = chain.then(drain, drain);
    return chain;
  };

  return {
    path,
    write(text: string): void {
      if (closed) return;
      const idle = pending === '';
      pending += text;
      if (idle) {
        schedule().catch((err: unknown) => {
          failure ??= err instanceof Error ? err : new Error(String(err));
        });
      }
    },
    async close(): Promise<void> {
      if (closed) return chain;
      closed = true;
      await schedule();
      await handle.close();
      if (failure !== null) throw failure;
    },
  };
}

/** How many characters of `text` are whole lines that together take at most `room` bytes. */
function wholeLinesWithin(text: string, room: number): number {
  if (Buffer.byteLength(text) <= room) return text.length;
  let bytes = 0;
  let end = 0;
  for (;;) {
    const newline = text.indexOf('\n', end);
    const next = newline === -1 ? text.length : newline + 1;
    if (next === end) return end;
    bytes += Buffer.byteLength(text.slice(end, next));
    if (bytes > room) return end;
    end = next;
  }
}

/** The file as a stream (a pino destination): end() resolves once every line is written and the file closed. */
export function rotatingFileStream(file: RotatingLogFile): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      file.write(chunk.toString());
      callback();
    },
    final(callback) {
      file.close().then(() => callback(), (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
    },
  });
}
