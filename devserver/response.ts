/**
 * The server's ServerResponse class (http.createServer's `ServerResponse` option): counts body bytes for
 * the access log as they are written, whoever writes them (static, PHP, proxy), without wrapping
 * res.write/res.end in fresh closures on every request.
 *
 * It is also where a response can be rewritten on its way out (body-transform/): a middleware sets
 * `interceptor`; when the head is written — explicitly, or implicitly by the first write() — the interceptor sees
 * the final status and headers, may edit the headers, and may take over the body. Whoever writes the response
 * (send.ts, the CGI runner, the proxy) keeps calling write/end as usual.
 */
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';

/** A body taken over by an interceptor: it sends the head itself (sendHead) once it knows the length or starts streaming. */
export interface InterceptedBody {
  write(chunk: Buffer): boolean;
  end(chunk: Buffer | null): void;
}

export interface ResponseInterceptor {
  /**
   * Asked first, with the Content-Type the response will have ('' for none): true lets the response go out as it
   * is, on Node's fast path for a header array (send.ts), without the headers being merged for intercept().
   */
  declines(contentType: string): boolean;
  /** Called once, in writeHead, with the headers of the response set on `res`; null leaves the body alone. */
  intercept(res: CountingResponse, status: number): InterceptedBody | null;
}

export class CountingResponse<Request extends IncomingMessage = IncomingMessage> extends ServerResponse<Request> {
  /** Body bytes handed to write()/end() so far (headers excluded). */
  bodyBytes = 0;
  /** X-Request-Id added to whatever head is finally written ('' = none). */
  requestId = '';
  /** Set by a middleware before the head is written; consumed by writeHead. */
  interceptor: ResponseInterceptor | null = null;
  private intercepted: InterceptedBody | null = null;

  override writeHead(statusCode: number, ...rest: unknown[]): this {
    const interceptor = this.interceptor;
    if (interceptor === null || this.headersSent) return this.sendHeadNow(statusCode, rest);
    this.interceptor = null;
    if (interceptor.declines(this.contentTypeOf(rest))) return this.sendHeadNow(statusCode, rest);
    // The interceptor reads and edits headers through getHeader/setHeader, so the writeHead argument goes there first.
    this.takeHeaderArguments(rest);
    this.statusCode = statusCode;
    this.intercepted = interceptor.intercept(this, statusCode);
    return this.intercepted === null ? this.sendHeadNow(statusCode, []) : this;
  }

  /** For an InterceptedBody: writes the head now, with the final Content-Length (null: none, the body streams). */
  sendHead(contentLength: number | null): void {
    if (contentLength === null) this.removeHeader('content-length');
    else this.setHeader('Content-Length', contentLength);
    this.sendHeadNow(this.statusCode, []);
  }

  /** For an InterceptedBody: body bytes straight to the connection. */
  rawWrite(chunk: Buffer): boolean {
    this.bodyBytes += chunk.length;
    return super.write(chunk);
  }

  rawEnd(chunk: Buffer | null): void {
    if (chunk !== null) this.bodyBytes += chunk.length;
    if (chunk === null) super.end();
    else super.end(chunk);
  }

  // The overloads of write/end are forwarded untouched; only the byte count is added.
  override write(chunk: unknown, ...rest: unknown[]): boolean {
    if (!this.headersSent && this.intercepted === null && this.interceptor !== null) this.writeHead(this.statusCode);
    const body = this.intercepted;
    if (body !== null) {
      const ok = body.write(toBuffer(chunk, rest[0]));
      callbackOf(rest, (cb) => process.nextTick(cb));
      return ok;
    }
    this.bodyBytes += byteLength(chunk);
    return (super.write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }

  override end(chunk?: unknown, ...rest: unknown[]): this {
    if (!this.headersSent && this.intercepted === null && this.interceptor !== null) this.writeHead(this.statusCode);
    const body = this.intercepted;
    if (body !== null) {
      this.intercepted = null;
      const data = typeof chunk === 'function' || chunk === undefined || chunk === null ? null : toBuffer(chunk, rest[0]);
      callbackOf([chunk, ...rest], (cb) => this.once('finish', cb));
      body.end(data);
      return this;
    }
    if (typeof chunk !== 'function') this.bodyBytes += byteLength(chunk);
    (super.end as (...a: unknown[]) => unknown)(chunk, ...rest);
    return this;
  }

  /**
   * Adds X-Request-Id to every response head. Passed inside a header array when nothing was set with
   * setHeader(): Node then takes its fast path and stores the array as it is, instead of replaying every
   * header through removeHeader/appendHeader (node lib/_http_server.js writeHead).
   */
  private sendHeadNow(statusCode: number, rest: unknown[]): this {
    const id = this.requestId;
    if (id !== '' && !this.headersSent && !this.hasHeader('x-request-id')) {
      const last = rest[rest.length - 1];
      if (Array.isArray(last) && this.getHeaderNames().length === 0) rest[rest.length - 1] = [...(last as unknown[]), 'X-Request-Id', id];
      else this.setHeader('X-Request-Id', id);
    }
    (super.writeHead as (...a: unknown[]) => unknown)(statusCode, ...rest);
    return this;
  }

  /** The Content-Type writeHead's arguments give, else the one set with setHeader ('' for none). */
  private contentTypeOf(rest: readonly unknown[]): string {
    const headers = rest[rest.length - 1];
    if (Array.isArray(headers)) {
      if (Array.isArray(headers[0])) {
        for (const [name, value] of headers as Array<[string, unknown]>) if (name.toLowerCase() === 'content-type') return String(value);
      } else {
        for (let i = 0; i < headers.length; i += 2) if (String(headers[i]).toLowerCase() === 'content-type') return String(headers[i + 1]);
      }
    } else if (headers !== null && typeof headers === 'object') {
      for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) if (name.toLowerCase() === 'content-type') return String(value);
    }
    const set = this.getHeader('content-type');
    return set === undefined ? '' : String(set);
  }

  /** writeHead's optional reason phrase and headers, onto this response. */
  private takeHeaderArguments(rest: unknown[]): void {
    for (const arg of rest) {
      if (typeof arg === 'string') this.statusMessage = arg;
      else mergeHeadersArgument(this, arg);
    }
  }
}

/**
 * writeHead's headers argument (object, flat [name, value, …] or [[name, value], …]) merged into `res` as Node's
 * own writeHead does: fields given here replace earlier ones of the same name but may repeat among themselves
 * (node lib/_http_server.js writeHead).
 */
export function mergeHeadersArgument(res: ServerResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    const pairs: Array<[string, unknown]> = Array.isArray(headers[0])
      ? (headers as Array<[string, unknown]>)
      : Array.from({ length: headers.length >> 1 }, (_, i) => [String(headers[2 * i]), headers[2 * i + 1]] as [string, unknown]);
    for (const [name] of pairs) res.removeHeader(name);
    for (const [name, value] of pairs) res.appendHeader(name, value as string | readonly string[]);
  } else if (headers !== null && typeof headers === 'object') {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) if (value !== undefined) res.setHeader(name, value);
  }
}

function callbackOf(args: unknown[], call: (cb: () => void) => void): void {
  const cb = args.find((a) => typeof a === 'function');
  if (cb !== undefined) call(cb as () => void);
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return Buffer.alloc(0);
}

function byteLength(chunk: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk);
  if (chunk instanceof Uint8Array) return chunk.byteLength;
  return 0;
}
