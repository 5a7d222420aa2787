/**
 * `--password-stdin`: the password is the first line of stdin (like `docker login --password-stdin`), so it
 * never appears in the process list or shell history. A trailing CR/LF is removed; nothing else is trimmed,
 * since spaces can be part of a password.
 */
import type { Readable } from 'node:stream';
import { UserError } from './user-error.js';

const MAX_BYTES = 64 * 1024; // far above any real password; stops reading an accidental large file

export async function readPasswordFromStdin(input: Readable = process.stdin): Promise<string> {
  let text = '';
  let bytes = 0;
  for await (const chunk of input) {
    const piece = typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    bytes += Buffer.byteLength(piece);
    text += piece;
    if (text.includes('\n') || bytes > MAX_BYTES) break;
  }
  const newline = text.indexOf('\n');
  const line = (newline >= 0 ? text.slice(0, newline) : text).replace(/\r$/, '');
  if (line === '') {
    throw new UserError('usage', '--password-stdin: no password on stdin: pipe it in, e.g. devmount mount --password-stdin … < password-file');
  }
  return line;
}
