/**
 * The macOS LaunchAgent (launchd.plist(5)) that runs `devmount up` at login and runs it again, every
 * ThrottleInterval seconds, until it succeeds (KeepAlive/SuccessfulExit=false): that is the wait for the network.
 */
import { join } from 'node:path';
import { upCommand, type AutostartSpec } from './spec.js';

export const LAUNCHD_LABEL = 'devmount.up';

export function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export function launchdLogPath(spec: AutostartSpec): string {
  return join(spec.logDir, 'launchd.log');
}

export function renderLaunchAgentPlist(spec: AutostartSpec): string {
  const args = upCommand(spec).map((a) => `\t\t<string>${xmlEscape(a)}</string>`).join('\n');
  const log = xmlEscape(launchdLogPath(spec));
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<!-- Written by \`devmount autostart install\`; remove it with \`devmount autostart uninstall\`. -->
<plist version="1.0">
<dict>
\t<key>Label</key>
\t<string>${LAUNCHD_LABEL}</string>
\t<key>ProgramArguments</key>
\t<array>
${args}
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
\t<string>${log}</string>
\t<key>StandardErrorPath</key>
\t<string>${log}</string>
</dict>
</plist>
`;
}
