/**
 * The control protocol of a running mount: one JSON object per line over a Unix socket, one request and one
 * reply per connection. `status` reports the mount, `refresh` drops cached state, `unmount` stops the mount.
 */
import type { ConnectionState } from '../../fs/types.js';

export type ControlRequest =
  | { readonly op: 'status' }
  | { readonly op: 'refresh'; readonly path?: string }
  | { readonly op: 'unmount' };

/** What `devmount status` shows for one mount, and what `listLiveMounts()` returns. */
export interface MountStatus {
  readonly remote: string;
  readonly mountpoint: string;
  readonly pid: number;
  readonly state: ConnectionState;
  readonly startedAt: string; // ISO 8601
  readonly uptimeSeconds: number;
  readonly reconnects: number;
  readonly inFlight: number;
  readonly cache: Readonly<Record<string, number>>;
  /** `mount --serve`: the dev server's URL and how server-side edits are detected. */
  readonly serveUrl?: string;
  readonly remoteWatch?: string;
}

export type ControlReply =
  | { readonly ok: true; readonly status?: MountStatus }
  | { readonly ok: false; readonly error: string };

/** Upper bound for one line, so a confused peer cannot make us buffer without end. */
export const MAX_LINE_BYTES = 64 * 1024;
