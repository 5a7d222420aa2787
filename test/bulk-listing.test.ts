import { mkdir, symlink, utimes, writeFile, chmod, lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listTree } from '../fs/bulk/list-tree.js';
import type { TreeEntry, TreeSource } from '../fs/bulk/types.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { harnessConnector } from './harness/connect.js';
import { startSshd, type Sshd } from './harness/sshd.js';

/** Names that break naive listings: spaces, a newline, unicode, leading dashes, quotes, backslashes, globs. */
const ODD_NAMES = ['with space.txt', 'new\nline.txt', 'fünke ☃.txt', '-rf', '--help', "it's \"quoted\"", 'back\\slash', '*?[x]', ' lead-space'];

async function buildTree(root: string): Promise<void> {
  await mkdir(join(root, 'dir/sub/deeper'), { recursive: true });
  await mkdir(join(root, 'empty dir'));
  await mkdir(join(root, '-dash-dir'));
  for (const [i, name] of ODD_NAMES.entries()) {
    await writeFile(join(root, name), `content ${i}`);
    await writeFile(join(root, '-dash-dir', name), `nested ${i}`);
  }
  for (let i = 0; i < 150; i += 1) await writeFile(join(root, 'dir/sub', `f${i}.txt`), 'x'.repeat(i));
  await writeFile(join(root, 'dir/sub/deeper/private'), 'secret');
  await chmod(join(root, 'dir/sub/deeper/private'), 0o640);
  await chmod(join(root, 'dir/sub/deeper'), 0o2750);
  await symlink('with space.txt', join(root, 'link to file'));
  await symlink('../nowhere', join(root, 'dir/dangling'));
  await symlink('dir/sub', join(root, 'link-dir'));
  await utimes(join(root, 'with space.txt'), new Date(1_600_000_000_123), new Date(1_600_000_000_456));
}

/** What the local file system says, in TreeEntry form: the oracle (the harness sshd runs on this machine). */
async function localTruth(root: string, rel = '', out: TreeEntry[] = []): Promise<TreeEntry[]> {
  const full = rel === '' ? root : join(root, rel);
  const st = await lstat(full);
  const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
  out.push({ path: rel, type, mode: st.mode & 0o7777, size: st.size, mtimeMs: Math.floor(st.mtimeMs), uid: st.uid, gid: st.gid,
    ...(type === 'symlink' ? { linkTarget: await readlink(full) } : {}) });
  if (type === 'dir') for (const name of await readdir(full)) await localTruth(root, rel === '' ? name : `${rel}/${name}`, out);
  return out;
}

const byPath = (a: TreeEntry, b: TreeEntry) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
/** Directory sizes and the root's own mtime are not what the comparison is about; seconds for SFTP. */
const normalise = (entries: TreeEntry[], precisionMs: number) => [...entries].sort(byPath)
  .map((e) => ({ ...e, size: e.type === 'dir' ? 0 : e.size, mtimeMs: Math.floor(e.mtimeMs / precisionMs) }));

describe('bulk listing (find -printf over exec)', () => {
  let sshd: Sshd;
  let remote: SftpRemoteFs;
  let treeRoot: string;
  beforeAll(async () => {
    sshd = await startSshd();
    // A root whose own name needs quoting: a quote, a space and a leading dash in the last component.
    treeRoot = join(sshd.root, "-it's a site");
    await mkdir(treeRoot);
    await buildTree(treeRoot);
    remote = await createSftpRemoteFs(harnessConnector(sshd), treeRoot);
  });
  afterAll(async () => {
    await remote?.close();
    await sshd?.stop();
  });

  const source = (): TreeSource => ({ fs: remote, shell: remote, serverRoot: remote.remoteRoot });

  it('lists every entry of a tree with odd names in one exec, exactly as the local file system has them', async () => {
    const streamed: TreeEntry[] = [];
    const listing = await listTree(source(), '/', { onEntry: (e) => streamed.push(e) });
    expect(listing.method).toBe('find');
    expect(listing.problems).toEqual([]);
    expect(streamed).toEqual(listing.entries);
    expect(normalise(listing.entries, 1)).toEqual(normalise(await localTruth(treeRoot), 1));
    const spaced = listing.entries.find((e) => e.path === 'with space.txt');
    expect(spaced?.mtimeMs).toBe(1_600_000_000_456);
    expect(listing.entries.find((e) => e.path === 'dir/sub/deeper')?.mode).toBe(0o2750);
    expect(listing.entries.find((e) => e.path === 'new\nline.txt')?.type).toBe('file');
    expect(listing.entries.find((e) => e.path === 'link-dir')).toMatchObject({ type: 'symlink', linkTarget: 'dir/sub' });
  });

  it('equals the SFTP READDIR walk (at SFTP\'s one-second precision)', async () => {
    const viaFind = await listTree(source(), '/');
    const viaWalk = await listTree(source(), '/', { method: 'readdir' });
    expect(viaWalk.method).toBe('readdir');
    expect(viaWalk.problems).toEqual([]);
    expect(normalise(viaWalk.entries, 1000)).toEqual(normalise(viaFind.entries, 1000));
  });

  it('lists a subdirectory, with paths relative to it', async () => {
    const listing = await listTree(source(), '/-dash-dir');
    expect(listing.method).toBe('find');
    expect(listing.entries.map((e) => e.path).sort()).toEqual(['', ...ODD_NAMES].sort());
  });

  it('a missing directory is ENOENT (find lists nothing, the READDIR walk reports the SFTP error)', async () => {
    await expect(listTree(source(), '/no such dir')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('bulk listing on a server without a shell (ForceCommand internal-sftp)', () => {
  let sshd: Sshd;
  let remote: SftpRemoteFs;
  beforeAll(async () => {
    sshd = await startSshd({ sftpOnly: true });
    await buildTree(sshd.root);
    remote = await createSftpRemoteFs(harnessConnector(sshd), sshd.root);
  });
  afterAll(async () => {
    await remote?.close();
    await sshd?.stop();
  });

  it('falls back to the READDIR walk and still lists everything', async () => {
    const listing = await listTree({ fs: remote, shell: remote, serverRoot: remote.remoteRoot }, '/');
    expect(listing.method).toBe('readdir');
    expect(listing.mtimePrecisionMs).toBe(1000);
    expect(normalise(listing.entries, 1000)).toEqual(normalise(await localTruth(sshd.root), 1000));
  });
});
