/**
 * The VFS over the real stack — createVfs(createCachedRemoteFs(createSftpRemoteFs(...))) — against the
 * harness OpenSSH sshd, without FUSE: every operation, checked on the server's disk (sshd.root), cache
 * invalidation against changes made on the server, write coalescing, write errors, and the API the dev
 * server uses.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createCachedRemoteFs } from '../fs/cache/cached-remote-fs.js';
import { isFsError } from '../fs/errors.js';
import type { RemoteFile, RemoteFs } from '../fs/remote/types.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import type { Vfs } from '../fs/vfs/types.js';
import type { ChangeEvent } from '../fs/types.js';
import { createVfs } from '../fs/vfs/vfs.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

const TTL_MS = 20_000;
let sshd: Sshd;
let sftp: SftpRemoteFs;
let vfs: Vfs;
let clock = 0;
let remoteWrites = 0;

/** Counts RemoteFile.write calls reaching the SFTP layer (to prove 4 KiB writes are coalesced). */
function countingWrites(inner: SftpRemoteFs): RemoteFs & { close(): Promise<void> } {
  return {
    lstat: (p) => inner.lstat(p), stat: (p) => inner.stat(p), readdir: (p) => inner.readdir(p), readlink: (p) => inner.readlink(p),
    readFile: (p) => inner.readFile(p), mkdir: (p, m) => inner.mkdir(p, m), rmdir: (p) => inner.rmdir(p), unlink: (p) => inner.unlink(p),
    rename: (a, b) => inner.rename(a, b), symlink: (t, p) => inner.symlink(t, p), link: (a, b) => inner.link(a, b),
    setattr: (p, a) => inner.setattr(p, a), statfs: (p) => inner.statfs(p), close: () => inner.close(),
    async open(p, flags, mode): Promise<RemoteFile> {
      const file = await inner.open(p, flags, mode);
      return {
        path: file.path, read: (pos, len) => file.read(pos, len), readInto: (pos, target) => file.readInto(pos, target), fstat: () => file.fstat(), ftruncate: (s) => file.ftruncate(s),
        fsync: () => file.fsync(), close: () => file.close(),
        write: (data, pos) => {
          remoteWrites += 1;
          return file.write(data, pos);
        },
      };
    },
  };
}

async function errnoOf(promise: Promise<unknown>): Promise<string | null> {
  const err = await promise.then(() => null, (e: unknown) => e);
  if (err === null) return null;
  if (isFsError(err)) return err.code;
  return (err as NodeJS.ErrnoException).code ?? String(err);
}

const onServer = (path: string): string => join(sshd.root, path);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function writeWhole(path: string, data: string | Buffer, flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC): Promise<void> {
  const fh = flags & constants.O_CREAT ? await vfs.create(path, 0o644, flags) : await vfs.open(path, flags);
  const position = flags & constants.O_APPEND ? (await vfs.getattr(path)).size : 0;
  await vfs.write(fh, Buffer.from(data), position);
  await vfs.release(fh);
}

beforeAll(async () => {
  sshd = await startSshd();
  sftp = await createSftpRemoteFs(harnessConnector(sshd), sshd.root);
  vfs = createVfs(createCachedRemoteFs(countingWrites(sftp), { attrTimeoutMs: TTL_MS, dirTimeoutMs: TTL_MS, negativeTimeoutMs: TTL_MS, now: () => clock }));
});

afterAll(async () => {
  await vfs?.close();
  await sshd?.stop();
});

beforeEach(() => {
  clock += TTL_MS * 10; // each test starts with every cached entry expired
});

