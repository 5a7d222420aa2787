/**
 * What the login service runs, independent of the service manager: `devmount up` (with the names, the config
 * file and the network wait chosen at install time) when the session starts, `devmount down` when it stops.
 */
import type { SelfCommand } from '../up/self.js';

export interface AutostartSpec {
  readonly self: SelfCommand;
  /** Absolute path when `--config` was given at install time; else `up` finds the default at run time. */
  readonly configPath: string | undefined;
  /** Mount names to bring up; empty = all configured. */
  readonly names: readonly string[];
  /** `up --wait`: how long to keep retrying while the network comes up. */
  readonly waitSeconds: number;
  /** Directory for the service's own stdout/stderr where the service manager does not keep them (launchd). */
  readonly logDir: string;
}

/** Default network wait at login: Wi-Fi and VPNs can take a minute or two after the desktop appears. */
export const AUTOSTART_WAIT_SECONDS = 120;

function configArgs(spec: AutostartSpec): string[] {
  return spec.configPath === undefined ? [] : ['--config', spec.configPath];
}

export function upCommand(spec: AutostartSpec): string[] {
  return [spec.self.node, spec.self.script, 'up', '--wait', String(spec.waitSeconds), ...configArgs(spec), ...spec.names];
}

export function downCommand(spec: AutostartSpec): string[] {
  return [spec.self.node, spec.self.script, 'down', ...configArgs(spec), ...spec.names];
}
