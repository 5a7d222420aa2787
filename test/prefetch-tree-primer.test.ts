/**
 * TreePrimer (fs/prefetch/tree-primer.ts): find's pre-order stream → one complete listing per directory,
 * handed over as soon as the stream leaves the directory; empty directories only once find reported no
 * problem with them; nothing from a stream that stopped early.
 */
import { describe, expect, test } from 'vitest';
import type { TreeEntry } from '../fs/bulk/index.js';
import { TreePrimer } from '../fs/prefetch/index.js';

function entry(path: string, type: TreeEntry['type'] = 'file'): TreeEntry {
  return { path, type, mode: 0o644, size: 3, mtimeMs: 1_700_000_000_500, uid: 0, gid: 0, ...(type === 'symlink' ? { linkTarget: 'x' } : {}) };
}

function run(entries: TreeEntry[], finish: (p: TreePrimer) => void): Array<[string, string[]]> {
  const primed: Array<[string, string[]]> = [];
  const primer = new TreePrimer((rel, list) => primed.push([rel, list.map((e) => e.name)]));
  for (const e of entries) primer.push(e);
  finish(primer);
  return primed;
}

const TREE = [
  entry('', 'dir'), entry('a', 'dir'), entry('a/x'), entry('a/b', 'dir'), entry('a/b/deep'), entry('a/y'),
  entry('-dash', 'dir'), entry('new\nline'), entry('link', 'symlink'), entry('locked', 'dir'),
];

describe('TreePrimer', () => {
  test('each directory is primed when the stream leaves it, with its own entries only', () => {
    const primed = run(TREE, (p) => p.end([]));
    expect(primed).toEqual([
      ['a/b', ['deep']],
      ['a', ['x', 'b', 'y']],
      ['', ['a', '-dash', 'new\nline', 'link', 'locked']],
      ['-dash', []],
      ['locked', []],
    ]);
  });

  test('names come through unchanged, also those that look special as property keys, and long ones', () => {
    const names = ['__proto__', 'constructor', '123', '4294967295', '0', 'a-rather-long-file-name-of-a-real-site.min.css', 'fünke ✓.txt'];
    const primed = run([entry('', 'dir'), entry('d', 'dir'), ...names.map((n) => entry(`d/${n}`))], (p) => p.end([]));
    expect(primed).toEqual([['d', names], ['', ['d']]]);
  });

  test('an empty directory find could not read is not primed as empty', () => {
    const primed = run(TREE, (p) => p.end([{ path: 'locked', message: 'Permission denied' }]));
    expect(primed.map(([rel]) => rel)).toEqual(['a/b', 'a', '', '-dash']);
  });

  test('a stream that stopped early primes only the directories it had left', () => {
    const primed = run(TREE.slice(0, 7), (p) => p.abandon());
    expect(primed.map(([rel]) => rel)).toEqual(['a/b', 'a']);
  });

  test('attributes carry the type bits and whole-second mtimes that SFTP replies have', () => {
    const lists: Array<readonly { name: string; attr: { mode: number; mtimeMs: number } }[]> = [];
    const primer = new TreePrimer((_rel, list) => lists.push(list));
    for (const e of [entry('', 'dir'), entry('f'), entry('l', 'symlink'), entry('d', 'dir')]) primer.push(e);
    primer.end([]);
    const root = lists.find((l) => l.length === 3);
    expect(root?.map((e) => [e.name, e.attr.mode.toString(8), e.attr.mtimeMs])).toEqual([
      ['f', '100644', 1_700_000_000_000], ['l', '120644', 1_700_000_000_000], ['d', '40644', 1_700_000_000_000],
    ]);
  });

  test('a directory holding a fifo or device is left to READDIR', () => {
    const primed = run([entry('', 'dir'), entry('p', 'other'), entry('d', 'dir'), entry('d/f')], (p) => p.end([]));
    expect(primed).toEqual([['d', ['f']]]);
  });
});
