/**
 * `devmount autostart` through the real CLI: `--print` output verbatim (Linux unit and macOS plist), `--print`
 * touching nothing, and install → status → uninstall with a private HOME/XDG_CONFIG_HOME and no user service
 * manager (as at install time over ssh, or in this container): `systemctl --user enable` links the unit anyway.
 */
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const node = process.execPath;
const script = fileURLToPath(new URL('../bin/devmount.js', import.meta.url));

let dir: string;
let env: NodeJS.ProcessEnv;
let config: string;

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(node, [script, ...args], { env, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    child.stdin?.end();
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'devmount-autostart-cli-'));
  const runtime = join(dir, 'run');
  await mkdir(runtime, { mode: 0o700 });
  // No user bus in XDG_RUNTIME_DIR and none named in the environment: systemctl --user works offline.
  const { DBUS_SESSION_BUS_ADDRESS: _bus, ...rest } = process.env;
  env = { ...rest, HOME: dir, XDG_CONFIG_HOME: join(dir, 'config'), XDG_STATE_HOME: join(dir, 'state'), XDG_RUNTIME_DIR: runtime };
  config = join(dir, 'devmount.json');
  await writeFile(config, JSON.stringify({ mounts: {
    site: { remote: 'deploy@example.com:/var/www/site', mountpoint: '~/remote/site' },
    blog: { remote: 'blog:', mountpoint: '~/remote/blog' },
  } }));
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('autostart install --print', () => {
  it('prints the systemd unit verbatim and changes nothing', async () => {
    const { code, stdout, stderr } = await runCli(['autostart', 'install', 'site', '--config', config, '--wait', '90', '--print']);
    expect(stdout).toBe(`# Written by \`devmount autostart install\`; remove it with \`devmount autostart uninstall\`.
[Unit]
Description=devmount: mount the remote trees of the devmount config
# A user service manager cannot see the system's network-online.target (systemd issue #3312), so these lines
# only help where one is provided; \`up --wait\` waits for the network itself either way.
After=network-online.target
Wants=network-online.target

[Service]
# \`devmount up\` starts each mount as its own daemon and exits once they are all live, so this is a oneshot
# that stays active after it exits (RemainAfterExit=yes): stopping it then runs ExecStop (\`down\`), which
# flushes and unmounts. Type=simple would count the service as stopped the moment \`up\` exits.
Type=oneshot
RemainAfterExit=yes
# Only \`up\` itself is killed on a failure or stop: the mount daemons must unmount cleanly through \`down\`,
# and a failed \`up\` must not take down the mounts that did come up (the restarted \`up\` skips them).
KillMode=process
ExecStart=${node} ${script} up --wait 90 --config ${config} site
ExecStop=${node} ${script} down --config ${config} site
# Retry when a server stays unreachable past --wait; not when retrying cannot help: bad config (2),
# authentication (5), host key (6), remote path (7), mount point (8), FUSE missing (9).
Restart=on-failure
RestartSec=30
RestartPreventExitStatus=2 5 6 7 8 9
TimeoutStartSec=210

[Install]
WantedBy=default.target
`);
    expect(stderr).toBe(`# would write ${dir}/config/systemd/user/devmount.service
# would run: systemctl --user daemon-reload
# would run: systemctl --user enable devmount.service
`);
    expect(code).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['devmount.json', 'run']);
  });

  it('prints the LaunchAgent plist verbatim with --platform macos', async () => {
    const { code, stdout, stderr } = await runCli(['autostart', 'install', '--print', '--platform', 'macos', '--config', config]);
    expect(stdout).toBe(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by \`devmount autostart install\`; remove it with \`devmount autostart uninstall\`. -->
<plist version="1.0">
<dict>
\t<key>Label</key>
\t<string>devmount.up</string>
\t<key>ProgramArguments</key>
\t<array>
\t\t<string>${node}</string>
\t\t<string>${script}</string>
\t\t<string>up</string>
\t\t<string>--wait</string>
\t\t<string>120</string>
\t\t<string>--config</string>
\t\t<string>${config}</string>
\t</array>
\t<key>RunAtLoad</key>
\t<true/>
\t<!-- Run again while \`up\` fails (server unreachable: network not up yet). NetworkState is only honoured by
\t     older macOS versions; SuccessfulExit=false is what keeps retrying on current ones. -->
\t<key>KeepAlive</key>
\t<dict>
\t\t<key>NetworkState</key>
\t\t<true/>
\t\t<key>SuccessfulExit</key>
\t\t<false/>
\t</dict>
\t<key>ThrottleInterval</key>
\t<integer>30</integer>
\t<!-- The mount daemons \`up\` starts must outlive it: launchd would otherwise kill its process group. -->
\t<key>AbandonProcessGroup</key>
\t<true/>
\t<key>ProcessType</key>
\t<string>Background</string>
\t<key>StandardOutPath</key>
\t<string>${dir}/state/devmount/launchd.log</string>
\t<key>StandardErrorPath</key>
\t<string>${dir}/state/devmount/launchd.log</string>
</dict>
</plist>
`);
    expect(stderr).toBe(`# would write ${dir}/Library/LaunchAgents/devmount.up.plist
# would run: launchctl bootstrap gui/${process.getuid?.() ?? 0} ${dir}/Library/LaunchAgents/devmount.up.plist
`);
    expect(code).toBe(0);
  });

  it('--platform without --print is a usage error', async () => {
    const { code, stderr } = await runCli(['autostart', 'install', '--platform', 'macos', '--config', config]);
    expect(stderr).toBe('devmount: --platform only goes with --print: install on the machine that should run it\n');
    expect(code).toBe(2);
  });

  it('an unknown mount name is a usage error naming the configured ones', async () => {
    const { code, stderr } = await runCli(['autostart', 'install', 'shop', '--config', config, '--print']);
    expect(stderr).toBe(`devmount: no mount named "shop" in ${config} (configured: site, blog)\n`);
    expect(code).toBe(2);
  });
});

