/**
 * A chunked request body (no Content-Length) spooled to a temporary file, because CGI needs CONTENT_LENGTH
 * before the script reads its input (RFC 3875 §4.1.2, §4.2: the script must not read past CONTENT_LENGTH) and
 * php-cgi reads nothing without it. Streamed to disk, so a large chunked upload still does not sit in memory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface SpooledBody {
  readonly length: number;
  open(): Readable;
  remove(): Promise<void>;
}

export async function spoolBody(body: Readable): Promise<SpooledBody> {
  const dir = await mkdtemp(path.join(tmpdir(), 'devmount-body-'));
  const file = path.join(dir, 'body');
  try {
    await pipeline(body, createWriteStream(file, { mode: 0o600 }));
    const { size } = await stat(file);
    return {
      length: size,
      open: () => createReadStream(file),
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
