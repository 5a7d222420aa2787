/**
 * Autostart with a systemd user unit: `$XDG_CONFIG_HOME/systemd/user/devmount.service` (systemd.unit(5), "User
 * Unit Search Path"), enabled with `systemctl --user enable`, which only links it into default.target.wants
 * and so works even when no user manager is running yet (then it starts at the next login).
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { configHome, type Env } from '../config/paths.js';
import { UserError } from '../user-error.js';
import { runTool } from './exec-tool.js';
import { fileExists } from './file-exists.js';
import type { AutostartManager, InstallResult, ServiceStatus } from './manager.js';
import type { AutostartSpec } from './spec.js';
import { renderSystemdUnit, SYSTEMD_UNIT_NAME } from './systemd-unit.js';

function unitPath(env: Env): string {
  return join(configHome(env), 'systemd', 'user', SYSTEMD_UNIT_NAME);
}

function systemctl(args: readonly string[], env: Env) {
  return runTool('systemctl', ['--user', ...args], { ...process.env, ...env });
}

function requireSystemctl(found: boolean): void {
  if (!found) {
    throw new UserError('failure', 'systemctl not found: this system does not use systemd; start `devmount up` from your desktop\'s autostart settings instead');
  }
}

export const systemdManager: AutostartManager = Object.freeze({
  platform: 'linux' as const,
  filePath: unitPath,
  render: renderSystemdUnit,
  enableCommands: (_env: Env) => ['systemctl --user daemon-reload', `systemctl --user enable ${SYSTEMD_UNIT_NAME}`],

  async install(spec: AutostartSpec, env: Env): Promise<InstallResult> {
    const path = unitPath(env);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, renderSystemdUnit(spec), { mode: 0o644 });
    const notes: string[] = [`wrote ${path}`];
    // A running user manager must re-read its units; without one (no login session yet) it reads them at start.
    const reload = await systemctl(['daemon-reload'], env);
    requireSystemctl(reload.found);
    if (!reload.ok) notes.push(`no user service manager running (${reload.error}): the unit is read at your next login`);
    const enable = await systemctl(['enable', SYSTEMD_UNIT_NAME], env);
    requireSystemctl(enable.found);
    if (!enable.ok) {
      throw new UserError('failure', `wrote ${path}, but \`systemctl --user enable ${SYSTEMD_UNIT_NAME}\` failed: ${enable.error}`);
    }
    notes.push(`enabled: \`devmount up\` runs at your next login (start it now: systemctl --user start ${SYSTEMD_UNIT_NAME}; logs: journalctl --user -u ${SYSTEMD_UNIT_NAME})`);
    return { path, notes };
  },

  async uninstall(env: Env): Promise<string | undefined> {
    const path = unitPath(env);
    if (!await fileExists(path)) return undefined;
    // Disable only: stopping would run ExecStop (`down`) and unmount what is in use right now.
    const disable = await systemctl(['disable', SYSTEMD_UNIT_NAME], env);
    if (disable.found && !disable.ok) {
      // Do by hand what `disable` does for our [Install] section, so nothing starts at the next login.
      await rm(join(dirname(path), 'default.target.wants', SYSTEMD_UNIT_NAME), { force: true });
    }
    await rm(path, { force: true });
    await systemctl(['daemon-reload'], env);
    return path;
  },

  async status(env: Env): Promise<ServiceStatus> {
    const path = unitPath(env);
    const installed = await fileExists(path);
    if (!installed) return { path, installed, details: [] };
    const enabled = await systemctl(['is-enabled', SYSTEMD_UNIT_NAME], env);
    const active = await systemctl(['is-active', SYSTEMD_UNIT_NAME], env);
    // is-enabled/is-active exit non-zero for "disabled"/"inactive" but still print the state on stdout.
    const state = (r: { stdout: string; error: string }): string => r.stdout.trim().split('\n')[0] || `unknown (${r.error})`;
    const runs = /^ExecStart=(.*)$/m.exec(await readFile(path, 'utf8'))?.[1] ?? '?';
    return { path, installed, details: [`enabled: ${state(enabled)}`, `active: ${state(active)}`, `runs: ${runs}`] };
  },
});