describe('autostart install, status, uninstall', () => {
  const unitPath = (): string => join(dir, 'config', 'systemd', 'user', 'devmount.service');
  const wantsLink = (): string => join(dir, 'config', 'systemd', 'user', 'default.target.wants', 'devmount.service');

  it('status before install says not installed', async () => {
    const { code, stdout } = await runCli(['autostart', 'status']);
    expect(stdout).toBe(`autostart: not installed (would be ${unitPath()}; install with: devmount autostart install)\n`);
    expect(code).toBe(0);
  });

  it('install writes what --print shows and enables it; status reports it; uninstall removes both', async () => {
    const printed = await runCli(['autostart', 'install', '--config', config, '--print']);
    const installed = await runCli(['autostart', 'install', '--config', config]);
    expect(installed.stderr).toBe('');
    expect(installed.code).toBe(0);
    expect(installed.stdout.split('\n')[0]).toBe(`wrote ${unitPath()}`);
    expect(await readFile(unitPath(), 'utf8')).toBe(printed.stdout);
    expect((await lstat(wantsLink())).isSymbolicLink()).toBe(true);
    expect(await readlink(wantsLink())).toBe(unitPath());

    const status = await runCli(['autostart', 'status']);
    const lines = status.stdout.split('\n');
    expect(lines[0]).toBe(`autostart: installed (${unitPath()})`);
    expect(lines[1]).toBe('enabled: enabled');
    expect(lines[2]).toMatch(/^active: /);
    expect(lines[3]).toBe(`runs: ${node} ${script} up --wait 120 --config ${config}`);

    const removed = await runCli(['autostart', 'uninstall']);
    expect(removed.stdout).toBe(`removed ${unitPath()}\n`);
    expect(removed.code).toBe(0);
    await expect(lstat(unitPath())).rejects.toThrow('ENOENT');
    await expect(lstat(wantsLink())).rejects.toThrow('ENOENT');

    const again = await runCli(['autostart', 'uninstall']);
    expect(again.stdout).toBe('autostart is not installed\n');
    expect(again.code).toBe(0);
  });
});
