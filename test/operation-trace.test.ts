/**
 * fs/trace.ts with the dev server's request scope (devserver/request-scope.ts): an operation is logged with the
 * id of the request whose async call chain started it — across awaits, timers and stream reads — and with its
 * duration; without a caller only failures are logged, with errno and SFTP status.
 */
import { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect, test } from 'vitest';
import { FsError } from '../fs/errors.js';
import { createOperationTracer } from '../fs/trace.js';
import { createRequestScope } from '../devserver/request-scope.js';

function recordingLog(): { log: { debug(obj: object, msg: string): void }; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  return { log: { debug: (obj, msg) => lines.push({ ...obj, msg }) }, lines };
}

describe('operation tracer', () => {
  test('an operation inside a request is logged with its id, path and duration', async () => {
    const scope = createRequestScope();
    const { log, lines } = recordingLog();
    const tracer = createOperationTracer(scope, log);
    const value = await scope.run('req-1', async () => {
      await delay(1);
      return tracer.time('open', '/a.html', async () => 'handle');
    });
    expect(value).toBe('handle');
    expect(lines).toEqual([{ reqId: 'req-1', op: 'open', path: '/a.html', ms: expect.any(Number), msg: 'remote operation' }]);
  });

  test('two requests at once: each operation is logged under its own request', async () => {
    const scope = createRequestScope();
    const { log, lines } = recordingLog();
    const tracer = createOperationTracer(scope, log);
    const request = (id: string, path: string, waitMs: number) => scope.run(id, async () => {
      await delay(waitMs);
      // A stream consumed within the request carries its id into the reads it triggers.
      const chunks = Readable.from((async function* () { yield await tracer.time('read', path, async () => Buffer.from(path)); })());
      for await (const chunk of chunks) expect(String(chunk)).toBe(path);
    });
    await Promise.all([request('req-a', '/a', 5), request('req-b', '/b', 1)]);
    expect(lines.map((l) => `${String(l.reqId)} ${String(l.path)}`).sort()).toEqual(['req-a /a', 'req-b /b']);
  });

  test('without a caller a success is not logged; a failure is, with errno and the SFTP status', async () => {
    const scope = createRequestScope();
    const { log, lines } = recordingLog();
    const tracer = createOperationTracer(scope, log);
    await tracer.time('lstat', '/ok', async () => 1);
    await expect(tracer.time('rmdir', '/full', async () => {
      throw new FsError('ENOTEMPTY', 'ENOTEMPTY: rmdir /full', '/full', 4);
    })).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    expect(lines).toEqual([{ op: 'rmdir', path: '/full', errno: 'ENOTEMPTY', sftpStatus: 4, msg: 'remote operation failed' }]);
  });

  test('a failure inside a request carries the id, the duration and the errno', async () => {
    const scope = createRequestScope();
    const { log, lines } = recordingLog();
    const tracer = createOperationTracer(scope, log);
    await scope.run('req-2', () => expect(tracer.time('stat', '/gone', async () => {
      throw new FsError('ENOENT', undefined, '/gone', 2);
    })).rejects.toBeInstanceOf(FsError));
    expect(lines).toEqual([{ reqId: 'req-2', op: 'stat', path: '/gone', ms: expect.any(Number), errno: 'ENOENT', sftpStatus: 2, msg: 'remote operation failed' }]);
  });
});
