/**
 * Opening the remote side for `backup` and `restore`: the same resolution as `mount` — `-o` through
 * cli/mount-options.ts, ~/.ssh/config through fs/ssh/resolve.ts — then an SFTP RemoteFs whose exec channel
 * carries the bulk listing and checksums. Never prompts without a TTY (createTtyPrompter returns undefined).
 */
import { isFsError } from '../../fs/errors.js';
import { parseRemoteSpec } from '../../fs/remote-spec.js';
import type { BackupSource } from '../../fs/backup/types.js';
import { createSftpRemoteFs, type SftpRemoteFs } from '../../fs/sftp/remote-fs.js';
import { createConnector } from '../../fs/ssh/connect.js';
import { resolveSshOptions } from '../../fs/ssh/resolve.js';
import { parseOptionList, parsePortFlag, toSshOverrides } from '../mount-options.js';
import { readPasswordFromStdin } from '../password-stdin.js';
import { createTtyPrompter } from '../prompter.js';
import { UserError } from '../user-error.js';
import { createLazyDataFs, type ClosableRemoteFs } from './lazy-data-fs.js';

const REMOTE_PATH_ERRORS = new Set(['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM']);

export interface ConnectionFlags {
  port?: string;
  option: string[];
  passwordStdin?: boolean;
}

export interface OpenedRemote {
  readonly source: BackupSource;
  close(): Promise<void>;
}

/**
 * Data connections besides the metadata one: many files in flight spread over several SFTP channels
 * (each OpenSSH sftp-server answers its requests one at a time). Opened lazily (cli/backup/lazy-data-fs.ts):
 * a run with nothing to copy needs only the metadata connection.
 */
const DEFAULT_DATA_CONNS = 3;

export async function openRemoteSource(spec: string, flags: ConnectionFlags, _purpose: 'backup' | 'restore'): Promise<OpenedRemote> {
  const remote = parseRemoteSpec(spec);
  const parsed = parseOptionList(flags.option);
  const port = flags.port === undefined ? undefined : parsePortFlag(flags.port);
  const overrides = { ...toSshOverrides(parsed), ...(port === undefined ? {} : { port }) };
  const password = flags.passwordStdin ? await readPasswordFromStdin() : undefined;
  const prompter = createTtyPrompter();
  const ssh = await resolveSshOptions(remote.user === undefined ? { host: remote.host } : { user: remote.user, host: remote.host }, {
    ...overrides,
    ...(password === undefined ? {} : { password }),
    ...(prompter === undefined ? {} : { prompter }),
  });
  const maxConns = flags.option.some((o) => /(^|,)max_conns=/.test(o)) ? parsed.maxConns : DEFAULT_DATA_CONNS + 1;
  const connector = createConnector(ssh);
  const sftpOptions = { maxConns: 1, opTimeoutMs: parsed.opTimeout * 1000 };
  let meta: SftpRemoteFs;
  try {
    meta = await createSftpRemoteFs(connector, remote.path, sftpOptions);
  } catch (err) {
    // The root is resolved while connecting: a missing or non-directory path is the user's to fix (exit 7).
    if (isFsError(err) && REMOTE_PATH_ERRORS.has(err.code)) {
      throw new UserError('remotePath', `${spec}: ${err.message}: check the path after the ":"`);
    }
    throw err;
  }
  // One connection each (maxConns 1: no idle metadata session per pool), opened in parallel: the metadata
  // connection has already authenticated, so any passphrase or password is remembered by the connector.
  const openData = async (): Promise<ClosableRemoteFs[]> => {
    const opened = await Promise.allSettled(Array.from({ length: maxConns - 1 }, () => createSftpRemoteFs(connector, meta.remoteRoot, sftpOptions)));
    return opened.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  };
  const files = createLazyDataFs(meta, openData);
  return {
    source: Object.freeze({ fs: files, shell: meta, prepareCopies: files.warmUp, serverRoot: meta.remoteRoot, label: `${ssh.user}@${ssh.hostName}:${meta.remoteRoot}${ssh.port === 22 ? '' : ` (port ${ssh.port})`}` }),
    close: async () => { await Promise.allSettled([files.closeData(), meta.close()]); },
  };
}
