/** Shared by the backup/restore tests: running the CLI, building a site tree, and describing a tree for comparison. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdtemp, realpath, mkdir, readdir, rm, readFile, readlink, symlink, utimes, writeFile, lutimes } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { expect } from 'vitest';
import { startSshd, type Sshd } from './harness/sshd.js';

export const CLI = join(import.meta.dirname, '..', 'bin', 'devmount.js');

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function runCli(args: string[], timeoutMs = 45_000): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A CLI run whose NDJSON events can be awaited one by one (for kill -9 / lock / SIGINT tests). */
export interface LiveRun {
  readonly child: ChildProcess;
  readonly events: Array<Record<string, unknown>>;
  waitFor(predicate: (e: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

export function startCli(args: string[]): LiveRun {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: Array<Record<string, unknown>> = [];
  const listeners = new Set<() => void>();
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    events.push(JSON.parse(line) as Record<string, unknown>);
    for (const l of listeners) l();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
  return {
    child,
    events,
    exit,
    waitFor(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = events.find(predicate);
          if (found) { listeners.delete(check); clearTimeout(timer); resolve(found); }
        };
        const timer = setTimeout(() => { listeners.delete(check); reject(new Error(`event not seen in ${timeoutMs} ms; stderr: ${stderr}`)); }, timeoutMs);
        listeners.add(check);
        void exit.then(() => { if (listeners.has(check)) { check(); if (listeners.has(check)) { listeners.delete(check); clearTimeout(timer); reject(new Error(`exited before the event; stderr: ${stderr}`)); } } });
        check();
      });
    },
  };
}

export function connArgs(sshd: Sshd, options: { port?: number; knownHosts?: string } = {}): string[] {
  return ['-p', String(options.port ?? sshd.port), '-o', `IdentityFile=${sshd.privateKeyPath}`,
    '-o', `UserKnownHostsFile=${options.knownHosts ?? sshd.knownHostsPath}`, '-o', 'StrictHostKeyChecking=yes'];
}

export const ODD_NAMES = ['with space.txt', 'new\nline.txt', 'fünke ☃.txt', '-rf', "it's \"q\"", 'back\\slash'];

/** A small site: odd names, modes, ms mtimes, symlinks (relative, dangling, to a dir), empty dirs, one multi-chunk file. */
export async function buildSite(root: string, options: { bigFileBytes?: number; smallFiles?: number } = {}): Promise<void> {
  await mkdir(join(root, 'wp-content/uploads/2024'), { recursive: true });
  await mkdir(join(root, 'empty'), { recursive: true });
  await mkdir(join(root, 'cache/page'), { recursive: true });
  await mkdir(join(root, 'private'), { recursive: true });
  await writeFile(join(root, 'index.php'), '<?php echo "hi";');
  await writeFile(join(root, 'wp-config.php'), '<?php define("DB", "x");');
  await chmod(join(root, 'wp-config.php'), 0o600);
  await writeFile(join(root, 'deploy.sh'), '#!/bin/sh\necho deploy\n');
  await chmod(join(root, 'deploy.sh'), 0o755);
  await writeFile(join(root, 'empty-file'), '');
  await writeFile(join(root, 'debug.log'), 'log line\n');
  await writeFile(join(root, 'cache/page/home.html'), '<html>cached</html>');
  await writeFile(join(root, 'private/notes.txt'), 'private notes');
  await chmod(join(root, 'private'), 0o2750);
  for (const [i, name] of ODD_NAMES.entries()) await writeFile(join(root, name), `odd ${i}`);
  for (let i = 0; i < (options.smallFiles ?? 120); i += 1) {
    await writeFile(join(root, 'wp-content/uploads/2024', `img-${i}.jpg`), `image ${i} `.repeat(i + 1));
  }
  if (options.bigFileBytes) {
    const big = Buffer.alloc(options.bigFileBytes);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE((i * 2654435761) >>> 0, i);
    await writeFile(join(root, 'wp-content/big.bin'), big);
  }
  await symlink('index.php', join(root, 'link-to-index'));
  await symlink('../nowhere', join(root, 'wp-content/dangling'));
  await symlink('wp-content/uploads', join(root, 'uploads'));
  await utimes(join(root, 'index.php'), exactTime(1_600_000_000_000), exactTime(1_600_000_123_456));
  await lutimes(join(root, 'link-to-index'), exactTime(1_600_000_000_000), exactTime(1_600_000_000_789));
  await utimes(join(root, 'empty'), exactTime(1_500_000_000_000), exactTime(1_500_000_000_250));
}

export interface Described {
  readonly type: string;
  readonly mode: number;
  readonly mtimeMs: number;
  readonly size: number;
  readonly sha?: string;
  readonly target?: string;
}

/** Every entry under root (root itself as '.'), with content hashes; mtimes in whole milliseconds. */
export async function describeTree(start: string, withRootTimes = true): Promise<Map<string, Described>> {
  const root = await realpath(start); // DEST/latest is a symlink to the snapshot
  const out = new Map<string, Described>();
  const walk = async (rel: string) => {
    const full = rel === '.' ? root : join(root, rel);
    const st = await lstat(full, { bigint: true });
    const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
    out.set(rel, {
      type,
      mode: Number(st.mode) & 0o7777,
      // Truncated, as find's %T@ is by the engine; times the tests set go through exactTime().
      mtimeMs: rel === '.' && !withRootTimes ? 0 : Number(st.mtimeNs / 1_000_000n),
      size: type === 'dir' ? 0 : Number(st.size),
      ...(type === 'file' ? { sha: createHash('sha256').update(await readFile(full)).digest('hex') } : {}),
      ...(type === 'symlink' ? { target: await readlink(full) } : {}),
    });
    if (type === 'dir') for (const name of await readdir(full)) await walk(rel === '.' ? name : `${rel}/${name}`);
  };
  await walk('.');
  return out;
}

/** A millisecond time for utimes() that reads back as that millisecond (see fs/backup/local-tree.ts utimesSeconds). */
export function exactTime(ms: number): number {
  return (ms + 0.0005) / 1000;
}

export async function inode(path: string): Promise<number> {
  return (await lstat(path)).ino;
}

/** Names in DEST that are snapshots (timestamps), sorted. */
export async function snapshotNames(dest: string): Promise<string[]> {
  return (await readdir(dest)).filter((n) => /^\d{4}-\d{2}-\d{2}T\d{6}Z$/.test(n)).sort();
}

export function expectOk(result: CliResult): void {
  expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
}

/** The set-up the backup tests share: the harness sshd, a site built under its root, a local scratch directory. */
export interface BackupSite {
  readonly sshd: Sshd;
  /** The site on the "server" (under sshd.root). */
  readonly site: string;
  /** `127.0.0.1:SITE`, the backup source argument. */
  readonly source: string;
  /** A fresh local directory for destinations. */
  readonly work: string;
  stop(): Promise<void>;
}

export async function startBackupSite(workPrefix: string, build: Parameters<typeof buildSite>[1] = {}): Promise<BackupSite> {
  const sshd = await startSshd();
  try {
    const site = join(sshd.root, 'site');
    await buildSite(site, build);
    const work = await mkdtemp(join(tmpdir(), workPrefix));
    return {
      sshd, site, work, source: `127.0.0.1:${site}`,
      stop: async () => {
        await sshd.stop();
        await rm(work, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await sshd.stop();
    throw err;
  }
}
