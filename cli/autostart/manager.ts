/**
 * A login service manager devmount can install itself into: systemd (Linux) or launchd (macOS). Chosen once
 * from the platform; each knows where its file lives, how to render it and how to enable/disable it.
 */
import type { Env } from '../config/paths.js';
import type { AutostartSpec } from './spec.js';

export type AutostartPlatform = 'linux' | 'macos';

export interface InstallResult {
  readonly path: string;
  /** Lines to show the person: what was enabled, how to start now. */
  readonly notes: readonly string[];
}

export interface ServiceStatus {
  readonly path: string;
  readonly installed: boolean;
  /** One line each, e.g. "enabled: enabled", "active: active (exited)". */
  readonly details: readonly string[];
}

export interface AutostartManager {
  readonly platform: AutostartPlatform;
  /** Where the unit/plist goes. */
  filePath(env: Env): string;
  render(spec: AutostartSpec): string;
  /** The commands install would run after writing the file, for `--print`. */
  enableCommands(env: Env): readonly string[];
  install(spec: AutostartSpec, env: Env): Promise<InstallResult>;
  /** Resolves to the removed path, or undefined when nothing was installed. */
  uninstall(env: Env): Promise<string | undefined>;
  status(env: Env): Promise<ServiceStatus>;
}