describe('VFS over SFTP: operations, checked on the server', () => {
  it('create, append, overwrite', async () => {
    await writeWhole('/notes.txt', 'hello');
    expect(await readFile(onServer('notes.txt'), 'utf8')).toBe('hello');
    await writeWhole('/notes.txt', ' world', constants.O_WRONLY | constants.O_APPEND);
    expect(await readFile(onServer('notes.txt'), 'utf8')).toBe('hello world');
    expect((await vfs.getattr('/notes.txt')).size).toBe(11);
    await writeWhole('/notes.txt', 'bye', constants.O_WRONLY | constants.O_TRUNC);
    expect(await readFile(onServer('notes.txt'), 'utf8')).toBe('bye');
    expect((await vfs.readFile('/notes.txt')).toString()).toBe('bye');
    expect(await errnoOf(vfs.create('/notes.txt', 0o644, constants.O_WRONLY | constants.O_EXCL))).toBe('EEXIST');
  });

  it('truncate and ftruncate, shorter and longer', async () => {
    await writeWhole('/t.txt', '0123456789');
    await vfs.truncate('/t.txt', 4);
    expect(await readFile(onServer('t.txt'), 'utf8')).toBe('0123');
    expect((await vfs.getattr('/t.txt')).size).toBe(4);
    const fh = await vfs.open('/t.txt', constants.O_RDWR);
    await vfs.ftruncate(fh, 6);
    expect((await vfs.read(fh, 0, 100)).equals(Buffer.from('0123\0\0'))).toBe(true);
    await vfs.release(fh);
    expect((await stat(onServer('t.txt'))).size).toBe(6);
  });

  it('rename over an existing file replaces it', async () => {
    await writeWhole('/old.txt', 'new content');
    await writeWhole('/target.txt', 'old content');
    expect((await vfs.readFile('/target.txt')).toString()).toBe('old content');
    await vfs.rename('/old.txt', '/target.txt');
    expect(await readFile(onServer('target.txt'), 'utf8')).toBe('new content');
    expect((await vfs.readFile('/target.txt')).toString()).toBe('new content');
    expect(await errnoOf(vfs.getattr('/old.txt'))).toBe('ENOENT');
    expect((await vfs.readdir('/')).map((e) => e.name)).not.toContain('old.txt');
  });

  it('an unlinked open file stays readable and writable through its handle', async () => {
    await writeWhole('/open.txt', 'still here');
    const fh = await vfs.open('/open.txt', constants.O_RDWR);
    await vfs.unlink('/open.txt');
    expect(await errnoOf(lstat(onServer('open.txt')))).toBe('ENOENT');
    expect(await errnoOf(vfs.getattr('/open.txt'))).toBe('ENOENT');
    await vfs.write(fh, Buffer.from('STILL'), 0);
    expect((await vfs.read(fh, 0, 100)).toString()).toBe('STILL here');
    await vfs.release(fh);
  });

  it('rmdir of a non-empty directory fails with ENOTEMPTY; mkdir of an existing one with EEXIST', async () => {
    await vfs.mkdir('/full', 0o755);
    await writeWhole('/full/file', 'x');
    expect(await errnoOf(vfs.rmdir('/full'))).toBe('ENOTEMPTY');
    expect(await errnoOf(vfs.mkdir('/full', 0o755))).toBe('EEXIST');
    await vfs.unlink('/full/file');
    await vfs.rmdir('/full');
    expect(await errnoOf(stat(onServer('full')))).toBe('ENOENT');
  });

  it('symlinks: created pointing where asked, read back, followed only with follow_symlinks', async () => {
    await writeWhole('/real.txt', 'real');
    await vfs.symlink('real.txt', '/link');
    expect(await readlink(onServer('link'))).toBe('real.txt');
    expect(await vfs.readlink('/link')).toBe('real.txt');
    expect((await vfs.getattr('/link')).mode & constants.S_IFMT).toBe(constants.S_IFLNK);
    expect((await vfs.readFile('/link')).toString()).toBe('real');
    const following = createVfs(createCachedRemoteFs(countingWrites(sftp), { now: () => clock }), { followSymlinks: true });
    const attr = await following.getattr('/link');
    expect(attr.mode & constants.S_IFMT).toBe(constants.S_IFREG);
    expect(attr.size).toBe(4);
  });

  it('hard links share the inode', async () => {
    await writeWhole('/orig.txt', 'linked');
    await vfs.link('/orig.txt', '/alias.txt');
    expect((await stat(onServer('alias.txt'))).ino).toBe((await stat(onServer('orig.txt'))).ino);
    expect((await vfs.readFile('/alias.txt')).toString()).toBe('linked');
  });

  it('chmod and utimens reach the server and the cache', async () => {
    await writeWhole('/perm.txt', 'p');
    expect((await vfs.getattr('/perm.txt')).mode & 0o777).toBe(0o644);
    await vfs.chmod('/perm.txt', 0o600);
    expect((await stat(onServer('perm.txt'))).mode & 0o777).toBe(0o600);
    expect((await vfs.getattr('/perm.txt')).mode & 0o777).toBe(0o600);
    const when = Date.UTC(2001, 8, 9, 1, 46, 40);
    await vfs.utimens('/perm.txt', when, when);
    expect((await stat(onServer('perm.txt'))).mtimeMs).toBe(when);
    expect((await vfs.getattr('/perm.txt')).mtimeMs).toBe(when);
  });

  it('sparse writes beyond 4 GiB', async () => {
    const offset = 5 * 1024 ** 3 + 17;
    const fh = await vfs.create('/sparse.bin', 0o644);
    await vfs.write(fh, Buffer.from('tail'), offset);
    expect((await vfs.getattr('/sparse.bin')).size).toBe(offset + 4); // buffered, size already reported
    await vfs.release(fh);
    expect((await stat(onServer('sparse.bin'))).size).toBe(offset + 4);
    const rd = await vfs.open('/sparse.bin', constants.O_RDONLY);
    expect((await vfs.read(rd, offset - 2, 10)).equals(Buffer.from('\0\0tail'))).toBe(true);
    await vfs.release(rd);
    await vfs.unlink('/sparse.bin');
  });

  it('statfs answers', async () => {
    const s = await vfs.statfs('/');
    expect(s.bsize).toBeGreaterThan(0);
    expect(s.blocks).toBeGreaterThan(0);
  });
});

