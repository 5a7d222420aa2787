/**
 * Reads the header block a CGI script writes before its body (RFC 3875 §6) and classifies the response:
 * a document, a local redirect (Location with an abs-path and no Status, §6.2.2: the server re-dispatches the
 * request internally), or a client redirect (§6.2.3/§6.2.4). The body is handed back as a stream, never buffered:
 * the script's own stdout with the bytes read past the headers unshifted (the stream.Readable docs' header-parser
 * pattern), which spares every response a PassThrough and a pipe.
 */
import { PassThrough, type Readable } from 'node:stream';

/** php-cgi writes a few hundred bytes of headers; a script writing more than this without a blank line is broken. */
const MAX_HEADER_BYTES = 64 * 1024;

export class CgiHeaderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CgiHeaderError';
  }
}

/** What the header block says, before the body. */
export type CgiHeaderBlock = Omit<CgiResponseHead, 'body' | 'completeBody'>;

export interface CgiResponseHead {
  readonly kind: 'document' | 'local-redirect' | 'client-redirect';
  readonly status: number;
  /** false when the script sent no Status header (the server may then choose, e.g. for an ErrorDocument). */
  readonly statusGiven: boolean;
  readonly reason: string | null;
  /** Header fields other than Status, in order, names as the script wrote them. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly location: string | null;
  readonly body: Readable;
  /**
   * The whole body, when the script's output was already complete with the chunk that ended the header block
   * (ScriptExecution.outputComplete): nothing more comes from `body`, which is left flowing to its end. Else null.
   */
  readonly completeBody: Buffer | null;
}

function findHeaderEnd(buffer: Buffer): { end: number; bodyStart: number } | null {
  // A response may start with the blank line (no headers at all).
  if (buffer[0] === 0x0a) return { end: 0, bodyStart: 1 };
  if (buffer[0] === 0x0d && buffer[1] === 0x0a) return { end: 0, bodyStart: 2 };
  // The spec says CRLF, but scripts commonly end lines with a bare LF and servers accept it (Apache does).
  // From line feed to line feed with the native indexOf: a byte loop in JavaScript was a visible share of a request.
  for (let i = buffer.indexOf(0x0a); i !== -1; i = buffer.indexOf(0x0a, i + 1)) {
    if (buffer[i + 1] === 0x0a) return { end: i, bodyStart: i + 2 };
    if (buffer[i + 1] === 0x0d && buffer[i + 2] === 0x0a) return { end: i, bodyStart: i + 3 };
  }
  return null;
}

/** RFC 9110 §5.1 field-name (a token). A script sends the same few names on every response: they are remembered. */
function isTokenName(name: string): boolean {
  if (tokenNames.has(name)) return true;
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return false;
  // Bounded, so a script inventing names cannot grow it.
  if (tokenNames.size < MAX_KNOWN_NAMES) tokenNames.add(name);
  return true;
}

const MAX_KNOWN_NAMES = 512;
const tokenNames = new Set<string>();

export function parseHeaderBlock(text: string): CgiHeaderBlock {
  const headers: Array<readonly [string, string]> = [];
  let statusLine: string | null = null;
  let location: string | null = null;
  let continued: [string, string] | null = null;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && continued !== null) {
      continued[1] += ` ${line.trim()}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new CgiHeaderError(`malformed header line from script: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (!isTokenName(name)) {
      throw new CgiHeaderError(`invalid header name from script: ${JSON.stringify(name.slice(0, 80))}`);
    }
    const lower = name.toLowerCase();
    if (lower === 'status') { statusLine = value; continue; }
    if (lower === 'location') location = value;
    const pair: [string, string] = [name, value];
    headers.push(pair);
    continued = pair;
  }
  let status = 200;
  let reason: string | null = null;
  if (statusLine !== null) {
    const match = /^(\d{3})(?:\s+(.*))?$/.exec(statusLine);
    if (match === null) throw new CgiHeaderError(`invalid Status from script: ${JSON.stringify(statusLine)}`);
    status = Number(match[1]);
    reason = match[2] !== undefined && match[2] !== '' ? match[2] : null;
  }
  if (location !== null && statusLine === null) {
    // §6.2.2: "Location: /path" alone is a local redirect; §6.2.3: an absolute URI is a client redirect, 302.
    if (location.startsWith('/') && !location.startsWith('//')) {
      return { kind: 'local-redirect', status: 200, statusGiven: false, reason: null, headers, location };
    }
    return { kind: 'client-redirect', status: 302, statusGiven: true, reason: null, headers, location };
  }
  return { kind: location !== null ? 'client-redirect' : 'document', status, statusGiven: statusLine !== null, reason, headers, location };
}

/**
 * Resolves once the header block is complete; the body stream carries everything after the blank line, or, when
 * `outputComplete` says the output has all arrived with that chunk, `completeBody` holds it.
 */
export function readCgiResponseHead(stdout: Readable, outputComplete: () => boolean = () => false): Promise<CgiResponseHead> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const cleanup = (): void => {
      stdout.off('data', onData);
      stdout.off('end', onEnd);
      stdout.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const found = findHeaderEnd(buffered);
      if (found === null) {
        if (buffered.length > MAX_HEADER_BYTES) {
          cleanup();
          stdout.resume();
          reject(new CgiHeaderError(`script sent more than ${MAX_HEADER_BYTES} bytes without ending its headers`));
        }
        return;
      }
      cleanup();
      const rest = buffered.subarray(found.bodyStart);
      let head: CgiHeaderBlock;
      try {
        head = parseHeaderBlock(buffered.subarray(0, found.end).toString('latin1'));
      } catch (err) {
        reject(err);
        return;
      }
      if (outputComplete()) {
        // Still flowing, without a 'data' listener: the end that follows is consumed and nothing is kept.
        resolve({ ...head, body: stdout, completeBody: rest });
        return;
      }
      stdout.pause();
      if (rest.length > 0) stdout.unshift(rest);
      resolve({ ...head, body: stdout, completeBody: null });
    };
    const onEnd = (): void => {
      cleanup();
      if (buffered.length === 0) {
        reject(new CgiHeaderError('script exited without writing a response'));
        return;
      }
      // Headers without the terminating blank line (a script that printed only headers): accept them.
      try {
        const head = parseHeaderBlock(buffered.toString('latin1'));
        const body = new PassThrough();
        body.end();
        resolve({ ...head, body, completeBody: null });
      } catch (err) {
        reject(err);
      }
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    stdout.on('data', onData);
    stdout.on('end', onEnd);
    stdout.on('error', onError);
  });
}
