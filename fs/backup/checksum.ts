/**
 * SHA-256 of files on both sides, for --checksum and --verify. On the server: `sha256sum -z` over an exec
 * channel, names fed NUL-separated to `xargs -0` in batches (one round trip per batch, the hashing done where
 * the data is, as rclone does with md5sum); `-z` ends each line with NUL and turns off filename escaping
 * (coreutils sha256sum(1)), so any name comes back intact. Without a shell (or without sha256sum): read the
 * file over SFTP and hash it here.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { shellPathOperand } from '../shell-quote.js';
import type { RemoteShell } from '../bulk/types.js';
import { WorkQueue } from '../bulk/work-queue.js';
import type { RemoteFs } from '../remote/types.js';

const BATCH_FILES = 500;
const BATCHES_IN_FLIGHT = 4;
const SFTP_CHUNK = 4 * 1024 * 1024;

export async function localSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function sftpSha256(fs: RemoteFs, path: string): Promise<string> {
  const file = await fs.open(path, constants.O_RDONLY);
  try {
    const hash = createHash('sha256');
    for (let position = 0; ; ) {
      const chunk = await file.read(position, SFTP_CHUNK);
      hash.update(chunk);
      position += chunk.length;
      if (chunk.length < SFTP_CHUNK) break;
    }
    return hash.digest('hex');
  } finally {
    await file.close();
  }
}

/** Parses `sha256sum -z` output: "<64 hex>  <name>\0" per file (two spaces: text mode; " *" in binary mode). */
export function parseSha256sumZ(output: Buffer): Map<string, string> {
  const result = new Map<string, string>();
  let start = 0;
  for (let nul = output.indexOf(0, start); nul !== -1; nul = output.indexOf(0, start)) {
    const line = output.toString('utf8', start, nul);
    start = nul + 1;
    const m = /^([0-9a-f]{64}) [ *](.*)$/s.exec(line);
    if (m) result.set(m[2] as string, m[1] as string);
  }
  return result;
}

export interface RemoteHasher {
  /** Hashes of `paths` (relative to the root); a path missing from the result could not be read. */
  hash(paths: readonly string[]): Promise<Map<string, string>>;
}

/**
 * `root` is the RemoteFs path of the backed-up tree; `serverRoot` the same directory as the server's shell
 * names it. Paths passed to hash() are relative to both.
 */
export function createRemoteHasher(fs: RemoteFs, root: string, shell: RemoteShell | undefined, serverRoot: string): RemoteHasher {
  const remotePath = (rel: string) => (root.endsWith('/') ? `${root}${rel}` : `${root}/${rel}`);
  const viaSftp = async (paths: readonly string[], into: Map<string, string>) => {
    const queue = new WorkQueue(16);
    for (const rel of paths) {
      queue.add(async () => {
        try {
          into.set(rel, await sftpSha256(fs, remotePath(rel)));
        } catch {
          // Unreadable or vanished: left out of the map, which is how the caller learns of it.
        }
      });
    }
    await queue.drain();
  };
  let shellWorks = shell !== undefined;
  const viaShell = async (paths: readonly string[], into: Map<string, string>) => {
    const command = `cd -- ${shellPathOperand(serverRoot === '' ? '.' : serverRoot)} && env LC_ALL=C xargs -0 -r sha256sum -z --`;
    const stdin = Buffer.from(paths.map((p) => `${p}\0`).join(''));
    const result = await (shell as RemoteShell).exec(command, { stdin });
    const hashes = parseSha256sumZ(result.stdout);
    // Exit 127/126: no xargs or sha256sum; no output at all for a non-empty batch: not a usable shell
    // (ForceCommand internal-sftp accepts exec but runs the SFTP server instead).
    if (result.code === 127 || result.code === 126 || (hashes.size === 0 && result.code !== 123 && result.code !== 1)) {
      shellWorks = false;
      await viaSftp(paths, into);
      return;
    }
    for (const [name, digest] of hashes) into.set(name, digest);
  };
  return {
    async hash(paths) {
      const into = new Map<string, string>();
      const queue = new WorkQueue(BATCHES_IN_FLIGHT);
      for (let i = 0; i < paths.length; i += BATCH_FILES) {
        const batch = paths.slice(i, i + BATCH_FILES);
        queue.add(async () => {
          if (!shellWorks) return viaSftp(batch, into);
          try {
            await viaShell(batch, into);
          } catch {
            // exec refused: this server has no shell; every later batch goes over SFTP.
            shellWorks = false;
            await viaSftp(batch, into);
          }
        });
      }
      await queue.drain();
      return into;
    },
  };
}

/** How a file's copy compares with the server's: 'gone' when the server's could not be read. */
export type HashVerdict = 'same' | 'differs' | 'gone';

/**
 * --checksum and --verify: SHA-256 of `paths` on the server (createRemoteHasher) against their copies under
 * `localDir`, each verdict handed to `each` as it is known. A local copy that cannot be read counts as 'differs'
 * when `unreadableLocal` is 'differs'; with 'throw' the error stops the caller.
 */
export async function compareWithServer(
  source: { readonly fs: RemoteFs; readonly shell?: RemoteShell; readonly serverRoot: string },
  localDir: string,
  paths: readonly string[],
  unreadableLocal: 'differs' | 'throw',
  each: (path: string, verdict: HashVerdict) => void,
): Promise<void> {
  const remoteHashes = await createRemoteHasher(source.fs, '/', source.shell, source.serverRoot).hash(paths);
  const queue = new WorkQueue(8);
  for (const path of paths) {
    queue.add(async () => {
      const remote = remoteHashes.get(path);
      if (remote === undefined) { each(path, 'gone'); return; }
      const reading = localSha256(join(localDir, path));
      const local = unreadableLocal === 'differs' ? await reading.catch(() => undefined) : await reading;
      each(path, local === remote ? 'same' : 'differs');
    });
  }
  await queue.drain();
}
