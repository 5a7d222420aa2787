import { describe, expect, it } from 'vitest';
import { FindOutputError, FindParser, parseFindTime } from '../fs/bulk/find-parser.js';
import { findCommand, problemsFrom } from '../fs/bulk/find-listing.js';
import { shellPathOperand, shellQuote } from '../fs/shell-quote.js';
import type { TreeEntry } from '../fs/bulk/types.js';

function record(fields: string[]): Buffer {
  return Buffer.from(fields.map((f) => `${f}\0`).join(''), 'utf8');
}

const RECORDS = [
  ['', 'd', '755', '4096', '1700000000.5000000000', '0', '0', ''],
  ['with space.txt', 'f', '644', '12', '1700000001.1234567890', '1000', '1000', ''],
  ['new\nline', 'f', '600', '0', '1700000002.0000000000', '0', '0', ''],
  ['fünke ☃/-dash', 'l', '777', '7', '1700000003.9990000000', '0', '0', 'target with space'],
  ['sticky', 'd', '1777', '4096', '1700000004', '0', '0', ''],
];

function parseAll(chunks: Buffer[]): TreeEntry[] {
  const out: TreeEntry[] = [];
  const parser = new FindParser((e) => out.push(e));
  for (const c of chunks) parser.push(c);
  parser.end();
  return out;
}

describe('find -printf parser', () => {
  const whole = Buffer.concat(RECORDS.map(record));
  const expected = parseAll([whole]);

  it('parses every field of odd names', () => {
    expect(expected).toEqual([
      { path: '', type: 'dir', mode: 0o755, size: 4096, mtimeMs: 1700000000500, uid: 0, gid: 0 },
      { path: 'with space.txt', type: 'file', mode: 0o644, size: 12, mtimeMs: 1700000001123, uid: 1000, gid: 1000 },
      { path: 'new\nline', type: 'file', mode: 0o600, size: 0, mtimeMs: 1700000002000, uid: 0, gid: 0 },
      { path: 'fünke ☃/-dash', type: 'symlink', mode: 0o777, size: 7, mtimeMs: 1700000003999, uid: 0, gid: 0, linkTarget: 'target with space' },
      { path: 'sticky', type: 'dir', mode: 0o1777, size: 4096, mtimeMs: 1700000004000, uid: 0, gid: 0 },
    ]);
  });

  it('gives the same result however the stream is split (every split point, including inside UTF-8 sequences)', () => {
    for (let cut = 1; cut < whole.length; cut += 1) {
      expect(parseAll([whole.subarray(0, cut), whole.subarray(cut)])).toEqual(expected);
    }
    expect(parseAll([...whole].map((b) => Buffer.from([b])))).toEqual(expected);
  });

  it('rejects a stream cut inside a record, and garbage fields', () => {
    expect(() => parseAll([whole.subarray(0, whole.length - 3)])).toThrow(FindOutputError);
    expect(() => parseAll([record(['x', 'f', 'rw-', '1', '1.0', '0', '0', ''])])).toThrow(/bad mode/);
    expect(() => parseAll([record(['x', 'Z', '644', '1', '1.0', '0', '0', ''])])).toThrow(/bad type/);
  });

  it('converts find times to integer milliseconds without float rounding', () => {
    expect(parseFindTime('1700000000.0010000000')).toBe(1700000000001);
    expect(parseFindTime('1700000000.9999999999')).toBe(1700000000999);
    expect(parseFindTime('1700000000')).toBe(1700000000000);
    expect(() => parseFindTime('soon')).toThrow(FindOutputError);
  });
});

describe('shell quoting', () => {
  it('quotes quotes, and protects operands starting with a dash', () => {
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellPathOperand('-rf')).toBe("'./-rf'");
    expect(shellPathOperand('')).toBe("'.'");
    expect(shellPathOperand('/var/www')).toBe("'/var/www'");
    expect(findCommand("/srv/it's here")).toContain("'/srv/it'\\''s here'");
  });
});

describe('find diagnostics', () => {
  it('turns "find: \'DIR/x\': reason" lines into problems with paths relative to the root', () => {
    const stderr = "find: '/srv/site/private': Permission denied\nfind: '/srv/site/a b/c': No such file or directory\nsomething else\n";
    expect(problemsFrom(stderr, '/srv/site')).toEqual([
      { path: 'private', message: 'Permission denied' },
      { path: 'a b/c', message: 'No such file or directory' },
      { path: '', message: 'something else' },
    ]);
    expect(problemsFrom("find: './-x/y': Permission denied\n", '-x')).toEqual([{ path: 'y', message: 'Permission denied' }]);
  });
});
