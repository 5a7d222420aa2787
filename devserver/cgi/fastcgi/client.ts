/**
 * One FastCGI request over a connection. With `keepConn` the request asks for FCGI_KEEP_CONN (§5.1) and the
 * exchange lets go of the socket at END_REQUEST (its listeners removed) so the pool can send the next request on
 * it; `finished` then says whether the connection is clean enough to reuse. Streams the request body as
 * FCGI_STDIN with backpressure in both directions, so a 100 MB upload or download never sits in memory.
 */
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { createLineSplitter } from '../line-splitter.js';
import {
  decodeEndRequest, encodeRecord, encodeRequestHead, FCGI_KEEP_CONN, MAX_CONTENT_LENGTH,
  RecordParser, RecordType,
} from './records.js';

/** One request at a time per connection, so its id is always 1 (0 is reserved for management records, §3.3). */
const REQUEST_ID = 1;

export interface FastCgiRequestOptions {
  /** Ask the application to keep the connection open after this request (FCGI_KEEP_CONN). */
  readonly keepConn: boolean;
  /** Where FCGI_STDOUT goes (ended at END_REQUEST); a new stream when absent. Saves the caller a pipe hop. */
  readonly stdout?: PassThrough;
}

export interface FastCgiResult {
  readonly appStatus: number | null;
  /**
   * True when END_REQUEST arrived on an open connection with the whole request body sent: the application
   * then waits for the next BEGIN_REQUEST on it. False after an error, an early close, or a body cut short
   * (php-cgi would read its leftover STDIN records as a malformed next request and drop the connection).
   */
  readonly connectionReusable: boolean;
}

export interface FastCgiExchange {
  readonly stdout: Readable;
  /** Settles when END_REQUEST arrives or the connection ends; never rejects. */
  readonly finished: Promise<FastCgiResult>;
  /**
   * True from the moment the last piece of the script's output is written to `stdout`: END_REQUEST came in the
   * same socket read, so a reader handling that piece knows nothing follows (executor.ts outputComplete).
   */
  outputComplete(): boolean;
}

export function startFastCgiRequest(socket: Socket, params: Readonly<Record<string, string>>,
  body: Readable | null, onStderr: (line: string) => void,
  options: FastCgiRequestOptions = { keepConn: false }): FastCgiExchange {
  const stdout = options.stdout ?? new PassThrough();
  const stderr = createLineSplitter(onStderr);
  let appStatus: number | null = null;
  let ended = false;
  let bodySent = body === null;
  let settle: (result: FastCgiResult) => void = () => undefined;
  const finished = new Promise<FastCgiResult>((resolve) => { settle = resolve; });

  const detach = (): void => {
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('close', onClose);
    if (body !== null) {
      body.off('data', onBodyData);
      body.off('end', onBodyEnd);
    }
  };

  // The STDOUT of one socket read, handed on as one chunk after the read is parsed: php-cgi sends a small page and
  // its END_REQUEST in one write, so the reader then gets the whole output in one piece and knows it is whole.
  const batch: Buffer[] = [];
  let complete = false;
  const parser = new RecordParser((record) => {
    if (record.requestId !== REQUEST_ID || ended) return;
    switch (record.type) {
      case RecordType.stdout:
        // The content is a view of a buffer made for this socket read (or the parser's own concat), never reused
        // by Node, so it is passed on without a copy.
        if (record.content.length > 0) batch.push(record.content);
        break;
      case RecordType.stderr:
        stderr.push(record.content);
        break;
      case RecordType.endRequest:
        appStatus = decodeEndRequest(record.content).appStatus;
        ended = true;
        break;
      default:
        onStderr(`unexpected FastCGI record type ${record.type}`);
    }
  });

  function writeBatch(): void {
    if (batch.length === 0) return;
    const chunk = batch.length === 1 ? batch[0] as Buffer : Buffer.concat(batch);
    batch.length = 0;
    if (!stdout.write(chunk) && !ended) {
      // Response backpressure: stop reading the socket until the HTTP side drained.
      socket.pause();
      stdout.once('drain', () => socket.resume());
    }
  }

  function endRequest(): void {
    detach();
    stderr.end();
    stdout.end();
    const reusable = options.keepConn && bodySent && !socket.destroyed;
    if (body !== null && !bodySent) body.resume();
    settle({ appStatus, connectionReusable: reusable });
  }

  function onData(chunk: Buffer): void {
    let failure: Error | null = null;
    try {
      parser.push(chunk);
    } catch (err) {
      failure = err instanceof Error ? err : new Error(String(err));
    }
    // A malformed record: the connection is not trusted any more; its 'error' ends the output unless END_REQUEST
    // came first (then the request ends below, on a connection not reused).
    if (failure !== null) socket.destroy(failure);
    complete = ended;
    writeBatch();
    if (ended) endRequest();
  }
  function onError(err: Error): void {
    if (!ended) stdout.destroy(err);
  }
  function onClose(): void {
    detach();
    stderr.end();
    if (!ended) {
      ended = true;
      if (!stdout.destroyed && !stdout.writableEnded) stdout.end();
    }
    body?.unpipe();
    settle({ appStatus, connectionReusable: false });
  }
  function onBodyData(chunk: Buffer): void {
    if (socket.destroyed || body === null) return;
    let ok = true;
    for (let offset = 0; offset < chunk.length; offset += MAX_CONTENT_LENGTH) {
      ok = socket.write(encodeRecord(RecordType.stdin, REQUEST_ID, chunk.subarray(offset, offset + MAX_CONTENT_LENGTH)));
    }
    if (!ok) {
      // Request backpressure: the script reads slower than the client sends.
      body.pause();
      socket.once('drain', () => body.resume());
    }
  }
  function onBodyEnd(): void {
    if (socket.destroyed) return;
    socket.write(encodeRecord(RecordType.stdin, REQUEST_ID));
    bodySent = true;
  }

  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('close', onClose);
  // A previous exchange on this connection may have paused it for backpressure; an explicitly paused socket
  // does not start flowing again when a 'data' listener is added (stream.Readable docs).
  socket.resume();

  // One write for the whole request head (and the empty STDIN when there is no body): php-cgi then finds the
  // complete request in a single read instead of waking up per record.
  socket.write(encodeRequestHead(REQUEST_ID, options.keepConn ? FCGI_KEEP_CONN : 0, params, body === null));
  if (body !== null) {
    body.on('data', onBodyData);
    body.on('end', onBodyEnd);
  }
  return { stdout, finished, outputComplete: () => complete };
}

/**
 * Closes a request's connection once what was written to it has reached the kernel, as nginx closes an upstream
 * connection whose client left (fastcgi_ignore_client_abort off): a request already written is still read and run
 * by the application (php-fpm and php-cgi take it from the socket buffer), whose next write then fails.
 */
export function hangUp(socket: Socket): void {
  socket.end(() => socket.destroy());
}
