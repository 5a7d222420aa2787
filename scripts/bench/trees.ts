/**
 * Test data for the mount benchmarks, written on the server side of the harness sshd (the same machine):
 * a large random file, a 10k-file tree in 500 directories, a git repository of the same shape, and a
 * directory of small files. Deterministic sizes and names so every run measures the same work.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileAsync } from './lib.js';

export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, 'w');
  try {
    const chunk = 4 * 1024 * 1024;
    for (let written = 0; written < bytes; written += chunk) {
      await handle.write(randomBytes(Math.min(chunk, bytes - written)));
    }
  } finally {
    await handle.close();
  }
}

/** `dirs` directories of `filesPerDir` small text files (100–2,000 bytes), like a site's source tree. */
export async function writeTree(root: string, dirs: number, filesPerDir: number): Promise<void> {
  for (let d = 0; d < dirs; d++) {
    const dir = join(root, `dir${String(d).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    await Promise.all(Array.from({ length: filesPerDir }, (_, f) => {
      const size = 100 + ((d * 31 + f * 17) % 1900);
      return writeFile(join(dir, `file${String(f).padStart(2, '0')}.txt`), 'x'.repeat(size - 1) + '\n');
    }));
  }
}

export async function writeGitRepo(root: string, dirs: number, filesPerDir: number): Promise<void> {
  await writeTree(root, dirs, filesPerDir);
  const git = (...args: string[]) => execFileAsync('git', ['-C', root, ...args], { maxBuffer: 64 * 1024 * 1024 });
  await git('init', '-q');
  await git('add', '-A');
  await git('-c', 'user.name=bench', '-c', 'user.email=bench@localhost', 'commit', '-q', '-m', 'bench tree');
  await git('gc', '-q'); // pack the objects: the tree, not 10k loose objects, is what git status walks
}
