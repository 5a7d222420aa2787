/**
 * One FastCGI request over one connection (the application closes it at the end: no FCGI_KEEP_CONN).
 * Streams the request body as FCGI_STDIN with backpressure in both directions, so a 100 MB upload or
 * download never sits in memory.
 */
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { createLineSplitter } from '../line-splitter.js';
import {
  decodeEndRequest, encodeBeginRequest, encodeParams, encodeRecord, encodeStream, MAX_CONTENT_LENGTH,
  RecordParser, RecordType,
} from './records.js';

/** We send one request per connection, so its id is always 1 (0 is reserved for management records, §3.3). */
const REQUEST_ID = 1;

export interface FastCgiExchange {
  readonly stdout: Readable;
  /** Settles with the application status when END_REQUEST arrives or the connection ends. */
  readonly finished: Promise<{ appStatus: number | null }>;
}

export function startFastCgiRequest(socket: Socket, params: Readonly<Record<string, string>>,
  body: Readable | null, onStderr: (line: string) => void): FastCgiExchange {
  const stdout = new PassThrough();
  const stderr = createLineSplitter(onStderr);
  let appStatus: number | null = null;
  let ended = false;

  const parser = new RecordParser((record) => {
    if (record.requestId !== REQUEST_ID) return;
    switch (record.type) {
      case RecordType.stdout:
        if (record.content.length > 0 && !stdout.write(Buffer.from(record.content))) {
          // Response backpressure: stop reading the socket until the HTTP side drained.
          socket.pause();
          stdout.once('drain', () => socket.resume());
        }
        break;
      case RecordType.stderr:
        stderr.push(Buffer.from(record.content));
        break;
      case RecordType.endRequest:
        appStatus = decodeEndRequest(record.content).appStatus;
        ended = true;
        stdout.end();
        break;
      default:
        onStderr(`unexpected FastCGI record type ${record.type}`);
    }
  });

  const finished = new Promise<{ appStatus: number | null }>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (err) {
        socket.destroy(err instanceof Error ? err : new Error(String(err)));
      }
    });
    socket.on('error', (err) => {
      if (!ended) stdout.destroy(err);
    });
    socket.on('close', () => {
      stderr.end();
      if (!ended) {
        ended = true;
        if (!stdout.destroyed) stdout.end();
      }
      body?.unpipe();
      resolve({ appStatus });
    });
  });

  // One write for the whole request head (and the empty STDIN when there is no body): php-cgi then finds the
  // complete request in a single read instead of waking up per record.
  const head = [encodeBeginRequest(REQUEST_ID), ...encodeStream(RecordType.params, REQUEST_ID, encodeParams(params)),
    encodeRecord(RecordType.params, REQUEST_ID)];
  if (body === null) {
    socket.write(Buffer.concat([...head, encodeRecord(RecordType.stdin, REQUEST_ID)]));
  } else {
    socket.write(Buffer.concat(head));
    body.on('data', (chunk: Buffer) => {
      if (socket.destroyed) return;
      let ok = true;
      for (let offset = 0; offset < chunk.length; offset += MAX_CONTENT_LENGTH) {
        ok = socket.write(encodeRecord(RecordType.stdin, REQUEST_ID, chunk.subarray(offset, offset + MAX_CONTENT_LENGTH)));
      }
      if (!ok) {
        // Request backpressure: the script reads slower than the client sends.
        body.pause();
        socket.once('drain', () => body.resume());
      }
    });
    body.on('end', () => {
      if (!socket.destroyed) socket.write(encodeRecord(RecordType.stdin, REQUEST_ID));
    });
  }
  return { stdout, finished };
}
