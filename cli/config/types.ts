/**
 * The resolved form of the config file (`$XDG_CONFIG_HOME/devmount/config.json`): validated, `~` expanded,
 * defaults filled in, frozen. Everything that reads the config (up, down, status, autostart) gets this shape and
 * never looks at the raw JSON. The file's format is described by schema/config.schema.json.
 */

/** A dev server to start over the mount: `devmount serve MOUNTPOINT --port PORT [--php]`. */
export interface ServeConfig {
  readonly port: number;
  readonly php: boolean;
}

export interface MountConfig {
  /** The key under "mounts": what `devmount up NAME` takes. */
  readonly name: string;
  /** `[user@]host:[path]`, exactly as `devmount mount` takes it. */
  readonly remote: string;
  /** Absolute, `~` expanded. */
  readonly mountpoint: string;
  readonly port: number | undefined;
  /** The `-o` list, already checked with the mount command's own parser (cli/mount-options.ts). */
  readonly options: string | undefined;
  readonly serve: ServeConfig | undefined;
}

export interface DevmountConfig {
  /** The file it was read from (for messages). */
  readonly path: string;
  /** In file order. */
  readonly mounts: readonly MountConfig[];
}

/** Defaults for a `serve` block, matching `devmount serve` (schema/config.schema.json repeats them). */
export const SERVE_DEFAULTS = Object.freeze({ port: 8080, php: false });
