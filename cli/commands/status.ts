/** `devmount status [--json]`: every live mount of this user, from its control socket. */
import type { Command } from 'commander';
import { listLiveMounts, type LiveMount } from '../control/registry.js';
import { configuredMountStatus, formatConfiguredTable } from '../up/configured-status.js';

function formatUptime(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const h = Math.floor((seconds % 86_400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return d > 0 ? `${d}d${h}h` : h > 0 ? `${h}h${m}m` : m > 0 ? `${m}m${s}s` : `${s}s`;
}

export function formatStatusTable(mounts: readonly LiveMount[]): string {
  if (mounts.length === 0) return 'no devmount mounts are running\n';
  const rows = [['MOUNTPOINT', 'REMOTE', 'STATE', 'UPTIME', 'RECONNECTS', 'PID', 'CACHE']];
  for (const m of mounts) {
    // The table shows totals; --json has every counter.
    const sum = (suffix: string) => Object.entries(m.cache).filter(([k]) => k.endsWith(suffix)).reduce((n, [, v]) => n + v, 0);
    const cache = `hits=${sum('Hits')} misses=${sum('Misses')}`;
    rows.push([m.mountpoint, m.remote, m.state, formatUptime(m.uptimeSeconds), String(m.reconnects), String(m.pid), cache]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  // `mount --serve`: one line per served mount under the table.
  const serving = mounts.filter((m) => m.serveUrl !== undefined)
    .map((m) => `${m.mountpoint}: serving ${m.serveUrl} (remote watch: ${m.remoteWatch ?? 'off'})\n`).join('');
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n' + serving;
}

export function register(program: Command): void {
  program
    .command('status')
    .description('list running mounts: remote, state (connected/reconnecting), uptime, cache counters')
    .option('--json', 'print JSON: {"mounts":[…]}')
    .option('--config <file>', 'also list the mounts of this config file (default: $XDG_CONFIG_HOME/devmount/config.json, when it exists)')
    .action(async (flags: { json?: boolean; config?: string }) => {
      const mounts = await listLiveMounts();
      const plain = mounts.map(({ socketPath: _socket, ...rest }) => rest);
      // The configured mounts (devmount up/down, cli/up/configured-status.ts): mounted or not, state, dev server URL.
      const configured = await configuredMountStatus(flags.config, mounts);
      process.stdout.write(flags.json
        ? `${JSON.stringify({ mounts: plain, ...(configured ? { configured: configured.mounts } : {}) }, null, 2)}\n`
        : formatStatusTable(mounts) + (configured ? formatConfiguredTable(configured) : ''));
    });
}
