/**
 * createSftpRemoteFs: the RemoteFs (fs/remote/types.ts) over a pool of reconnecting SFTP sessions. Path
 * operations go to the metadata session, open files to a data session (fs/sftp/pool.ts); every operation runs
 * through a session's in-flight table, which retries it across reconnects (fs/sftp/session.ts).
 */
import type { Client, ClientChannel } from 'ssh2';
import type { RemoteShell } from '../bulk/types.js';
import { FsError } from '../errors.js';
import { isDir } from '../posix.js';
import type { RemoteFile, RemoteFs, SetAttr } from '../remote/types.js';
import { ConnectError, type Connector, type ExecResult } from '../ssh/types.js';
import type { Attr, ConnectionState, DirEntry, StatFs } from '../types.js';
import { SftpFile } from './file.js';
import { resolveSftpOptions, type ResolvedSftpOptions, type SftpOptions } from './options.js';
import {
  linkOp, lstatOp, mkdirOp, openOp, readdirOp, readlinkOp, renameOp, rmdirOp, setattrOp, statfsOp, symlinkOp, unlinkOp,
  remotePathOf, type PathOpsContext,
} from './path-ops.js';
import { SessionPool, type PoolStats } from './pool.js';
import type { Operation, Session } from './session.js';
import { rethrowMapped, sftpStatusOf, SFTP_STATUS } from './status.js';
import { hasExtension, toSftpFlags, wire } from './wire.js';

export type { SftpOptions } from './options.js';

export interface SftpRemoteFs extends RemoteFs {
  /** The absolute server path of '/'. */
  readonly remoteRoot: string;
  close(): Promise<void>;
  state(): ConnectionState;
  stats(): PoolStats;
  onStateChange(listener: (state: ConnectionState) => void): () => void;
  /** Why the connection stopped reconnecting by itself (the server keeps breaking the protocol), or null. */
  gaveUp(): ConnectError | null;
  /** Runs a command on the current metadata connection (never retried); ConnectError('no-exec') on SFTP-only servers. */
  exec(command: string, options?: { stdin?: Buffer | string; signal?: AbortSignal }): Promise<ExecResult>;
  execStream(command: string): Promise<ClientChannel>;
  /**
   * The same, without first asking the server whether it runs commands (one more shell start and three round
   * trips): for commands whose output proves they ran, as a `find` listing always names its root, and under
   * ForceCommand internal-sftp prints nothing (fs/bulk/find-listing.ts).
   */
  readonly selfCheckingShell: RemoteShell;
  /** The metadata connection's SSH client (after a reconnect, the new one): forwards open their channels on it (fs/tunnel). */
  sshClient(): Promise<Client>;
}

export async function createSftpRemoteFs(
  connector: Connector,
  remoteRoot: string,
  options: Partial<SftpOptions> = {},
): Promise<SftpRemoteFs> {
  const resolved = resolveSftpOptions(options);
  const pool = await SessionPool.open(connector, resolved);
  try {
    const root = await pool.meta.run(resolveRootOp(remoteRoot));
    return new SftpRemoteFsImpl(pool, root, resolved);
  } catch (err) {
    await pool.close();
    throw err;
  }
}

/**
 * '' and '~' are the login directory, '~/x' is relative to it (SFTP resolves relative paths against the
 * login directory), '~user/x' needs expand-path@openssh.com. Resolved once, with REALPATH, at connect.
 */
function resolveRootOp(remoteRoot: string): Operation<string> {
  return {
    name: 'resolve-root',
    path: remoteRoot,
    policy: 'idempotent',
    async run({ conn }) {
      const sftp = conn.sftp;
      let spec = remoteRoot === '' || remoteRoot === '~' ? '.' : remoteRoot;
      if (spec.startsWith('~/')) spec = spec.slice(2) || '.';
      const missing = () => new FsError('ENOENT', `remote path ${remoteRoot || '~'} does not exist`, remoteRoot);
      try {
        if (spec.startsWith('~')) {
          if (!hasExtension(sftp, 'expand-path@openssh.com')) throw missing();
          spec = await wire.expandPath(sftp, spec);
        }
        const absolute = await wire.realpath(sftp, spec);
        const attrs = await wire.stat(sftp, absolute);
        if (!isDir(attrs.mode)) {
          throw new FsError('ENOTDIR', `remote path ${remoteRoot} is not a directory`, remoteRoot);
        }
        return absolute;
      } catch (err) {
        if (err instanceof FsError) throw err;
        if (sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) throw missing();
        return rethrowMapped(err, remoteRoot);
      }
    },
  };
}

class SftpRemoteFsImpl implements SftpRemoteFs {
  private readonly ctx: PathOpsContext;
  private execProbe: Promise<boolean> | null = null;

  constructor(
    private readonly pool: SessionPool,
    readonly remoteRoot: string,
    private readonly options: ResolvedSftpOptions,
  ) {
    this.ctx = Object.freeze({ root: remoteRoot });
  }

  private get meta(): Session {
    return this.pool.meta;
  }

  lstat(path: string): Promise<Attr> {
    return this.traced(lstatOp(this.ctx, path, false));
  }