describe('VFS over SFTP: caches and changes made on the server', () => {
  it('a server-side change is seen after the TTL, and at once after refresh()', async () => {
    await vfs.mkdir('/site', 0o755);
    await writeWhole('/site/page.html', 'v1');
    expect((await vfs.readFile('/site/page.html')).toString()).toBe('v1');
    const names = async (): Promise<string[]> => (await vfs.readdir('/site')).map((e) => e.name).sort();
    expect(await names()).toEqual(['page.html']);

    await writeFile(onServer('site/page.html'), 'version 2');
    await writeFile(onServer('site/new.css'), 'body{}');
    expect((await vfs.readFile('/site/page.html')).toString()).toBe('v1'); // within the TTL: cached
    expect(await names()).toEqual(['page.html']);
    clock += TTL_MS + 1;
    expect((await vfs.readFile('/site/page.html')).toString()).toBe('version 2');
    expect(await names()).toEqual(['new.css', 'page.html']);

    await writeFile(onServer('site/page.html'), 'version three');
    await rm(onServer('site/new.css'));
    expect(await names()).toEqual(['new.css', 'page.html']);
    vfs.refresh('/site');
    expect((await vfs.readFile('/site/page.html')).toString()).toBe('version three');
    expect(await names()).toEqual(['page.html']);

    await writeFile(onServer('site/late.js'), '1');
    vfs.refresh();
    expect(await names()).toEqual(['late.js', 'page.html']);
  });

  it('4 KiB writes are coalesced into large SFTP writes', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const fh = await vfs.create('/coalesced.bin', 0o644);
    const before = remoteWrites;
    for (let off = 0; off < data.length; off += 4096) await vfs.write(fh, data.subarray(off, off + 4096), off);
    await vfs.release(fh);
    expect(remoteWrites - before).toBe(2); // 512 application writes → two 1 MiB blocks
    expect(sha(await readFile(onServer('coalesced.bin')))).toBe(sha(data));
    await vfs.unlink('/coalesced.bin');
  });

  it('a sequential read through a handle returns the file intact', async () => {
    const data = randomBytes(6 * 1024 * 1024 + 1);
    await writeFile(onServer('read.bin'), data);
    const fh = await vfs.open('/read.bin', constants.O_RDONLY);
    const pieces: Buffer[] = [];
    for (let off = 0; off < data.length + 1; off += 128 * 1024) pieces.push(await vfs.read(fh, off, 128 * 1024));
    await vfs.release(fh);
    expect(sha(Buffer.concat(pieces))).toBe(sha(data));
    await rm(onServer('read.bin'));
  });

  it('write-behind keeps every byte across dropped connections (reconnect replays them)', async () => {
    const data = randomBytes(24 * 1024 * 1024);
    const killAt = new Set([1, 9, 20].map((mib) => mib * 1024 * 1024));
    const fh = await vfs.create('/dropped.bin', 0o644);
    let killed = 0;
    for (let off = 0; off < data.length; off += 128 * 1024) {
      if (killAt.has(off)) killed += await sshd.dropSessions(); // 0 when the previous drop's reconnect is still under way
      await vfs.write(fh, data.subarray(off, off + 128 * 1024), off);
    }
    expect(killed).toBeGreaterThan(0);
    await vfs.release(fh);
    expect(sha(await readFile(onServer('dropped.bin')))).toBe(sha(data));
    await vfs.unlink('/dropped.bin');
  });

  it('a write that cannot land (directory removed on the server, connection dropped) fails at flush and release', async () => {
    await vfs.mkdir('/doomed', 0o755);
    const fh = await vfs.create('/doomed/file.txt', 0o644);
    await vfs.write(fh, Buffer.from('never acknowledged'), 0); // buffered in the VFS, not sent yet
    await rm(onServer('doomed'), { recursive: true });
    await sshd.dropSessions(); // the server handle dies; re-opening by path finds nothing
    expect(await errnoOf(vfs.flush(fh))).not.toBeNull();
    expect(await errnoOf(vfs.release(fh))).not.toBeNull();
  });
});

