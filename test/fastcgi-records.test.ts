/**
 * FastCGI name-value pairs (FastCGI spec §3.4), a parser unit test: lengths below 128 take one byte, longer ones
 * four bytes with the high bit set. Encoded and decoded back, table-driven over the length boundaries.
 */
import { describe, expect, test } from 'vitest';
import { decodeParams, encodeParams, encodeRequestHead, FCGI_KEEP_CONN, RecordParser, RecordType } from '../devserver/cgi/fastcgi/records.js';

describe('FastCGI params', () => {
  test.each([
    ['empty value', { QUERY_STRING: '' }],
    ['127 bytes, the longest one-byte length', { V: 'x'.repeat(127) }],
    ['128 bytes, the shortest four-byte length', { V: 'y'.repeat(128) }],
    ['a name of 200 bytes', { ['N'.repeat(200)]: 'v' }],
    ['70,000 bytes, longer than one record', { HTTP_COOKIE: 'c'.repeat(70_000) }],
    ['latin1 bytes above 127', { REQUEST_URI: '/caf\u00e9', HTTP_X: '\u00ff\u0080' }],
    ['many variables in order', Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`VAR_${i}`, `value ${i}`]))],
  ])('%s', (_what, params: Record<string, string>) => {
    const encoded = encodeParams(params);
    expect(decodeParams(encoded)).toEqual(params);
    expect(Object.keys(decodeParams(encoded))).toEqual(Object.keys(params));
  });

  test('the wire bytes of a short and a long pair', () => {
    const long = 'z'.repeat(300);
    expect([...encodeParams({ AB: 'c' })]).toEqual([2, 1, 0x41, 0x42, 0x63]);
    expect([...encodeParams({ L: long }).subarray(0, 6)]).toEqual([1, 0x80, 0, 0x01, 0x2c, 0x4c]);
  });
});

describe('the records that open a request', () => {
  // Reads records back with the same parser the client uses for replies.
  const recordsOf = (head: Buffer): Array<{ type: number; requestId: number; content: Buffer }> => {
    const records: Array<{ type: number; requestId: number; content: Buffer }> = [];
    new RecordParser((r) => records.push(r)).push(head);
    return records;
  };

  test.each([
    ['a GET: its empty STDIN included', { QUERY_STRING: 'a=1', REQUEST_METHOD: 'GET' }, true],
    ['a POST: STDIN left to the body', { REQUEST_METHOD: 'POST', CONTENT_LENGTH: '3' }, false],
    ['params longer than one record', { HTTP_COOKIE: 'k'.repeat(100_000) }, true],
  ])('%s', (_what, params: Record<string, string>, endStdin) => {
    const head = encodeRequestHead(1, FCGI_KEEP_CONN, params, endStdin);
    const records = recordsOf(head);
    const types = records.map((r) => r.type);
    const paramRecords = records.filter((r) => r.type === RecordType.params);
    expect(types[0]).toBe(RecordType.beginRequest);
    expect([...(records[0]?.content ?? [])]).toEqual([0, 1, FCGI_KEEP_CONN, 0, 0, 0, 0, 0]);
    expect(paramRecords.at(-1)?.content.length).toBe(0);
    expect(decodeParams(Buffer.concat(paramRecords.map((r) => r.content)))).toEqual(params);
    expect(types.at(-1)).toBe(endStdin ? RecordType.stdin : RecordType.params);
    expect(records.every((r) => r.requestId === 1 && r.content.length <= 0xffff)).toBe(true);
    // Every record is padded to a multiple of 8 bytes (§3.3).
    expect(head.length % 8).toBe(0);
  });
});
