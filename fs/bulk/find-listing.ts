/**
 * Whole-tree metadata in one exec round trip: `find -H DIR -printf …` on the server, parsed as it streams.
 * GNU find is on every mainstream Linux host; busybox find has no -printf and ForceCommand internal-sftp
 * ignores the command, and both yield no entries — the caller then falls back to the READDIR walk.
 */
import { FsError } from '../errors.js';
import { FIND_FORMAT, FindParser } from './find-parser.js';
import { shellPathOperand, shellQuote } from '../shell-quote.js';
import type { ListProblem, RemoteShell, TreeEntry } from './types.js';

export interface FindResult {
  readonly entries: number;
  readonly problems: ListProblem[];
  readonly exitCode: number | null;
  readonly stderr: string;
}

/** The command line: `env` so it works from any login shell (csh has no `VAR=x cmd`); C locale for ASCII quotes in messages. */
export function findCommand(serverDir: string): string {
  return `env LC_ALL=C find -H ${shellPathOperand(serverDir)} -printf ${shellQuote(FIND_FORMAT)}`;
}

/** find's diagnostics in the C locale: "find: 'DIR/sub': Permission denied". */
export function problemsFrom(stderr: string, serverDir: string): ListProblem[] {
  const base = serverDir === '' ? '.' : serverDir.startsWith('-') ? `./${serverDir}` : serverDir;
  const problems: ListProblem[] = [];
  for (const line of stderr.split('\n')) {
    const m = /^find: '(.*)': (.+)$/.exec(line);
    if (!m) {
      if (line.trim() !== '') problems.push({ path: '', message: line.trim() });
      continue;
    }
    const full = m[1] as string;
    const rel = full === base ? '' : full.startsWith(`${base.replace(/\/+$/, '')}/`) ? full.slice(base.replace(/\/+$/, '').length + 1) : full;
    problems.push({ path: rel, message: m[2] as string });
  }
  return problems;
}

export async function runFindListing(shell: RemoteShell, serverDir: string, onEntry: (entry: TreeEntry) => void): Promise<FindResult> {
  const channel = await shell.execStream(findCommand(serverDir));
  const parser = new FindParser(onEntry);
  return new Promise<FindResult>((resolve, reject) => {
    let failed = false;
    let exitCode: number | null = null;
    let exited = false;
    const errChunks: Buffer[] = [];
    channel.on('data', (chunk: Buffer) => {
      if (failed) return;
      try {
        parser.push(chunk);
      } catch (err) {
        failed = true;
        channel.close();
        reject(err);
      }
    });
    channel.stderr.on('data', (chunk: Buffer) => { errChunks.push(chunk); });
    channel.on('exit', (code: number | null) => { exitCode = code; exited = true; });
    channel.on('close', () => {
      if (failed) return;
      try {
        parser.end();
      } catch (err) {
        reject(err);
        return;
      }
      // OpenSSH always sends exit-status (RFC 4254 §6.10) before closing a finished command's channel; a close
      // without it means the connection went away, and a listing cut at a record boundary would look complete.
      if (!exited) {
        reject(new FsError('EIO', `the remote listing of ${serverDir || '~'} stopped before find finished (connection lost?)`));
        return;
      }
      const stderr = Buffer.concat(errChunks).toString('utf8');
      resolve({ entries: parser.entries, problems: problemsFrom(stderr, serverDir), exitCode, stderr });
    });
    // find reads nothing; under ForceCommand internal-sftp, EOF on stdin makes the forced sftp-server exit.
    channel.end();
  });
}
