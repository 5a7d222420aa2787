/**
 * Autostart with a launchd LaunchAgent: `~/Library/LaunchAgents/devmount.up.plist`, loaded into the GUI
 * session with `launchctl bootstrap gui/UID` (launchctl(1); `load -w` on releases before 10.11).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { homeDir, type Env } from '../config/paths.js';
import { UserError } from '../user-error.js';
import { runTool } from './exec-tool.js';
import { fileExists } from './file-exists.js';
import { LAUNCHD_LABEL, renderLaunchAgentPlist } from './launchd-plist.js';
import type { AutostartManager, InstallResult, ServiceStatus } from './manager.js';
import type { AutostartSpec } from './spec.js';

function plistPath(env: Env): string {
  return join(homeDir(env), 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
}

function domain(): string {
  return `gui/${process.getuid?.() ?? 0}`;
}

function launchctl(args: readonly string[]) {
  return runTool('launchctl', args, process.env);
}

export const launchdManager: AutostartManager = Object.freeze({
  platform: 'macos' as const,
  filePath: plistPath,
  render: renderLaunchAgentPlist,
  enableCommands: (env: Env) => [`launchctl bootstrap ${domain()} ${plistPath(env)}`],

  async install(spec: AutostartSpec, env: Env): Promise<InstallResult> {
    const path = plistPath(env);
    await mkdir(dirname(path), { recursive: true });
    await mkdir(spec.logDir, { recursive: true }); // launchd creates the log file, not its directory
    await writeFile(path, renderLaunchAgentPlist(spec), { mode: 0o644 });
    // Replace an older copy that is already loaded; "not loaded" is the normal case and not an error.
    await launchctl(['bootout', `${domain()}/${LAUNCHD_LABEL}`]);
    const boot = await launchctl(['bootstrap', domain(), path]);
    if (!boot.found) throw new UserError('failure', 'launchctl not found: autostart with a LaunchAgent needs macOS');
    if (!boot.ok) {
      const legacy = await launchctl(['load', '-w', path]);
      if (!legacy.ok) throw new UserError('failure', `wrote ${path}, but launchctl could not load it: ${boot.error}`);
    }
    return { path, notes: [`wrote ${path}`, `loaded: \`devmount up\` runs now and at every login (log: ${join(spec.logDir, 'launchd.log')})`] };
  },

  async uninstall(env: Env): Promise<string | undefined> {
    const path = plistPath(env);
    if (!await fileExists(path)) return undefined;
    // bootout stops the `up` job only: the mounts it started keep running (AbandonProcessGroup) until `devmount down`.
    await launchctl(['bootout', `${domain()}/${LAUNCHD_LABEL}`]);
    await rm(path, { force: true });
    return path;
  },

  async status(env: Env): Promise<ServiceStatus> {
    const path = plistPath(env);
    const installed = await fileExists(path);
    if (!installed) return { path, installed, details: [] };
    const printed = await launchctl(['print', `${domain()}/${LAUNCHD_LABEL}`]);
    const state = /^\s*state = (.+)$/m.exec(printed.stdout)?.[1];
    return { path, installed, details: [printed.ok ? `loaded: yes${state ? ` (state ${state})` : ''}` : 'loaded: no'] };
  },
});
