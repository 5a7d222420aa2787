/**
 * Every RemoteFs operation of the SFTP layer against the harness OpenSSH sshd, with the errno each failure
 * must give. No FUSE: this is the API the caches, the VFS and backups build on.
 */
import { constants as C } from 'node:fs';
import { lstat, mkdir, open, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsError, type ErrnoCode } from '../fs/errors.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { ConnectError } from '../fs/ssh/types.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';
import { startDelayProxy } from '../scripts/delay-proxy.js';

async function errnoOf(promise: Promise<unknown>): Promise<ErrnoCode | 'resolved'> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    if (err instanceof FsError) return err.code;
    throw err;
  }
}

describe('SFTP RemoteFs operations', () => {
  let sshd: Sshd;
  let fs: SftpRemoteFs;
  let root: string;

  beforeAll(async () => {
    sshd = await startSshd();
    root = sshd.root;
    await writeFile(join(root, 'hello.txt'), 'hello world');
    await mkdir(join(root, 'dir'));
    await mkdir(join(root, 'full'));
    await writeFile(join(root, 'full', 'inside.txt'), 'x');
    fs = await createSftpRemoteFs(harnessConnector(sshd), root);
  });

  afterAll(async () => {
    await fs?.close();
    await sshd?.stop();
  });

  describe('remote root resolution', () => {
    it('resolves the given directory with realpath', () => {
      expect(fs.remoteRoot).toBe(root);
    });

    it("'' and '~' are the login directory", async () => {
      for (const spec of ['', '~']) {
        const home = await createSftpRemoteFs(harnessConnector(sshd), spec, { maxConns: 1 });
        try {
          expect(home.remoteRoot).toBe(userInfo().homedir); // the passwd entry sshd uses, not $HOME
        } finally {
          await home.close();
        }
      }
    });

    it('a missing root is ENOENT with the path, a file is ENOTDIR', async () => {
      const missing = createSftpRemoteFs(harnessConnector(sshd), join(root, 'nope'), { maxConns: 1 });
      await expect(missing).rejects.toMatchObject({ code: 'ENOENT', path: join(root, 'nope') });
      const file = createSftpRemoteFs(harnessConnector(sshd), join(root, 'hello.txt'), { maxConns: 1 });
      await expect(file).rejects.toMatchObject({ code: 'ENOTDIR' });
    });
  });

  describe('attributes and listings', () => {
    it('stat and lstat return size, type and times', async () => {
      const attr = await fs.stat('/hello.txt');
      const local = await stat(join(root, 'hello.txt'));
      expect(attr.size).toBe(11);
      expect(attr.mode).toBe(local.mode);
      expect(attr.mtimeMs).toBe(Math.floor(local.mtimeMs / 1000) * 1000);
      expect((await fs.lstat('/dir')).mode & 0o170000).toBe(0o040000);
    });

    it('stat errors: ENOENT, and ENOTDIR under a file', async () => {
      expect(await errnoOf(fs.stat('/missing'))).toBe('ENOENT');
      expect(await errnoOf(fs.lstat('/hello.txt/x'))).toBe('ENOTDIR');
    });

    it('readdir lists awkward names with their attributes and link counts', async () => {
      await mkdir(join(root, 'names'));
      const names = ['with space.txt', 'fünke.txt', '-leading-dash', 'new\nline', '.hidden'];
      for (const name of names) await writeFile(join(root, 'names', name), name);
      await mkdir(join(root, 'names', 'sub'));
      const entries = await fs.readdir('/names');
      expect(entries.map((e) => e.name).sort()).toEqual([...names, 'sub'].sort());
      const sub = entries.find((e) => e.name === 'sub');
      expect(sub?.attr.nlink).toBe(2);
      expect(entries.find((e) => e.name === 'fünke.txt')?.attr.size).toBe(Buffer.byteLength('fünke.txt'));
    });

    it('readdir of a large directory is complete (pipelined READDIR)', async () => {
      await mkdir(join(root, 'big'));
      const count = 2_500;
      for (let i = 0; i < count; i += 250) {
        await Promise.all(Array.from({ length: 250 }, (_, j) => writeFile(join(root, 'big', `f${i + j}`), '')));
      }
      const entries = await fs.readdir('/big');
      expect(entries.length).toBe(count);
      expect(new Set(entries.map((e) => e.name)).size).toBe(count);
    });

    it('readdir errors: ENOENT, ENOTDIR', async () => {
      expect(await errnoOf(fs.readdir('/missing'))).toBe('ENOENT');
      expect(await errnoOf(fs.readdir('/hello.txt'))).toBe('ENOTDIR');
    });

    it('statfs reports the server file system (statvfs@openssh.com)', async () => {
      const st = await fs.statfs('/');
      expect(st.bsize).toBeGreaterThan(0);
      expect(st.blocks).toBeGreaterThan(0);
      expect(st.bavail).toBeLessThanOrEqual(st.blocks);
      expect(st.namemax).toBe(255);
    });
  });

  describe('files', () => {
    it('creates, writes at offsets, reads back, short read only at end of file', async () => {
      const f = await fs.open('/new.bin', C.O_CREAT | C.O_EXCL | C.O_RDWR, 0o640);
      await f.write(Buffer.from('abcdef'), 0);
      await f.write(Buffer.from('XY'), 2);
      expect((await f.read(0, 100)).toString()).toBe('abXYef');
      expect((await f.read(4, 2)).toString()).toBe('ef');
      expect((await f.read(6, 10)).length).toBe(0);
      expect((await f.fstat()).size).toBe(6);
      await f.fsync();
      await f.close();
      expect(await readFile(join(root, 'new.bin'), 'utf8')).toBe('abXYef');
      expect((await stat(join(root, 'new.bin'))).mode & 0o777).toBe(0o640);
    });

    it('O_APPEND opens write at the offsets given (no SFTP APPEND)', async () => {
      await writeFile(join(root, 'append.txt'), '12345');
      const f = await fs.open('/append.txt', C.O_WRONLY | C.O_APPEND);
      await f.write(Buffer.from('67'), 5);
      await f.write(Buffer.from('Z'), 0); // positional: lands at 0, not at the end
      await f.close();
      expect(await readFile(join(root, 'append.txt'), 'utf8')).toBe('Z234567');
    });

    it('O_TRUNC truncates, ftruncate grows and shrinks', async () => {
      await writeFile(join(root, 'trunc.txt'), 'long content');
      const f = await fs.open('/trunc.txt', C.O_RDWR | C.O_TRUNC);
      expect((await f.fstat()).size).toBe(0);
      await f.write(Buffer.from('abc'), 0);
      await f.ftruncate(10);
      expect((await f.fstat()).size).toBe(10);
      await f.ftruncate(2);
      await f.close();
      expect(await readFile(join(root, 'trunc.txt'), 'utf8')).toBe('ab');
    });

    it('a large read and write are split into many requests and come back intact', async () => {
      const data = Buffer.alloc(5 * 1024 * 1024 + 123);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
      const f = await fs.open('/large.bin', C.O_CREAT | C.O_TRUNC | C.O_RDWR, 0o644);
      await f.write(data, 0);
      const back = await f.read(0, data.length + 1000);
      await f.close();
      expect(back.equals(data)).toBe(true);
      expect((await readFile(join(root, 'large.bin'))).equals(data)).toBe(true);
      expect((await fs.readFile('/large.bin')).equals(data)).toBe(true);
    });

    it('writes at offsets beyond 4 GiB make a sparse file of the right size', async () => {
      const offset = 5 * 1024 ** 3 + 17;
      const f = await fs.open('/sparse.bin', C.O_CREAT | C.O_RDWR, 0o644);
      await f.write(Buffer.from('far away'), offset);
      expect((await f.fstat()).size).toBe(offset + 8);
      expect((await f.read(offset, 8)).toString()).toBe('far away');
      expect((await f.read(offset - 4, 4)).equals(Buffer.alloc(4))).toBe(true);
      await f.close();
      const local = await stat(join(root, 'sparse.bin'));
      expect(local.size).toBe(offset + 8);
      expect(local.blocks * 512).toBeLessThan(1024 * 1024);
    });

    it('readFile reads small and empty files; EISDIR for a directory', async () => {
      expect((await fs.readFile('/hello.txt')).toString()).toBe('hello world');
      await writeFile(join(root, 'empty'), '');
      expect((await fs.readFile('/empty')).length).toBe(0);
      expect(await errnoOf(fs.readFile('/dir'))).toBe('EISDIR');
      expect(await errnoOf(fs.readFile('/missing'))).toBe('ENOENT');
    });

    it('open errors: ENOENT, EEXIST with O_EXCL, EISDIR for writing a directory, ENOTDIR under a file', async () => {
      expect(await errnoOf(fs.open('/missing', C.O_RDONLY))).toBe('ENOENT');
      expect(await errnoOf(fs.open('/nodir/new', C.O_CREAT | C.O_WRONLY, 0o644))).toBe('ENOENT');
      expect(await errnoOf(fs.open('/hello.txt', C.O_CREAT | C.O_EXCL | C.O_WRONLY, 0o644))).toBe('EEXIST');
      expect(await errnoOf(fs.open('/dir', C.O_WRONLY))).toBe('EISDIR');
      expect(await errnoOf(fs.open('/hello.txt/x', C.O_RDONLY))).toBe('ENOTDIR');
    });

    it('EACCES: as root, DAC checks never fail, so a kernel file that refuses writers even to root stands in', async () => {
      // kernfs refuses to open a read-only sysfs attribute for writing; a 0444 sysctl is refused by
      // sysctl_perm(). The first one this machine refuses locally with EACCES is used through SFTP.
      const candidates = ['/sys/devices/system/cpu/online', '/proc/sys/kernel/ostype'];
      let target: string | undefined;
      for (const candidate of candidates) {
        const code = await open(candidate, 'r+').then(
          async (h) => { await h.close(); return 'opened'; },
          (e: NodeJS.ErrnoException) => e.code,
        );
        if (code === 'EACCES') { target = candidate; break; }
      }
      expect(target, `none of ${candidates.join(', ')} refuses writers here`).toBeDefined();
      await symlink(target as string, join(root, 'readonly-attr'));
      expect(await errnoOf(fs.open('/readonly-attr', C.O_WRONLY))).toBe('EACCES');
    });

    it('EBADF for a write on a read-only handle and a read on a write-only one', async () => {
      const ro = await fs.open('/hello.txt', C.O_RDONLY);
      expect(await errnoOf(ro.write(Buffer.from('x'), 0))).toBe('EBADF');
      await ro.close();
      const wo = await fs.open('/hello.txt', C.O_WRONLY);
      expect(await errnoOf(wo.read(0, 1))).toBe('EBADF');
      await wo.close();
      expect(await readFile(join(root, 'hello.txt'), 'utf8')).toBe('hello world');
    });

    it('a closed file refuses further use with EBADF', async () => {
      const f = await fs.open('/hello.txt', C.O_RDONLY);
      await f.close();
      expect(await errnoOf(f.read(0, 1))).toBe('EBADF');
      await f.close(); // closing twice is harmless
    });
  });

  describe('namespace operations', () => {
    it('mkdir creates with the mode; EEXIST, ENOENT for a missing parent', async () => {
      await fs.mkdir('/made', 0o750);
      expect((await stat(join(root, 'made'))).mode & 0o777).toBe(0o750);
      expect(await errnoOf(fs.mkdir('/made', 0o755))).toBe('EEXIST');
      expect(await errnoOf(fs.mkdir('/hello.txt', 0o755))).toBe('EEXIST');
      expect(await errnoOf(fs.mkdir('/no/parent', 0o755))).toBe('ENOENT');
      expect(await errnoOf(fs.mkdir('/hello.txt/sub', 0o755))).toBe('ENOTDIR');
    });

    it('rmdir: removes empty; ENOTEMPTY, ENOTDIR, ENOENT', async () => {
      await mkdir(join(root, 'gone'));
      await fs.rmdir('/gone');
      await expect(lstat(join(root, 'gone'))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await errnoOf(fs.rmdir('/full'))).toBe('ENOTEMPTY');
      expect(await errnoOf(fs.rmdir('/hello.txt'))).toBe('ENOTDIR');
      expect(await errnoOf(fs.rmdir('/missing'))).toBe('ENOENT');
    });

    it('unlink: removes a file; EISDIR for a directory, ENOENT', async () => {
      await writeFile(join(root, 'victim'), 'x');
      await fs.unlink('/victim');
      await expect(lstat(join(root, 'victim'))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(await errnoOf(fs.unlink('/dir'))).toBe('EISDIR');
      expect(await errnoOf(fs.unlink('/missing'))).toBe('ENOENT');
    });

    it('unlink of an open file: the handle keeps reading', async () => {
      await writeFile(join(root, 'open-unlinked'), 'still here');
      const f = await fs.open('/open-unlinked', C.O_RDONLY);
      await fs.unlink('/open-unlinked');
      expect((await f.read(0, 100)).toString()).toBe('still here');
      await f.close();
    });

    it('rename replaces an existing file atomically and moves directories', async () => {
      await writeFile(join(root, 'r-from'), 'new');
      await writeFile(join(root, 'r-to'), 'old');
      await fs.rename('/r-from', '/r-to');
      expect(await readFile(join(root, 'r-to'), 'utf8')).toBe('new');
      await expect(lstat(join(root, 'r-from'))).rejects.toMatchObject({ code: 'ENOENT' });
      await mkdir(join(root, 'r-dir'));
      await mkdir(join(root, 'r-empty'));
      await fs.rename('/r-dir', '/r-empty'); // onto an empty directory: allowed by rename(2)
      expect((await stat(join(root, 'r-empty'))).isDirectory()).toBe(true);
    });

    it('rename errors: ENOENT, ENOTEMPTY, EISDIR, ENOTDIR', async () => {
      await mkdir(join(root, 'r-src-dir'));
      await writeFile(join(root, 'r-file'), 'f');
      expect(await errnoOf(fs.rename('/missing', '/x'))).toBe('ENOENT');
      expect(await errnoOf(fs.rename('/r-src-dir', '/full'))).toBe('ENOTEMPTY');
      expect(await errnoOf(fs.rename('/r-file', '/dir'))).toBe('EISDIR');
      expect(await errnoOf(fs.rename('/r-src-dir', '/r-file'))).toBe('ENOTDIR');
      expect(await errnoOf(fs.rename('/r-file', '/nodir/x'))).toBe('ENOENT');
    });

    it('symlink stores the target as given (OpenSSH argument order); readlink reads it; EEXIST', async () => {
      await fs.symlink('hello.txt', '/link-rel');
      await fs.symlink('/etc/hostname', '/link-abs');
      expect(await readlink(join(root, 'link-rel'))).toBe('hello.txt');
      expect(await readlink(join(root, 'link-abs'))).toBe('/etc/hostname');
      expect(await fs.readlink('/link-rel')).toBe('hello.txt');
      expect((await fs.lstat('/link-rel')).mode & 0o170000).toBe(0o120000);
      expect((await fs.stat('/link-rel')).size).toBe(11);
      expect(await errnoOf(fs.symlink('x', '/hello.txt'))).toBe('EEXIST');
      expect(await errnoOf(fs.readlink('/hello.txt'))).toBe('EINVAL');
      expect(await errnoOf(fs.readlink('/missing'))).toBe('ENOENT');
    });

    it('link makes a hard link (hardlink@openssh.com); EEXIST, ENOENT', async () => {
      await writeFile(join(root, 'l-src'), 'shared');
      await fs.link('/l-src', '/l-dst');
      expect((await stat(join(root, 'l-src'))).nlink).toBe(2);
      expect((await stat(join(root, 'l-dst'))).ino).toBe((await stat(join(root, 'l-src'))).ino);
      expect(await errnoOf(fs.link('/l-src', '/hello.txt'))).toBe('EEXIST');
      expect(await errnoOf(fs.link('/missing', '/l-x'))).toBe('ENOENT');
    });

    it('setattr: chmod, utimens, truncate, chown; ENOENT', async () => {
      await writeFile(join(root, 'attrs'), '0123456789');
      await fs.setattr('/attrs', { mode: 0o600 });
      expect((await stat(join(root, 'attrs'))).mode & 0o777).toBe(0o600);
      await fs.setattr('/attrs', { atimeMs: 1_000_000_000_000, mtimeMs: 1_500_000_000_000 });
      const times = await stat(join(root, 'attrs'));
      expect(times.mtimeMs).toBe(1_500_000_000_000);
      expect(times.atimeMs).toBe(1_000_000_000_000);
      await fs.setattr('/attrs', { mtimeMs: 1_600_000_000_000 }); // atime kept: v3 sends both, we fill it in
      const after = await stat(join(root, 'attrs'));
      expect(after.mtimeMs).toBe(1_600_000_000_000);
      expect(after.atimeMs).toBe(1_000_000_000_000);
      await fs.setattr('/attrs', { size: 4 });
      expect(await readFile(join(root, 'attrs'), 'utf8')).toBe('0123');
      await fs.setattr('/attrs', { uid: 0, gid: 0 });
      expect((await stat(join(root, 'attrs'))).uid).toBe(0);
      expect(await errnoOf(fs.setattr('/missing', { mode: 0o644 }))).toBe('ENOENT');
    });

    it("paths cannot climb above the remote root with '..'", async () => {
      await expect(fs.stat('/../../etc/passwd')).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });

  describe('exec passthrough and state', () => {
    it('runs commands on the server', async () => {
      const result = await fs.exec('printf %s devmount');
      expect(result.stdout.toString()).toBe('devmount');
      expect(result.code).toBe(0);
    });

    it('opens maxConns connections: metadata on one, file data on the others', async () => {
      const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: 0 }); // counts the pool's connections exactly
      const pool = await createSftpRemoteFs(harnessConnector(sshd, {}, proxy.port), root, { maxConns: 3 });
      try {
        expect(proxy.connections()).toBe(3);
        const a = await pool.open('/hello.txt', C.O_RDONLY);
        const b = await pool.open('/hello.txt', C.O_RDONLY);
        const [first, second, attr] = await Promise.all([a.read(0, 5), b.read(6, 5), pool.stat('/hello.txt')]);
        expect([first.toString(), second.toString(), attr.size]).toEqual(['hello', 'world', 11]);
        await Promise.all([a.close(), b.close()]);
      } finally {
        await pool.close();
        await proxy.close();
      }
    });

    it('reports connected state and counters', () => {
      expect(fs.state()).toBe('connected');
      const st = fs.stats();
      expect(st.reconnects).toBe(0);
      expect(st.connectedSinceMs).toBeGreaterThan(0);
    });

    it("rejects exec with ConnectError('no-exec') on an SFTP-only server", async () => {
      const sftpOnly = await startSshd({ sftpOnly: true });
      try {
        const only = await createSftpRemoteFs(harnessConnector(sftpOnly), sftpOnly.root, { maxConns: 1 });
        try {
          const err = await only.exec('true').then(() => null, (e: unknown) => e);
          expect(err).toBeInstanceOf(ConnectError);
          expect((err as ConnectError).kind).toBe('no-exec');
          expect(await only.readdir('/')).toEqual([]); // SFTP still works
        } finally {
          await only.close();
        }
      } finally {
        await sftpOnly.stop();
      }
    });
  });
});
