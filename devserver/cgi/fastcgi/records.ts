/**
 * FastCGI 1.0 wire format (https://fastcgi-archives.github.io/FastCGI_Specification.html §3, §5, §8).
 *
 * Record header, 8 bytes:
 *   version(1)=1 | type(1) | requestId(2, BE) | contentLength(2, BE) | paddingLength(1) | reserved(1)
 * followed by contentLength bytes of content and paddingLength bytes of padding.
 */
export const FCGI_VERSION_1 = 1;
export const RecordType = Object.freeze({
  beginRequest: 1,
  abortRequest: 2,
  endRequest: 3,
  params: 4,
  stdin: 5,
  stdout: 6,
  stderr: 7,
  data: 8,
  getValues: 9,
  getValuesResult: 10,
  unknownType: 11,
});
export const FCGI_RESPONDER = 1;
export const HEADER_LENGTH = 8;
/** contentLength is 16 bits. */
export const MAX_CONTENT_LENGTH = 0xffff;

export interface FcgiRecord {
  readonly type: number;
  readonly requestId: number;
  readonly content: Buffer;
}

export function encodeRecord(type: number, requestId: number, content: Buffer = Buffer.alloc(0)): Buffer {
  if (content.length > MAX_CONTENT_LENGTH) throw new RangeError(`FastCGI record content too long: ${content.length}`);
  const padding = paddingFor(content.length);
  const record = Buffer.alloc(HEADER_LENGTH + content.length + padding);
  writeHeader(record, 0, type, requestId, content.length, padding);
  content.copy(record, HEADER_LENGTH);
  return record;
}

/** §3.3: padding is optional; aligning to 8 bytes is what the spec recommends. */
function paddingFor(contentLength: number): number {
  return (8 - (contentLength % 8)) % 8;
}

/** Writes a record header at `offset` of a zero-filled buffer (reserved byte left 0); returns the content's offset. */
function writeHeader(target: Buffer, offset: number, type: number, requestId: number, contentLength: number, padding: number): number {
  target[offset] = FCGI_VERSION_1;
  target[offset + 1] = type;
  target.writeUInt16BE(requestId, offset + 2);
  target.writeUInt16BE(contentLength, offset + 4);
  target[offset + 6] = padding;
  return offset + HEADER_LENGTH;
}

/** FCGI_BeginRequestBody flag (§5.1): the application keeps the connection open after the request. */
export const FCGI_KEEP_CONN = 1;

/**
 * Encodes into one buffer: this runs for every request, with ~30 variables each. The pairs are built as one
 * latin1 string (a length below 128 is one char, a longer one four chars of one byte each) and written with a
 * single call: a Buffer.write per name and value was 60 calls into C++ per request.
 */
export function encodeParams(params: Readonly<Record<string, string>>): Buffer {
  return Buffer.from(paramsText(params), 'latin1');
}

function paramsText(params: Readonly<Record<string, string>>): string {
  let text = '';
  for (const name in params) {
    const value = params[name] ?? '';
    // latin1: one byte per UTF-16 code unit, so .length is the encoded length.
    text += lengthChars(name.length) + lengthChars(value.length) + name + value;
  }
  return text;
}

/**
 * The records that open a request, in one buffer for one write: BEGIN_REQUEST (§5.1), the PARAMS stream (§5.2)
 * in records of at most MAX_CONTENT_LENGTH and the empty record that ends it, and with `endStdin` the empty STDIN
 * record (§5.3) of a request without a body. php-cgi then finds the whole request in one read.
 * FCGI_BeginRequestBody: role(2, BE) | flags(1) | reserved(5). With FCGI_KEEP_CONN the application leaves the
 * connection open after END_REQUEST, so the next request skips connect/accept and php-cgi's shutdown-then-drain
 * close (main/fastcgi.c fcgi_close); without it the application closes it.
 */
export function encodeRequestHead(requestId: number, flags: number, params: Readonly<Record<string, string>>, endStdin: boolean): Buffer {
  const text = paramsText(params);
  let size = HEADER_LENGTH + 8 + HEADER_LENGTH + (endStdin ? HEADER_LENGTH : 0);
  for (let start = 0; start < text.length; start += MAX_CONTENT_LENGTH) {
    const length = Math.min(MAX_CONTENT_LENGTH, text.length - start);
    size += HEADER_LENGTH + length + paddingFor(length);
  }
  const out = Buffer.alloc(size);
  let offset = writeHeader(out, 0, RecordType.beginRequest, requestId, 8, 0);
  out.writeUInt16BE(FCGI_RESPONDER, offset);
  out[offset + 2] = flags;
  offset += 8;
  for (let start = 0; start < text.length; start += MAX_CONTENT_LENGTH) {
    const length = Math.min(MAX_CONTENT_LENGTH, text.length - start);
    offset = writeHeader(out, offset, RecordType.params, requestId, length, paddingFor(length));
    out.write(text.slice(start, start + length), offset, 'latin1');
    offset += length + paddingFor(length);
  }
  offset = writeHeader(out, offset, RecordType.params, requestId, 0, 0);
  if (endStdin) writeHeader(out, offset, RecordType.stdin, requestId, 0, 0);
  return out;
}

/** §3.4 length as latin1 chars: one byte below 128, else four bytes, big-endian, with the high bit set. */
function lengthChars(length: number): string {
  if (length < 128) return String.fromCharCode(length);
  return String.fromCharCode(((length >>> 24) & 0x7f) | 0x80, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff);
}

export function decodeParams(content: Buffer): Record<string, string> {
  const params: Record<string, string> = {};
  let offset = 0;
  const readLength = (): number => {
    const first = content[offset];
    if (first === undefined) throw new RangeError('truncated FastCGI name-value pair');
    if (first < 128) { offset += 1; return first; }
    const length = content.readUInt32BE(offset) & 0x7fffffff;
    offset += 4;
    return length;
  };
  while (offset < content.length) {
    const nameLength = readLength();
    const valueLength = readLength();
    const name = content.subarray(offset, offset + nameLength).toString('latin1');
    offset += nameLength;
    params[name] = content.subarray(offset, offset + valueLength).toString('latin1');
    offset += valueLength;
  }
  return params;
}

/** FCGI_EndRequestBody (§5.5): appStatus(4, BE) | protocolStatus(1) | reserved(3). */
export function decodeEndRequest(content: Buffer): { appStatus: number; protocolStatus: number } {
  return { appStatus: content.readUInt32BE(0), protocolStatus: content.readUInt8(4) };
}

/** Incremental record parser: feed it socket chunks, it calls onRecord for each complete record. */
export class RecordParser {
  #buffer: Buffer = Buffer.alloc(0);
  constructor(private readonly onRecord: (record: FcgiRecord) => void) {}

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      if (this.#buffer.length < HEADER_LENGTH) return;
      const version = this.#buffer.readUInt8(0);
      if (version !== FCGI_VERSION_1) throw new RangeError(`unsupported FastCGI version ${version}`);
      const contentLength = this.#buffer.readUInt16BE(4);
      const total = HEADER_LENGTH + contentLength + this.#buffer.readUInt8(6);
      if (this.#buffer.length < total) return;
      const record: FcgiRecord = {
        type: this.#buffer.readUInt8(1),
        requestId: this.#buffer.readUInt16BE(2),
        content: this.#buffer.subarray(HEADER_LENGTH, HEADER_LENGTH + contentLength),
      };
      this.#buffer = this.#buffer.subarray(total);
      this.onRecord(record);
    }
  }
}
