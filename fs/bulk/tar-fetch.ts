/**
 * Many small files in one stream: `tar -c` on the server over an exec channel, read as it arrives (rsync's
 * trick: no round trip per file). SFTP needs OPEN and READ per file, two round trips each, so 10k files at
 * 20 ms cost seconds even with hundreds in flight. Files are named on tar's stdin, NUL-separated, each as
 * "./path" so a name starting with '-' is never an option (GNU tar reads options from -T lists).
 *
 * Whatever does not come through intact — not in the archive (vanished, unreadable, no tar on the server),
 * size or mtime not what the listing said, or named in tar's "file changed as we read it" warnings — is
 * returned for the caller to fetch over SFTP, which reports vanished and unreadable files properly.
 */
import { shellPathOperand } from '../shell-quote.js';
import type { RemoteShell, TreeEntry } from './types.js';
import { WorkQueue } from './work-queue.js';
import { TarReader, type TarFile } from './tar-reader.js';

/** Local writes waiting behind the stream, at most: bounds memory while the disk catches up. */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export interface TarFetchOptions {
  readonly place: (entry: TreeEntry, data: Buffer) => Promise<void>;
  readonly aborted: () => boolean;
}

export function tarCommand(serverRoot: string): string {
  return `cd -- ${shellPathOperand(serverRoot === '' ? '.' : serverRoot)} && env LC_ALL=C tar -c -f - --format=gnu --no-recursion --null -T -`;
}

/** Returns the entries that still need fetching. */
export async function fetchWithTar(shell: RemoteShell, serverRoot: string, entries: readonly TreeEntry[], options: TarFetchOptions): Promise<TreeEntry[]> {
  const wanted = new Map(entries.map((e) => [e.path, e]));
  const placed = new Set<string>();
  const channel = await shell.execStream(tarCommand(serverRoot));
  let stderr = '';
  channel.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString('utf8')).slice(-1_000_000); });
  channel.end(Buffer.from(entries.map((e) => `./${e.path}\0`).join('')));

  const writes = new WorkQueue(32);
  let pendingBytes = 0;
  let writeError: unknown;
  const reader = new TarReader();
  const accept = async (file: TarFile) => {
    const path = file.name.startsWith('./') ? file.name.slice(2) : file.name;
    const entry = wanted.get(path);
    // Changed since the listing: SFTP fetches it again with the listing's metadata, like any other copy.
    if (!entry || entry.size !== file.size || Math.floor(entry.mtimeMs / 1000) !== file.mtimeSeconds) return;
    while (pendingBytes > MAX_PENDING_BYTES) await new Promise((r) => setTimeout(r, 5));
    pendingBytes += file.size;
    writes.add(async () => {
      try {
        await options.place(entry, file.data);
        placed.add(path);
      } catch (err) {
        writeError ??= err;
      } finally {
        pendingBytes -= file.size;
      }
    });
  };
  for await (const chunk of channel as AsyncIterable<Buffer>) {
    if (options.aborted() || writeError) {
      channel.close();
      break;
    }
    for (const file of reader.push(chunk)) await accept(file);
  }
  await writes.drain();
  if (writeError) throw writeError;
  for (const line of stderr.split('\n')) {
    // GNU tar: "tar: ./path: file changed as we read it" / "File shrank by N bytes; padding with zeros".
    const m = /^tar: \.\/(.*): (file changed as we read it|File shrank by .*)$/.exec(line);
    if (m) placed.delete(m[1] as string);
  }
  return entries.filter((e) => !placed.has(e.path));
}
