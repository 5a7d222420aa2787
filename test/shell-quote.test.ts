import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { shellPathOperand, shellQuote } from '../fs/shell-quote.js';

const run = promisify(execFile);

// One shellQuote serves what were two (the bulk listings' and the remote watcher's): the same text for every
// word, the empty word included, and a real sh(1) reads each back as the word it was given.
const WORDS: ReadonlyArray<readonly [word: string, quoted: string]> = [
  ['', "''"],
  ['plain', "'plain'"],
  ["it's", "'it'\\''s'"],
  ["''", "''\\'''\\'''"],
  ['$HOME `id` $(id) "x" \\n *', "'$HOME `id` $(id) \"x\" \\n *'"],
  ["$& $1 $$ $'", "'$& $1 $$ $'\\'''"],
  ['new\nline\ttab', "'new\nline\ttab'"],
  ['fünke ☃/-dash', "'fünke ☃/-dash'"],
  ['-n', "'-n'"],
  ['.', "'.'"],
];

describe('shellQuote', () => {
  for (const [word, quoted] of WORDS) {
    it(`quotes ${JSON.stringify(word)} as ${JSON.stringify(quoted)}, which sh reads back unchanged`, async () => {
      expect(shellQuote(word)).toBe(quoted);
      const { stdout } = await run('sh', ['-c', `printf '%s|' ${shellQuote(word)}`]);
      expect(stdout).toBe(`${word}|`);
    });
  }

  it('gives sh one argument per word, an empty one included', async () => {
    const words = ['', 'a b', "it's", ''];
    const { stdout } = await run('sh', ['-c', `printf '[%s]' ${words.map(shellQuote).join(' ')}`]);
    expect(stdout).toBe('[][a b][it\'s][]');
  });
});

// The empty path and a leading dash are in bulk-find-parser.test.ts; here what must pass through as it is.
describe('shellPathOperand', () => {
  for (const path of ['a/-b', "/srv/it's", '/-x', 'rel/dir']) {
    it(`leaves ${JSON.stringify(path)} as it is, only quoted`, () => {
      expect(shellPathOperand(path)).toBe(shellQuote(path));
    });
  }
});