describe('VFS used without FUSE (the dev server\'s API)', () => {
  it('readFile, getattr, readdir and onChange', async () => {
    const events: ChangeEvent[] = [];
    const off = vfs.onChange((e) => events.push(e));
    await mkdir(onServer('www/css'), { recursive: true });
    await writeFile(onServer('www/index.html'), '<h1>hi</h1>');
    await writeFile(onServer('www/css/site.css'), 'h1{color:red}');

    const listing = await vfs.readdir('/www');
    expect(listing.map((e) => e.name).sort()).toEqual(['css', 'index.html']);
    const css = listing.find((e) => e.name === 'css');
    expect((css?.attr.mode ?? 0) & constants.S_IFMT).toBe(constants.S_IFDIR);
    const attr = await vfs.getattr('/www/index.html');
    expect(attr.size).toBe(11);
    expect((await vfs.readFile('/www/index.html')).toString()).toBe('<h1>hi</h1>');
    expect((await vfs.readFile('/www/css/site.css')).toString()).toBe('h1{color:red}');
    expect(await errnoOf(vfs.readFile('/www/missing.html'))).toBe('ENOENT');
    expect(await errnoOf(vfs.readFile('/www/css'))).toBe('EISDIR');

    // An edit through the VFS (as an editor on the mount would make) is announced locally…
    await writeWhole('/www/css/site.css', 'h1{color:blue}');
    expect(events).toContainEqual({ path: '/www/css/site.css', kind: 'modify', origin: 'local' });
    expect((await vfs.readFile('/www/css/site.css')).toString()).toBe('h1{color:blue}');
    // …and an edit on the server is announced as 'remote' once the cache notices it.
    await writeFile(onServer('www/index.html'), '<h1>changed on the server</h1>');
    clock += TTL_MS + 1;
    await vfs.readdir('/www');
    expect(events).toContainEqual({ path: '/www/index.html', kind: 'modify', origin: 'remote' });
    off();

    const stats = vfs.stats();
    expect(stats.state).toBe('connected');
    expect(stats.cache.dataHits).toBeGreaterThan(0);
  });
});
