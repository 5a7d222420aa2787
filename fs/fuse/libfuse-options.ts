/**
 * The libfuse `-o` options of a mount, for either binding: one list, then the one filter that drops what
 * libfuse 3 refuses. libfuse 3's fuse_new fails the whole mount on an option it does not know ("fuse: unknown
 * option(s)"), and some libfuse 2 options are gone (libfuse 3.0 ChangeLog): big_writes and large_read (always
 * on), nonempty (mounting over a non-empty directory is always allowed), atomic_o_trunc (always on), and
 * max_write and direct_io, which libfuse 3 takes in init (conn->max_write, fuse_config.direct_io), not as options.
 */

/** The adapter options the option list is made from. */
export interface LibfuseOptionSource {
  /** What /proc/mounts shows as the source (sshfs shows user@host:/path). */
  readonly fsname: string;
  readonly readOnly: boolean;
  readonly allowOther: boolean;
  readonly debug?: boolean;
  /** Further mount options as given (mount.fuse(8) spellings: default_permissions, kernel_cache, noatime …). */
  readonly extraOptions?: readonly string[];
  /** The type /proc/mounts shows is fuse.SUBTYPE (default devmount). */
  readonly subtype?: string;
}

const GONE_IN_LIBFUSE3 = new Set(['big_writes', 'large_read', 'nonempty', 'atomic_o_trunc', 'max_write', 'direct_io']);

/**
 * The options libfuse 3 also wants in init: direct_io (only there, fuse_config.direct_io) and max_read (a mount
 * option that init must repeat as conn->max_read, or libfuse refuses the mount).
 */
export function initSettings(source: LibfuseOptionSource): { readonly directIo: number; readonly maxRead: number } {
  const options = source.extraOptions ?? [];
  const maxRead = options.map((o) => /^max_read=(\d+)$/.exec(o)?.[1]).find((v) => v !== undefined);
  return { directIo: options.includes('direct_io') ? 1 : 0, maxRead: maxRead === undefined ? 0 : Number(maxRead) };
}

/** fsname travels inside libfuse's comma-separated option string: keep it to characters that cannot break it. */
function safeFsname(name: string): string {
  return name.replace(/[,\\\s]/g, '_').slice(0, 200) || 'devmount';
}

/** The options libfuse 3 accepts, from a list that may carry libfuse 2 spellings. */
export function forLibfuse3(options: readonly string[]): string[] {
  return options.filter((option) => !GONE_IN_LIBFUSE3.has(option.split('=')[0] ?? option));
}

/** The -o list for the libfuse 3 binding (kernel timeouts are set in its init, not here). */
export function libfuse3Options(source: LibfuseOptionSource): string[] {
  const options = [`fsname=${safeFsname(source.fsname)}`, `subtype=${safeFsname(source.subtype ?? 'devmount')}`];
  if (source.readOnly) options.push('ro');
  if (source.allowOther) options.push('allow_other');
  if (source.debug) options.push('debug');
  return forLibfuse3([...options, ...(source.extraOptions ?? [])]);
}

/**
 * The option string for stock fuse-native 2.2.6, which has no `big_writes` option: libfuse parses the whole
 * `-o` string fuse-native builds, so the options ride in the `fsname` value (measured: 128 KiB writes instead
 * of 4 KiB).
 */
export function libfuseOptionString(source: LibfuseOptionSource & { readonly attrTimeout: number; readonly entryTimeout: number }): string {
  const parts = [
    safeFsname(source.fsname),
    'big_writes',
    `attr_timeout=${source.attrTimeout}`,
    `entry_timeout=${source.entryTimeout}`,
    // The VFS keeps its own negative cache; a kernel one could not be invalidated by `devmount refresh`.
    'negative_timeout=0',
  ];
  if (source.readOnly) parts.push('ro');
  return [...parts, ...(source.extraOptions ?? [])].join(',');
}
