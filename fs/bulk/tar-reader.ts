/**
 * A streaming reader for the tar archives GNU tar writes by default (--format=gnu): 512-byte headers, data
 * padded to 512, 'L' entries carrying the next entry's long name (GNU tar info manual, "Standard" and "GNU
 * extensions"), 'x' pax headers (path=) when a server's tar defaults to pax. Only regular files are
 * reported; everything else is skipped. Holds at most one file's data at a time.
 */
export interface TarFile {
  readonly name: string;
  readonly size: number;
  readonly mtimeSeconds: number;
  readonly data: Buffer;
}

const BLOCK = 512;

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return raw.toString('utf8', 0, nul < 0 ? length : nul);
}

/** Octal, or GNU's base-256 (first byte 0x80) for values that do not fit. */
function numeric(header: Buffer, offset: number, length: number): number {
  if ((header[offset]! & 0x80) !== 0) {
    let value = header[offset]! & 0x7f;
    for (let i = 1; i < length; i += 1) value = value * 256 + header[offset + i]!;
    return value;
  }
  const text = field(header, offset, length).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

function paxPath(data: Buffer): string | undefined {
  // Records are "LEN key=value\n"; LEN counts the whole record in bytes.
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) break;
    const len = Number(data.toString('ascii', pos, space));
    if (!Number.isInteger(len) || len <= 0) break;
    const record = data.toString('utf8', space + 1, pos + len - 1);
    if (record.startsWith('path=')) return record.slice(5);
    pos += len;
  }
  return undefined;
}

export class TarReader {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private longName: string | undefined;

  /** Feeds bytes; returns the regular files completed by them, in archive order. */
  push(chunk: Buffer): TarFile[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: TarFile[] = [];
    for (;;) {
      if (this.pendingBytes < BLOCK) return out;
      const header = this.peek(BLOCK);
      if (header.every((b) => b === 0)) {
        this.take(BLOCK); // end-of-archive blocks
        continue;
      }
      const size = numeric(header, 124, 12);
      const padded = Math.ceil(size / BLOCK) * BLOCK;
      if (this.pendingBytes < BLOCK + padded) return out;
      this.take(BLOCK);
      const data = this.take(padded).subarray(0, size);
      const type = String.fromCharCode(header[156]!);
      if (type === 'L') { this.longName = data.toString('utf8').replace(/\0+$/, ''); continue; }
      if (type === 'x') { this.longName = paxPath(data) ?? this.longName; continue; }
      const name = this.longName ?? this.headerName(header);
      this.longName = undefined;
      if (type === '0' || type === '\0' || type === '7') out.push({ name, size, mtimeSeconds: numeric(header, 136, 12), data });
    }
  }

  private headerName(header: Buffer): string {
    const name = field(header, 0, 100);
    // POSIX ustar ("ustar\0") splits long names into prefix/name; GNU ("ustar  \0") uses that space otherwise.
    const magic = header.toString('ascii', 257, 263);
    const prefix = magic === 'ustar\0' ? field(header, 345, 155) : '';
    return prefix ? `${prefix}/${name}` : name;
  }

  private peek(n: number): Buffer {
    if (this.pending[0]!.length < n) this.joinFirst(n);
    return this.pending[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    if (this.pending[0]!.length < n) this.joinFirst(n);
    const first = this.pending[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.pending.shift();
    else this.pending[0] = first.subarray(n);
    this.pendingBytes -= n;
    return out;
  }

  /**
   * Makes the first pending buffer hold at least `n` bytes by copying just those bytes out of the chunks they
   * span; the rest of the last chunk stays a view. Concatenating every pending chunk instead copied the whole
   * stream about once more (each chunk boundary falls inside an entry), memory the mount's RSS paid for.
   */
  private joinFirst(n: number): void {
    const joined = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.pending[0]!;
      const used = Math.min(chunk.length, n - filled);
      chunk.copy(joined, filled, 0, used);
      filled += used;
      if (used === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(used);
    }
    this.pending.unshift(joined);
  }
}
