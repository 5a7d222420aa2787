/** The service manager for a platform, chosen once. */
import { UserError } from '../user-error.js';
import { launchdManager } from './launchd.js';
import type { AutostartManager, AutostartPlatform } from './manager.js';
import { systemdManager } from './systemd.js';

const MANAGERS: Readonly<Record<AutostartPlatform, AutostartManager>> = Object.freeze({
  linux: systemdManager,
  macos: launchdManager,
});

export function currentPlatform(): AutostartPlatform {
  if (process.platform === 'linux') return 'linux';
  if (process.platform === 'darwin') return 'macos';
  throw new UserError('usage', `autostart supports Linux (systemd) and macOS (launchd), not ${process.platform}`);
}

export function parsePlatform(text: string): AutostartPlatform {
  if (text === 'linux' || text === 'macos') return text;
  throw new UserError('usage', `--platform ${text}: expected linux or macos`);
}

export function managerFor(platform: AutostartPlatform): AutostartManager {
  return MANAGERS[platform];
}