  stat(path: string): Promise<Attr> {
    return this.traced(lstatOp(this.ctx, path, true));
  }

  readdir(path: string): Promise<DirEntry[]> {
    return this.traced(readdirOp(this.ctx, path, this.options.readdirInFlight));
  }

  readlink(path: string): Promise<string> {
    return this.traced(readlinkOp(this.ctx, path));
  }

  async open(path: string, flags: number, mode?: number): Promise<RemoteFile> {
    const session = this.pool.data();
    const sftpFlags = toSftpFlags(flags);
    const op = openOp(this.ctx, path, sftpFlags, mode);
    const opened = await this.options.tracer.time(op.name, path, () => session.run(op));
    return new SftpFile(session, path, remotePathOf(this.remoteRoot, path), sftpFlags, opened, opened.limits, this.options);
  }

  /** A metadata operation, timed and logged for its caller (fs/trace.ts). */
  private traced<T>(op: Operation<T>): Promise<T> {
    return this.options.tracer.time(op.name, op.path ?? '', () => this.meta.run(op));
  }

  async readFile(path: string, expectedSize?: number): Promise<Buffer> {
    const file = await this.open(path, 0);
    try {
      const size = expectedSize ?? (await this.sizeOfFile(file, path));
      const parts: Buffer[] = [];
      let position = 0;
      // Ask for one byte more than the size: a file that did not grow ends inside this window, with no extra round trip.
      let want = size + 1;
      for (;;) {
        const part = await file.read(position, want);
        parts.push(part);
        position += part.length;
        if (part.length < want) break;
        want = this.options.chunkBytes * this.options.chunksInFlight;
      }
      return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    } finally {
      // Not waited for: the bytes are complete, and nothing a read-only handle's CLOSE says could change them
      // (at 20 ms RTT a small file cost OPEN, FSTAT, READ and CLOSE: 80 ms; now OPEN and READ).
      file.close().catch((err: unknown) => this.options.logger.debug({ path, err: (err as Error).message }, 'closing a read-only file failed'));
    }
  }

  private async sizeOfFile(file: RemoteFile, path: string): Promise<number> {
    const { size, mode } = await file.fstat();
    if (isDir(mode)) throw new FsError('EISDIR', `EISDIR: readFile ${path}`, path);
    return size;
  }

  mkdir(path: string, mode: number): Promise<void> {
    return this.traced(mkdirOp(this.ctx, path, mode));
  }

  rmdir(path: string): Promise<void> {
    return this.traced(rmdirOp(this.ctx, path));
  }

  unlink(path: string): Promise<void> {
    return this.traced(unlinkOp(this.ctx, path));
  }

  rename(from: string, to: string): Promise<void> {
    return this.traced(renameOp(this.ctx, from, to));
  }

  symlink(target: string, path: string): Promise<void> {
    return this.traced(symlinkOp(this.ctx, target, path));
  }

  link(existing: string, path: string): Promise<void> {
    return this.traced(linkOp(this.ctx, existing, path));
  }

  setattr(path: string, attrs: SetAttr): Promise<void> {
    return this.traced(setattrOp(this.ctx, path, attrs));
  }

  statfs(path: string): Promise<StatFs> {
    return this.traced(statfsOp(this.ctx, path));
  }

  async exec(command: string, options?: { stdin?: Buffer | string; signal?: AbortSignal }): Promise<ExecResult> {
    await this.assertExec();
    return this.selfCheckingShell.exec(command, options);
  }

  async execStream(command: string): Promise<ClientChannel> {
    await this.assertExec();
    return this.selfCheckingShell.execStream(command);
  }

  readonly selfCheckingShell: RemoteShell = Object.freeze({
    exec: async (command: string, options?: { stdin?: Buffer | string; signal?: AbortSignal }) => (await this.meta.connection()).exec(command, options),
    execStream: async (command: string) => (await this.meta.connection()).execStream(command),
  });

  async sshClient(): Promise<Client> {
    return (await this.meta.connection()).client;
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  state(): ConnectionState {
    return this.pool.state();
  }

  stats(): PoolStats {
    return this.pool.stats();
  }

  onStateChange(listener: (state: ConnectionState) => void): () => void {
    return this.pool.onStateChange(listener);
  }

  gaveUp(): ConnectError | null {
    return this.pool.gaveUp();
  }

  /**
   * With `ForceCommand internal-sftp` (shared hosts) sshd accepts an exec request but runs the SFTP server
   * instead of the command, which prints nothing and exits at end of input: a probe command that must echo a
   * known string tells the two apart. Probed once per file system; a server's config does not change under us.
   */
  private async assertExec(): Promise<void> {
    this.execProbe ??= (async () => {
      const conn = await this.meta.connection();
      try {
        const result = await conn.exec('printf devmount-exec-ok');
        return result.stdout.toString() === 'devmount-exec-ok';
      } catch (err) {
        if (err instanceof ConnectError && err.kind === 'no-exec') return false;
        this.execProbe = null; // a drop during the probe says nothing about the server: probe again next time
        throw err;
      }
    })();
    if (!(await this.execProbe)) {
      throw new ConnectError('no-exec', 'the server does not allow commands (SFTP only): using SFTP for everything');
    }
  }
}
