/**
 * Builds the file system stack a mount serves: SSH options → connector → SFTP session pool → caches → VFS.
 * The one place mount options are handed to each layer; errors from opening the remote directory are turned
 * into the remote-path exit code here (FsError ENOENT/ENOTDIR/EACCES at mount time means "wrong path").
 */
import type { Logger } from 'pino';
import { FsError } from '../fs/errors.js';
import type { RemoteSpec } from '../fs/remote-spec.js';
import { createCachedRemoteFs } from '../fs/cache/cached-remote-fs.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../fs/sftp/remote-fs.js';
import { withPrefetch } from '../fs/prefetch/index.js';
import { createConnector } from '../fs/ssh/connect.js';
import type { Connector } from '../fs/ssh/types.js';
import { resolveSshOptions } from '../fs/ssh/resolve.js';
import type { Prompter } from '../fs/ssh/types.js';
import { createVfs } from '../fs/vfs/vfs.js';
import type { Vfs } from '../fs/vfs/types.js';
import type { OperationContext } from '../fs/trace.js';
import { toSshOverrides, type MountOptions } from './mount-options.js';
import { UserError } from './user-error.js';

export interface StackInputs {
  readonly password: string | undefined;
  readonly prompter: Prompter | undefined;
  readonly log: Logger;
  /** Who remote operations are done for (a dev server's request scope): logged with them at debug level. */
  readonly operationContext?: OperationContext;
}

export async function openMountStack(spec: RemoteSpec, options: MountOptions, inputs: StackInputs): Promise<Vfs> {
  return (await openMountStackParts(spec, options, inputs)).vfs;
}

/** The VFS and the SFTP layer under it (its exec/execStream and connection state feed the remote watcher, issue 5). */
export interface MountStackParts {
  readonly vfs: Vfs;
  readonly remote: SftpRemoteFs;
  /** Opens another connection to the same server (for reading files outside the mounted path). */
  readonly connector: Connector;
}

export async function openMountStackParts(spec: RemoteSpec, options: MountOptions, inputs: StackInputs): Promise<MountStackParts> {
  const ssh = await resolveSshOptions(
    { host: spec.host, ...(spec.user !== undefined ? { user: spec.user } : {}) },
    {
      ...toSshOverrides(options),
      ...(inputs.password !== undefined ? { password: inputs.password } : {}),
      ...(inputs.prompter ? { prompter: inputs.prompter } : {}),
    },
  );
  const connector = createConnector(ssh);
  let remote: SftpRemoteFs;
  try {
    remote = await createSftpRemoteFs(connector, spec.path, {
      maxConns: options.maxConns,
      reconnect: options.reconnect,
      opTimeoutMs: options.opTimeout * 1000,
      logger: inputs.log.child({ layer: 'sftp' }),
      operationContext: inputs.operationContext,
    });
  } catch (err) {
    if (err instanceof FsError && (err.code === 'ENOENT' || err.code === 'ENOTDIR' || err.code === 'EACCES' || err.code === 'EPERM')) {
      const where = `${spec.host}:${spec.path || '~'}`;
      const why = err.code === 'ENOENT' ? 'does not exist' : err.code === 'ENOTDIR' ? 'is not a directory' : 'is not accessible';
      throw new UserError('remotePath', `remote path ${where} ${why}: check the path after the colon`);
    }
    throw err;
  }
  const cached = createCachedRemoteFs(remote, {
    enabled: options.cache,
    attrTimeoutMs: options.cacheTimeout * 1000,
    linkTimeoutMs: options.cacheTimeout * 1000,
    dirTimeoutMs: options.dcacheTimeout * 1000,
    negativeTimeoutMs: options.negativeTimeout * 1000,
    autoCache: options.autoCache,
  });
  // Whole-subtree metadata in one exec round trip on first access (issue 6; fs/prefetch); READDIR walk on SFTP-only servers.
  const prefetching = withPrefetch(cached, {
    shell: { shell: remote.selfCheckingShell, serverRoot: remote.remoteRoot },
    log: inputs.log.child({ layer: 'prefetch' }),
    ...(inputs.operationContext ? { operationContext: inputs.operationContext } : {}),
  });
  return Object.freeze({ vfs: createVfs(prefetching, { followSymlinks: options.followSymlinks, readOnly: options.readOnly }), remote, connector });
}
