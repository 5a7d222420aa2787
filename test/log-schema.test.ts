/**
 * The log contract: schema/log-record.schema.json and the field table of docs/logging.md name the same fields;
 * records every kind of devmount logger writes validate against the schema (and broken ones do not); the
 * rotating log file stays within its bound; `devmount logs`'s filter reads records as documented.
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createMountLogger } from '../cli/mount-logger.js';
import { openRotatingLogFile } from '../cli/logs/rotating-file.js';
import { matchLine, resolveLogFilter } from '../cli/logs/query.js';
import { openUpLog } from '../cli/up/log.js';
import { prettyLine } from '../devserver/logger.js';
import { logSchema, recordLines, schemaErrors } from './helpers/log-schema.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'devmount-logschema-')); });
afterAll(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

describe('docs/logging.md and the schema', () => {
  test('name the same fields', async () => {
    const doc = await readFile(new URL('../docs/logging.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Fields'));
    const documented = [...section.matchAll(/^\| `([A-Za-z]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(logSchema.properties).sort());
  });

  const valid: ReadonlyArray<readonly [string, object]> = [
    ['an access line', { level: 30, time: '2026-12-07T18:01:02.345Z', reqId: 'ab12cd34-1', method: 'GET', path: '/', status: 200, bytes: 5, durationMs: 0.4, msg: 'request' }],
    ['a 404 access line', { level: 30, time: '2026-12-07T18:01:02.345Z', reqId: 'x', method: 'GET', path: '/a', status: 404, bytes: 14, durationMs: 1, lookup: '/a', errno: 'ENOENT', msg: 'request' }],
    ['a remote operation', { level: 20, time: '2026-12-07T18:01:02.345Z', layer: 'sftp', reqId: 'x', op: 'read', path: '/a', position: 0, length: 10, ms: 1.2, msg: 'remote operation' }],
    ['a mount operation that failed', { level: 20, time: '2026-12-07T18:01:02.345Z', pid: 7, layer: 'sftp', op: 'lstat', path: '/a', errno: 'EACCES', sftpStatus: 3, msg: 'remote operation failed' }],
  ];
  for (const [what, record] of valid) {
    test(`accept ${what}`, () => expect(schemaErrors(JSON.stringify(record))).toBe(''));
  }
  const invalid: ReadonlyArray<readonly [string, object]> = [
    ['a record without time', { level: 30, msg: 'x' }],
    ['an epoch-number time', { level: 30, time: 1765130462345, msg: 'x' }],
    ['an access line without reqId', { level: 30, time: '2026-12-07T18:01:02.345Z', method: 'GET', path: '/', status: 200, bytes: 5, durationMs: 1, msg: 'request' }],
    ['an errno that is not an error name', { level: 30, time: '2026-12-07T18:01:02.345Z', reqId: 'x', method: 'GET', path: '/a', status: 404, bytes: 1, durationMs: 1, lookup: '/a', errno: 'no such file', msg: 'request' }],
    ['a remote operation without reqId', { level: 20, time: '2026-12-07T18:01:02.345Z', op: 'read', path: '/a', ms: 1, msg: 'remote operation' }],
    ['a failed operation without errno', { level: 20, time: '2026-12-07T18:01:02.345Z', op: 'read', path: '/a', msg: 'remote operation failed' }],
    ['script stderr without reqId', { level: 40, time: '2026-12-07T18:01:02.345Z', script: '/a.php', stderr: 'x', msg: 'script stderr' }],
  ];
  for (const [what, record] of invalid) {
    test(`refuse ${what}`, () => expect(schemaErrors(JSON.stringify(record))).not.toBe(''));
  }
});

describe('every devmount logger writes records of the schema', () => {
  test('the mount logger (JSON, as a daemon writes its file)', async () => {
    let text = '';
    const sink = new Writable({ write(chunk: Buffer, _e, done) { text += chunk.toString(); done(); } });
    const log = createMountLogger({ format: 'json', debug: true, destination: sink });
    log.child({ layer: 'sftp' }).debug({ op: 'open', path: '/x', errno: 'ENOENT', sftpStatus: 2 }, 'remote operation failed');
    log.info({ remote: 'h:/p', mountpoint: '/mnt' }, 'mounted');
    await new Promise((r) => setImmediate(r));
    expect(recordLines(text)).toHaveLength(2);
    expect(recordLines(text).map(schemaErrors).filter(Boolean)).toEqual([]);
  });

  test('the up log', async () => {
    const log = await openUpLog('up', { XDG_STATE_HOME: dir, HOME: dir });
    log.logger.info({ mount: 'site' }, 'mounted');
    await log.close();
    const lines = recordLines(await readFile(log.path, 'utf8'));
    expect(lines).toHaveLength(1);
    expect(lines.map(schemaErrors).filter(Boolean)).toEqual([]);
  });
});

describe('the rotating log file', () => {
  test('rotates past its size into .1 and .2, keeps at most `files` files, loses no line', async () => {
    const file = path.join(dir, 'rot.log');
    const log = await openRotatingLogFile(file, { maxBytes: 1000, files: 3 });
    const line = (i: number) => `${JSON.stringify({ i, pad: 'x'.repeat(80) })}\n`;
    for (let i = 0; i < 40; i++) log.write(line(i));
    await log.close();
    const names = (await readdir(dir)).filter((n) => n.startsWith('rot.log')).sort();
    expect(names).toEqual(['rot.log', 'rot.log.1', 'rot.log.2']);
    for (const name of names) expect((await stat(path.join(dir, name))).size).toBeLessThanOrEqual(1000);
    // The newest lines are all there, in order, across the files (oldest first: .2, .1, current).
    const kept = (await Promise.all(['rot.log.2', 'rot.log.1', 'rot.log'].map((n) => readFile(path.join(dir, n), 'utf8')))).join('');
    const numbers = kept.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
    expect(numbers).toEqual(Array.from({ length: numbers.length }, (_, k) => 40 - numbers.length + k));
  });
});

describe('devmount logs: filter and format', () => {
  const now = Date.parse('2026-12-07T18:10:00.000Z');
  const rec = (fields: object) => JSON.stringify({ level: 30, time: '2026-12-07T18:05:00.000Z', msg: 'x', ...fields });

  test('--since takes an age or a time; --level a name; --req an id', () => {
    expect(resolveLogFilter({ since: '10m' }, now).sinceMs).toBe(now - 600_000);
    expect(resolveLogFilter({ since: '2026-12-07T18:00:00Z' }, now).sinceMs).toBe(Date.parse('2026-12-07T18:00:00Z'));
    expect(resolveLogFilter({ level: 'WARN' }, now).minLevel).toBe(40);
    expect(resolveLogFilter({ req: 'ab-1' }, now).reqId).toBe('ab-1');
  });

  test('a line passes when it is a record newer than --since, at --level or above, of --req', () => {
    const filter = resolveLogFilter({ since: '10m', level: 'info', req: 'r1' }, now);
    expect(matchLine(rec({ reqId: 'r1' }), filter)?.timeMs).toBe(Date.parse('2026-12-07T18:05:00.000Z'));
    expect(matchLine(rec({ reqId: 'r2' }), filter)).toBeNull();
    expect(matchLine(rec({ reqId: 'r1', level: 20 }), filter)).toBeNull();
    expect(matchLine(rec({ reqId: 'r1', time: '2026-12-07T17:00:00.000Z' }), filter)).toBeNull();
    expect(matchLine('devmount serve: /site (watching for changes)', filter)).toBeNull();
    expect(matchLine('{"level":30,"time":"2026-12-07T18:0', filter)).toBeNull();
  });

  test('on a terminal a record is one line: an access line as serve prints it, with its errno', () => {
    const plain = prettyLine(rec({ reqId: 'r1', method: 'GET', path: '/a', status: 404, bytes: 14, durationMs: 1.25, errno: 'ENOENT', msg: 'request' }), false);
    expect(plain).toBe('18:05:00 404 GET /a 14 B 1.3 ms ENOENT r1');
    expect(prettyLine(rec({ level: 20, reqId: 'r1', op: 'read', msg: 'remote operation' }), false))
      .toBe('18:05:00 debug remote operation {"reqId":"r1","op":"read"}');
  });
});
