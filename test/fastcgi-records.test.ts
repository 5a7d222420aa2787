/**
 * FastCGI name-value pairs (FastCGI spec §3.4), a parser unit test: lengths below 128 take one byte, longer ones
 * four bytes with the high bit set. Encoded and decoded back, table-driven over the length boundaries.
 */
import { describe, expect, test } from 'vitest';
import { decodeParams, encodeParams } from '../devserver/cgi/fastcgi/records.js';

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
