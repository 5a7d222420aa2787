import { constants } from 'node:fs';
import { lstat, mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileType, isDir, isPlainRead, isRegular, isSymlink, O_ACCMODE, opensReadOnly, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../fs/posix.js';

describe('file-type bits', () => {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'devmount-posix-'));
    await mkdir(join(root, 'dir'));
    await writeFile(join(root, 'file'), 'x');
    await symlink('file', join(root, 'link'));
  });
  afterAll(async () => { await rm(root, { recursive: true, force: true }); });

  it('are the values the kernel reports (and Node names)', () => {
    expect([S_IFMT, S_IFDIR, S_IFREG, S_IFLNK]).toEqual([constants.S_IFMT, constants.S_IFDIR, constants.S_IFREG, constants.S_IFLNK]);
  });

  const cases: ReadonlyArray<readonly [name: string, type: number, dir: boolean, regular: boolean, link: boolean]> = [
    ['dir', S_IFDIR, true, false, false],
    ['file', S_IFREG, false, true, false],
    ['link', S_IFLNK, false, false, true],
  ];
  for (const [name, type, dir, regular, link] of cases) {
    it(`tell what lstat(2) of a ${name} is`, async () => {
      const { mode } = await lstat(join(root, name));
      expect(fileType(mode)).toBe(type);
      expect([isDir(mode), isRegular(mode), isSymlink(mode)]).toEqual([dir, regular, link]);
    });
  }

  it('ignore the permission, setuid, setgid and sticky bits', () => {
    expect(isDir(S_IFDIR | 0o7777)).toBe(true);
    expect(isRegular(S_IFREG | 0o4755)).toBe(true);
    expect(isSymlink(S_IFREG | 0o777)).toBe(false);
    expect(fileType(0o1777)).toBe(0);
  });
});

describe('open flags', () => {
  const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_EXCL } = constants;
  it('O_ACCMODE covers the three access modes', () => {
    expect(O_ACCMODE & O_WRONLY).toBe(O_WRONLY);
    expect(O_ACCMODE & O_RDWR).toBe(O_RDWR);
    expect(O_ACCMODE & (O_CREAT | O_TRUNC | O_APPEND | O_EXCL)).toBe(0);
  });

  const cases: ReadonlyArray<readonly [label: string, flags: number, readOnly: boolean, plainRead: boolean]> = [
    ['O_RDONLY', O_RDONLY, true, true],
    ['O_RDONLY|O_APPEND', O_RDONLY | O_APPEND, true, true],
    ['O_RDONLY|O_CREAT', O_RDONLY | O_CREAT, true, false],
    ['O_RDONLY|O_TRUNC', O_RDONLY | O_TRUNC, true, false],
    ['O_WRONLY', O_WRONLY, false, false],
    ['O_RDWR', O_RDWR, false, false],
    ['O_RDWR|O_CREAT|O_EXCL', O_RDWR | O_CREAT | O_EXCL, false, false],
  ];
  for (const [label, flags, readOnly, plainRead] of cases) {
    it(`${label}: read-only ${readOnly}, plain read ${plainRead}`, () => {
      expect(opensReadOnly(flags)).toBe(readOnly);
      expect(isPlainRead(flags)).toBe(plainRead);
    });
  }
});
