/**
 * How devmount runs itself: `up` starts each mount with the `mount` command (so mount logic lives in one
 * place), `down` uses `unmount`, and the autostart unit/plist runs `up`/`down`. Always the same Node binary and
 * the package's own entry script by absolute path, so it works from a systemd unit or a LaunchAgent whose PATH
 * has neither `node` nor `devmount`.
 */
import { fileURLToPath } from 'node:url';

export interface SelfCommand {
  /** Absolute path of the Node.js binary running us. */
  readonly node: string;
  /** Absolute path of bin/devmount.js (this file is dist/cli/up/self.js). */
  readonly script: string;
}

export function selfCommand(): SelfCommand {
  return Object.freeze({
    node: process.execPath,
    script: fileURLToPath(new URL('../../../bin/devmount.js', import.meta.url)),
  });
}
