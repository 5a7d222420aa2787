/**
 * Exit codes: one table, documented in the README. Scripts and cron jobs depend on these numbers: never
 * renumber, only add.
 */
export const ExitCode = Object.freeze({
  ok: 0,
  /** Anything not listed below; for `backup`: nothing new was kept. */
  failure: 1,
  /** Bad command line, option or config file. */
  usage: 2,
  /** `backup`: a snapshot was kept, but some files failed or vanished. */
  partial: 3,
  /** Could not reach the server: DNS failure, connection refused, timeout, connection lost for good. */
  connect: 4,
  /** The server refused every authentication method we could offer. */
  auth: 5,
  /** The server's host key is unknown (and could not be confirmed) or has changed. */
  hostKey: 6,
  /** The remote path does not exist, is not a directory, or is not accessible. */
  remotePath: 7,
  /** The local mount point is missing, not a directory, not empty, or already mounted. */
  mountpoint: 8,
  /** FUSE is not available on this machine (no /dev/fuse, no permission, missing library). */
  fuse: 9,
  /** Another run holds the lock (backup DEST, or a mount of the same mount point). */
  locked: 10,
  /** The server keeps sending malformed SFTP packets (at connect, or at every reconnect attempt). */
  protocol: 11,
  /** Stopped by SIGINT (128 + 2, as shells report it). */
  interrupted: 130,
});

export type ExitCodeName = keyof typeof ExitCode;
