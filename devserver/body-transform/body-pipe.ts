/**
 * The body of one rewritten response: decode (the upstream's gzip/deflate/br) → text stage → encode (the coding
 * the client accepts) → the connection. Two ways through, chosen by how the writer hands the body over:
 * - all at once (end(body) with no write before: a small PHP page, a static file): everything is collected and
 *   sent with an exact Content-Length;
 * - streamed (write() calls: PHP's flush(), a proxied stream): each chunk goes out as soon as it has passed the
 *   stages, with the encoder flushed after every chunk (Z_SYNC_FLUSH / BROTLI_OPERATION_FLUSH), so a progressive
 *   page stays progressive; chunked transfer coding, no Content-Length.
 * Backpressure: the writer's write() returns false while a zlib stage is full (and 'drain' is emitted on the
 * response when it empties); zlib output waits for the connection's 'drain'.
 */
import type { Transform } from 'node:stream';
import { constants as zlib, createBrotliDecompress, createGunzip, createInflate, type Zlib } from 'node:zlib';
import { compressStream, type Coding } from '../compression.js';
import type { CountingResponse, InterceptedBody } from '../response.js';
import type { TextStage } from './text-rewriter.js';

/** Content-Coding values this pipe can undo (RFC 9110 §8.4.1; x-gzip is gzip, §8.4.1.3). */
export type UpstreamCoding = 'gzip' | 'deflate' | 'br';

export function upstreamCodingOf(contentEncoding: string): UpstreamCoding | 'identity' | null {
  const value = contentEncoding.trim().toLowerCase();
  if (value === '' || value === 'identity') return 'identity';
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate' || value === 'br') return value;
  return null;
}

function decoderFor(coding: UpstreamCoding): Transform {
  // Zlib's "finishFlush" as SYNC_FLUSH: a stream cut short still yields what it has (Node docs, zlib "Flushing").
  if (coding === 'br') return createBrotliDecompress();
  return coding === 'gzip' ? createGunzip({ finishFlush: zlib.Z_SYNC_FLUSH }) : createInflate({ finishFlush: zlib.Z_SYNC_FLUSH });
}

export class BodyPipe implements InterceptedBody {
  private streaming = false;
  private readonly collected: Buffer[] = [];
  private headSent = false;
  private readonly decoder: Transform | null;
  private readonly encoder: (Transform & Zlib) | null;
  private readonly flushKind: number;

  constructor(private readonly res: CountingResponse, private readonly stage: TextStage, decode: UpstreamCoding | null,
    encode: Coding | null, private readonly onError: (err: Error) => void) {
    this.decoder = decode === null ? null : decoderFor(decode);
    this.encoder = encode === null ? null : compressStream(encode);
    this.flushKind = encode === 'br' ? zlib.BROTLI_OPERATION_FLUSH : zlib.Z_SYNC_FLUSH;
    if (this.decoder !== null) {
      this.decoder.on('data', (chunk: Buffer) => this.text(chunk));
      this.decoder.on('end', () => this.textEnd());
      this.decoder.on('error', (err: Error) => this.fail(err));
    }
    if (this.encoder !== null) {
      this.encoder.on('data', (chunk: Buffer) => this.out(chunk, this.encoder));
      this.encoder.on('end', () => this.finish());
      this.encoder.on('error', (err: Error) => this.fail(err));
    }
    res.once('close', () => {
      this.decoder?.destroy();
      this.encoder?.destroy();
    });
  }

  write(chunk: Buffer): boolean {
    this.streaming = true;
    if (this.decoder === null) return this.text(chunk);
    const ok = this.decoder.write(chunk);
    if (!ok) this.decoder.once('drain', () => this.res.emit('drain'));
    return ok;
  }

  end(chunk: Buffer | null): void {
    if (this.decoder !== null) {
      this.decoder.end(chunk ?? undefined);
      return;
    }
    if (chunk !== null) this.text(chunk);
    this.textEnd();
  }

  /** Decoded bytes through the text stage, then on to the encoder or the connection. */
  private text(chunk: Buffer): boolean {
    return this.encoded(this.stage.push(chunk.toString('latin1')));
  }

  private textEnd(): void {
    this.encoded(this.stage.end());
    if (this.encoder !== null) this.encoder.end();
    else this.finish();
  }

  private encoded(text: string): boolean {
    if (text === '') return true;
    const bytes = Buffer.from(text, 'latin1');
    if (this.encoder === null) return this.out(bytes, this.decoder);
    const ok = this.encoder.write(bytes);
    if (this.streaming) this.encoder.flush(this.flushKind);
    if (!ok && this.decoder === null) this.encoder.once('drain', () => this.res.emit('drain'));
    return ok;
  }

  /** Final bytes: kept until the end when the body came whole, else sent at once (`source` paused while the socket is full). */
  private out(bytes: Buffer, source: Transform | null): boolean {
    if (!this.streaming) {
      this.collected.push(bytes);
      return true;
    }
    if (!this.headSent) {
      this.headSent = true;
      this.res.sendHead(null);
    }
    const ok = this.res.rawWrite(bytes);
    if (!ok && source !== null) {
      source.pause();
      this.res.once('drain', () => source.resume());
    }
    return ok;
  }

  private finish(): void {
    if (this.headSent) {
      this.res.rawEnd(null);
      return;
    }
    this.headSent = true;
    const body = Buffer.concat(this.collected);
    this.res.sendHead(body.length);
    this.res.rawEnd(body.length === 0 ? null : body);
  }

  private fail(err: Error): void {
    this.onError(err);
    this.res.destroy(err);
  }
}
