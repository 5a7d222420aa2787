/**
 * The systemd user unit (systemd.unit(5), systemd.service(5)) that runs `devmount up` at login.
 */
import { UserError } from '../user-error.js';
import { downCommand, upCommand, type AutostartSpec } from './spec.js';

export const SYSTEMD_UNIT_NAME = 'devmount.service';

/**
 * One word of an Exec*= line (systemd.service(5), "Command lines"): `%` starts a specifier everywhere, so it is
 * doubled; `$` starts an environment variable in the arguments (doubled there) but is taken literally in the
 * executable's path, which systemd never expands. Anything beyond a plain path-like word is double-quoted with
 * C escapes.
 */
export function systemdQuote(word: string, position: 'executable' | 'argument' = 'argument'): string {
  const specifiersEscaped = word.replace(/%/g, '%%');
  const escaped = position === 'argument' ? specifiersEscaped.replace(/\$/g, '$$$$') : specifiersEscaped;
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\t/g, '\\t')}"`;
}

function commandLine(argv: readonly string[]): string {
  const executable = argv[0] ?? '';
  // systemd refuses an executable path with quotes, backslashes or control characters (string_is_safe() in
  // src/basic/string-util.c: "Executable name contains special characters"), however it is quoted.
  if (/["'\\\x00-\x1f\x7f]/.test(executable)) {
    throw new UserError('failure', `systemd cannot run a program whose path contains quotes, backslashes or control characters: ${JSON.stringify(executable)}`);
  }
  return argv.map((word, i) => systemdQuote(word, i === 0 ? 'executable' : 'argument')).join(' ');
}

/** Extra time `up` gets beyond its network wait, for the mounts themselves (each connects and checks the remote). */
const START_MARGIN_SECONDS = 120;

export function renderSystemdUnit(spec: AutostartSpec): string {
  return `# Written by \`devmount autostart install\`; remove it with \`devmount autostart uninstall\`.
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
ExecStart=${commandLine(upCommand(spec))}
ExecStop=${commandLine(downCommand(spec))}
# Retry when a server stays unreachable past --wait; not when retrying cannot help: bad config (2),
# authentication (5), host key (6), remote path (7), mount point (8), FUSE missing (9).
Restart=on-failure
RestartSec=30
RestartPreventExitStatus=2 5 6 7 8 9
TimeoutStartSec=${spec.waitSeconds + START_MARGIN_SECONDS}

[Install]
WantedBy=default.target
`;
}
