/**
 * Whole-subtree metadata: one entry per file, directory and symlink under a root, produced either by one
 * remote `find -printf` over an exec channel or by a pipelined READDIR walk. Independent of backups: the
 * mount's caches consume the same entries.
 */
import type { ClientChannel } from 'ssh2';
import type { ExecResult } from '../ssh/types.js';
import type { RemoteFs } from '../remote/types.js';

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';

export interface TreeEntry {
  /** POSIX path relative to the listed root, without a leading slash; '' is the root itself. */
  readonly path: string;
  readonly type: EntryType;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777), without the file type. */
  readonly mode: number;
  readonly size: number;
  /** Milliseconds since the epoch, truncated to `mtimePrecisionMs` of the listing. */
  readonly mtimeMs: number;
  readonly uid: number;
  readonly gid: number;
  /** Symlinks only: the link's target, unresolved. */
  readonly linkTarget?: string;
}

/** 'find': one exec round trip; 'readdir': SFTP READDIR walk (servers without a shell). */
export type ListMethod = 'find' | 'readdir';

/** A part of the tree that could not be listed (unreadable directory, vanished symlink …); the listing goes on. */
export interface ListProblem {
  readonly path: string;
  readonly message: string;
}

export interface TreeListing {
  readonly method: ListMethod;
  /** 1 for `find` (nanoseconds on the wire), 1000 for SFTP v3 (whole seconds, draft-ietf-secsh-filexfer-02 §5). */
  readonly mtimePrecisionMs: number;
  readonly entries: TreeEntry[];
  readonly problems: ListProblem[];
}

/** The exec half of an SSH connection (SshConnection has this shape); absent on servers without a shell. */
export interface RemoteShell {
  exec(command: string, options?: { stdin?: Buffer | string; signal?: AbortSignal }): Promise<ExecResult>;
  execStream(command: string): Promise<ClientChannel>;
}

/** What a listing reads from: the RemoteFs for the READDIR walk, plus a shell for the one-round-trip path. */
export interface TreeSource {
  readonly fs: Pick<RemoteFs, 'readdir' | 'readlink' | 'stat'>;
  readonly shell?: RemoteShell;
  /**
   * The server-side path of the RemoteFs root ('/' of `fs`), as a shell on the server would name it
   * (absolute, or relative to the login directory). Required for the `find` path.
   */
  readonly serverRoot?: string;
}
