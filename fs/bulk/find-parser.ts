/**
 * Streaming parser for the output of `find -printf` with NUL-terminated fields (see FIND_FORMAT). NUL is the
 * only byte a path cannot contain, so names with spaces, newlines or any unicode come through unchanged.
 * Only the unfinished tail of the stream is kept between chunks: a huge tree is never held as raw text.
 */
import type { EntryType, TreeEntry } from './types.js';

/**
 * find(1) -printf directives, each ended by NUL: %P path relative to the starting point ('' for the
 * starting point itself), %y type letter, %m permission bits in octal, %s size, %T@ mtime as seconds with a
 * fraction, %U/%G numeric owner, %l symlink target ('' unless a symlink).
 */
export const FIND_FORMAT = '%P\\0%y\\0%m\\0%s\\0%T@\\0%U\\0%G\\0%l\\0';
const FIELDS_PER_ENTRY = 8;

const TYPES: Readonly<Record<string, EntryType>> = Object.freeze({ f: 'file', d: 'dir', l: 'symlink' });

export class FindOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FindOutputError';
  }
}

/** Seconds with a decimal fraction ("1700000000.1234567890") → integer milliseconds, without float rounding. */
export function parseFindTime(text: string): number {
  const match = /^(-?\d+)(?:\.(\d*))?$/.exec(text);
  if (!match) throw new FindOutputError(`bad time field ${JSON.stringify(text)}`);
  const seconds = Number(match[1]);
  const millis = Number(((match[2] ?? '') + '000').slice(0, 3));
  return seconds * 1000 + (seconds < 0 ? -millis : millis);
}

function parseInteger(text: string, radix: number, what: string): number {
  const value = Number.parseInt(text, radix);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) throw new FindOutputError(`bad ${what} field ${JSON.stringify(text)}`);
  return value;
}

export class FindParser {
  private tail: Buffer = Buffer.alloc(0);
  private fields: string[] = [];
  private count = 0;

  constructor(private readonly onEntry: (entry: TreeEntry) => void) {}

  /** Entries parsed so far. */
  get entries(): number {
    return this.count;
  }

  push(chunk: Buffer): void {
    const data = this.tail.length > 0 ? Buffer.concat([this.tail, chunk]) : chunk;
    let start = 0;
    for (let nul = data.indexOf(0, start); nul !== -1; nul = data.indexOf(0, start)) {
      this.fields.push(data.toString('utf8', start, nul));
      start = nul + 1;
      if (this.fields.length === FIELDS_PER_ENTRY) {
        this.onEntry(this.toEntry(this.fields));
        this.count += 1;
        this.fields = [];
      }
    }
    // Copy the tail so the (possibly large) chunk it came from can be collected.
    this.tail = Buffer.from(data.subarray(start));
  }

  /** Throws when the stream stopped inside a record (the remote command died or was not find). */
  end(): void {
    if (this.tail.length > 0 || this.fields.length > 0) {
      throw new FindOutputError('listing ended in the middle of an entry');
    }
  }

  private toEntry(f: string[]): TreeEntry {
    const [path, typeLetter, mode, size, mtime, uid, gid, link] = f as [string, string, string, string, string, string, string, string];
    const type = TYPES[typeLetter] ?? (/^[pscbD]$/.test(typeLetter) ? 'other' : undefined);
    if (type === undefined) throw new FindOutputError(`bad type field ${JSON.stringify(typeLetter)}`);
    const entry: TreeEntry = {
      path,
      type,
      mode: parseInteger(mode, 8, 'mode') & 0o7777,
      size: parseInteger(size, 10, 'size'),
      mtimeMs: parseFindTime(mtime),
      uid: parseInteger(uid, 10, 'uid'),
      gid: parseInteger(gid, 10, 'gid'),
      ...(type === 'symlink' ? { linkTarget: link } : {}),
    };
    return entry;
  }
}
