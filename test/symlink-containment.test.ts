/** The containment rule (fs/symlink-containment.ts), table-driven: which targets escape, and transform_symlinks. */
import { describe, expect, test } from 'vitest';
import { answerReadlink, judgeTarget, transformTarget, type SymlinkPolicy } from '../fs/symlink-containment.js';

// [link path from the mount root, target, stays inside?]
const judged: Array<[string, string, boolean]> = [
  ['/abs', '/etc/passwd', false],
  ['/sub/abs', '/', false],
  ['/up', '..', false],
  ['/up2', '../..', false],
  ['/sub/up', '..', false], // the mount root itself
  ['/a/b/c/up', '../../..', false], // the mount root, from three levels down
  ['/dot', '.', false],
  ['/dot2', './', false],
  ['/empty', '', false],
  ['/esc1', '../etc/passwd', false],
  ['/sub/esc2', '../../etc/passwd', false],
  ['/a/b/esc3', '../../../etc/passwd', false],
  ['/a/b/c/esc4', '../../../../../../etc/passwd', false],
  ['/mid', 'sub/../../etc/passwd', false],
  ['/sub/mid', 'x/../y', false], // x may be a link on the server
  ['/sub/mid2', './../x/../y', false],
  ['/sub/deep', '../sub/..', false],
  ['/file', 'target.txt', true],
  ['/sub/file', 'nested/target.txt', true],
  ['/sub/sibling', '../top.txt', true],
  ['/a/b/c/sib', '../../../top.txt', true],
  ['/a/b/c/sib2', '../../x/y', true],
  ['/sub/dotted', './file.txt', true],
  ['/sub/slashes', 'x//y/', true],
  ['/chain', 'chain2', true], // each link of a chain is judged when the kernel reaches it
];

describe('judgeTarget', () => {
  for (const [link, target, inside] of judged) {
    test(`${link} -> ${JSON.stringify(target)}: ${inside ? 'inside' : 'escapes'}`, () => {
      const verdict = judgeTarget(link, target);
      expect(verdict.inside).toBe(inside);
      expect(verdict.target).toBe(target);
      if (!verdict.inside) expect(verdict.why.length).toBeGreaterThan(0);
    });
  }
});

// [remote root, link path, target, transformed] — sshfs.c transform_symlink's cases, without its trailing '/'.
const transformed: Array<[string, string, string, string]> = [
  ['/srv/share', '/link', '/srv/share/a/file', 'a/file'],
  ['/srv/share', '/sub/a/link', '/srv/share/sub/b/file', '../b/file'],
  ['/srv/share', '/x/y/link', '/srv/share/z', '../../z'],
  ['/srv/share', '/sub/link', '/srv/share', '..'],
  ['/srv/share', '/sub/link', '/srv/share/sub', '.'],
  ['/srv/share', '/link', '/srv/shared/file', '/srv/shared/file'], // a sibling directory is not inside
  ['/srv/share', '/link', '/etc/passwd', '/etc/passwd'],
  ['/srv/share', '/link', 'relative/stays', 'relative/stays'],
  ['/srv//share/', '/link', '/srv/share//a', 'a'],
  ['/', '/sub/link', '/etc/passwd', '../etc/passwd'],
];

describe('transformTarget', () => {
  for (const [root, link, target, expected] of transformed) {
    test(`${root}: ${link} -> ${target} becomes ${expected}`, () => {
      expect(transformTarget(root, link, target)).toBe(expected);
    });
  }
});

const policies: Record<string, SymlinkPolicy> = {
  contain: { contain: true, transform: false, remoteRoot: '/srv/share' },
  open: { contain: false, transform: false, remoteRoot: '/srv/share' },
  transform: { contain: true, transform: true, remoteRoot: '/srv/share' },
  transformOpen: { contain: false, transform: true, remoteRoot: '/srv/share' },
};

// [policy, link, server target, answered target or null when refused]
const answered: Array<[keyof typeof policies, string, string, string | null]> = [
  ['contain', '/abs', '/etc/passwd', null],
  ['contain', '/inroot', '/srv/share/a', null], // absolute, even inside the root: only transform_symlinks helps
  ['contain', '/sub/ok', '../a', '../a'],
  ['open', '/abs', '/etc/passwd', '/etc/passwd'],
  ['open', '/up', '..', '..'],
  ['transform', '/sub/inroot', '/srv/share/a', '../a'],
  ['transform', '/sub/root', '/srv/share', null], // becomes '..': the mount root, refused
  ['transform', '/abs', '/etc/passwd', null],
  ['transformOpen', '/sub/root', '/srv/share', '..'],
  ['transformOpen', '/abs', '/etc/passwd', '/etc/passwd'],
];

describe('answerReadlink', () => {
  for (const [policy, link, target, expected] of answered) {
    test(`${policy}: ${link} -> ${target}`, () => {
      const answer = answerReadlink(policies[policy]!, link, target);
      if (expected === null) expect(answer.refused).not.toBeNull();
      else expect(answer).toEqual({ target: expected, refused: null });
    });
  }
});
