/**
 * The server's ServerResponse class (http.createServer's `ServerResponse` option): counts body bytes for
 * the access log as they are written, whoever writes them (static, PHP, proxy), without wrapping
 * res.write/res.end in fresh closures on every request.
 */
import { ServerResponse, type IncomingMessage } from 'node:http';

export class CountingResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** Body bytes handed to write()/end() so far (headers excluded). */
  bodyBytes = 0;
  /** X-Request-Id added to whatever head is finally written ('' = none). */
  requestId = '';

  /**
   * Adds X-Request-Id to every response head. Passed inside a header array when nothing was set with
   * setHeader(): Node then takes its fast path and stores the array as it is, instead of replaying every
   * header through removeHeader/appendHeader (node lib/_http_server.js writeHead).
   */
  override writeHead(statusCode: number, ...rest: unknown[]): this {
    const id = this.requestId;
    if (id !== '' && !this.headersSent && !this.hasHeader('x-request-id')) {
      const last = rest[rest.length - 1];
      if (Array.isArray(last) && this.getHeaderNames().length === 0) rest[rest.length - 1] = [...(last as unknown[]), 'X-Request-Id', id];
      else this.setHeader('X-Request-Id', id);
    }
    (super.writeHead as (...a: unknown[]) => unknown)(statusCode, ...rest);
    return this;
  }

  // The overloads of write/end are forwarded untouched; only the byte count is added.
  override write(chunk: unknown, ...rest: unknown[]): boolean {
    this.bodyBytes += byteLength(chunk);
    return (super.write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }

  override end(chunk?: unknown, ...rest: unknown[]): this {
    if (typeof chunk !== 'function') this.bodyBytes += byteLength(chunk);
    (super.end as (...a: unknown[]) => unknown)(chunk, ...rest);
    return this;
  }
}

function byteLength(chunk: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
