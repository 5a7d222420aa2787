/**
 * The flag types of `devmount serve` and the hook contract its features plug into (serve-php.ts, serve-routing.ts,
 * serve-remote.ts), in a module of their own so that the features and the command do not import each other; and
 * the one parser of a whole-number flag they share.
 */
import type { Command } from 'commander';
import type { Logger } from 'pino';
import type { DevServerOptions } from '../../devserver/server.js';
import type { LogFormat } from '../../devserver/logger.js';
import type { FileSource } from '../../devserver/file-source.js';
import type { OpenSftpReader, ServerShell } from '../../devserver/nginx/discover.js';
import type { AppLayout } from '../../devserver/app-layout.js';
import type { SiteContext } from '../remote-serve.js';
import { UserError } from '../user-error.js';

/** For `serve user@host:path`: commands on the server, its files over SFTP, and the absolute server path of the site. */
export interface RemoteConfigAccess {
  readonly shell: ServerShell;
  readonly openSftp: OpenSftpReader;
  readonly root: string;
}

export interface ServeFlags {
  port?: string;
  host: string;
  open?: boolean;
  listing: boolean;
  spa?: boolean;
  cors?: boolean;
  header: string[];
  livereload: boolean;
  poll?: string;
  followSymlinks?: boolean;
  allowedHost: string[];
  siteUrl?: string;
  logFormat: LogFormat | 'auto';
  [other: string]: unknown;
}

/**
 * Extension point for other features' flags (--php, --cgi, --proxy): each hook may add options to the
 * command and return extra DevServerOptions (slots, index names) from the parsed flags.
 */
export interface ServeFlagHook {
  addOptions(command: Command): void;
  resolve(flags: ServeFlags, context: ServeHookContext): Promise<ServeHookResult> | ServeHookResult;
}

export type ServeHookResult = Partial<DevServerOptions> & {
  /** Set by a hook whose configuration routes every request (an nginx server block): later hooks leave routing to it. */
  readonly routedBy?: string;
};

/** What a hook resolves its flags against. */
export interface ServeHookContext {
  readonly source: FileSource;
  readonly log: Logger;
  /** The application layout found in DIR before the source was opened (local sites); undefined: not looked for. */
  readonly layout?: AppLayout | null;
  /** For `serve user@host:path`: commands on the server, and the absolute server path of the site. */
  readonly remote?: RemoteConfigAccess;
  /** What routes requests, when an earlier hook said so (ServeHookResult.routedBy). */
  readonly routedBy?: string;
  /** For `serve user@host:path`: what the site needs from the server besides its files (database tunnel, URL). */
  readonly site?: SiteContext;
}

/** A whole-number flag in [min, max]; anything else is a usage error naming the flag. */
export function wholeNumberFlag(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < min || n > max) {
    throw new UserError('usage', `${flag} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return n;
}
