import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TarReader, type TarFile } from '../fs/bulk/tar-reader.js';

/** Runs GNU tar (the real one the server would run) on a local directory, names given as fetchWithTar gives them. */
function tarOf(dir: string, names: string[], format: 'gnu' | 'pax'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = execFile('tar', ['-c', '-f', '-', `--format=${format}`, '--no-recursion', '--null', '-T', '-'],
      { cwd: dir, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    child.stdin?.end(names.map((n) => `./${n}\0`).join(''));
  });
}

const LONG = `${'very-long-directory-name-'.repeat(6)}/${'and-a-long-file-name-'.repeat(8)}.txt`;
const NAMES = ['plain.txt', '-rf', 'new\nline', 'fünke ☃.txt', LONG, 'empty', 'two-blocks.bin'];

describe('tar reader', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'devmount-tar-'));
    await mkdir(join(dir, LONG.split('/')[0]!));
    for (const [i, name] of NAMES.entries()) await writeFile(join(dir, name), name === 'empty' ? '' : `content ${i} `.repeat(i * 7 + 1));
    await writeFile(join(dir, 'two-blocks.bin'), Buffer.alloc(1500, 7));
    await utimes(join(dir, 'plain.txt'), 1_600_000_000, 1_600_000_000);
  });
  afterAll(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

  for (const format of ['gnu', 'pax'] as const) {
    it(`reads every file of a ${format} archive, however the stream is split`, async () => {
      const archive = await tarOf(dir, NAMES, format);
      const parse = (chunks: Buffer[]) => {
        const reader = new TarReader();
        const out: TarFile[] = [];
        for (const c of chunks) out.push(...reader.push(c));
        return out.map((f) => ({ name: f.name, size: f.size, mtime: f.mtimeSeconds, text: f.data.toString('latin1') }));
      };
      const whole = parse([archive]);
      expect(whole.map((f) => f.name)).toEqual(NAMES.map((n) => `./${n}`));
      expect(whole.find((f) => f.name === './plain.txt')?.mtime).toBe(1_600_000_000);
      expect(whole.find((f) => f.name === './two-blocks.bin')?.size).toBe(1500);
      expect(whole.find((f) => f.name === './empty')?.text).toBe('');
      for (const size of [1, 100, 511, 512, 513, 4096]) {
        const chunks: Buffer[] = [];
        for (let i = 0; i < archive.length; i += size) chunks.push(archive.subarray(i, i + size));
        expect(parse(chunks)).toEqual(whole);
      }
    });
  }

  it('copies only an entry that straddles two chunks; the entries after it stay views of the chunk', async () => {
    const archive = await tarOf(dir, NAMES, 'gnu');
    // Cut inside the first entry's data (its header is the first 512 bytes): the rest comes as one big chunk.
    const reader = new TarReader();
    const files = [...reader.push(archive.subarray(0, 600)), ...reader.push(archive.subarray(600))];
    expect(files.map((f) => f.name)).toEqual(NAMES.map((n) => `./${n}`));
    const [first, ...rest] = files;
    expect(first?.data.buffer).not.toBe(archive.buffer);
    // Joining every pending chunk would have copied the whole rest of the stream, and these would point into it.
    for (const f of rest) expect(f.data.length === 0 || f.data.buffer === archive.buffer, f.name).toBe(true);
  });
});
