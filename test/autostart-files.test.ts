/**
 * The login service files: the systemd unit passes `systemd-analyze --user verify` with no complaint at all
 * (it exits 0 even for unknown keys, so stderr must be empty too), also with awkward paths; the LaunchAgent
 * plist parses as a property list (the `plist` devDependency, an XML plist parser) with the expected keys.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parsePlist } from 'plist';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderLaunchAgentPlist } from '../cli/autostart/launchd-plist.js';
import type { AutostartSpec } from '../cli/autostart/spec.js';
import { renderSystemdUnit, systemdQuote } from '../cli/autostart/systemd-unit.js';

let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'devmount-autostart-files-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

function spec(overrides: Partial<AutostartSpec> = {}): AutostartSpec {
  return {
    self: { node: process.execPath, script: '/opt/devmount/bin/devmount.js' },
    configPath: undefined,
    names: [],
    waitSeconds: 120,
    logDir: '/home/u/.local/state/devmount',
    ...overrides,
  };
}

/** Runs systemd-analyze on a unit file in user mode, with a private runtime dir (no user manager needed). */
async function verify(unitText: string, name = 'devmount.service'): Promise<{ code: number; output: string }> {
  const unitDir = await mkdtemp(join(dir, 'unit-'));
  const runtime = join(unitDir, 'run');
  await mkdir(runtime, { mode: 0o700 });
  const file = join(unitDir, name);
  await writeFile(file, unitText);
  return new Promise((resolve) => {
    execFile('systemd-analyze', ['--user', '--man=no', 'verify', file],
      { env: { ...process.env, XDG_RUNTIME_DIR: runtime, HOME: unitDir }, encoding: 'utf8' },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, output: `${stdout}${stderr}` });
      });
  });
}

describe('systemd user unit', () => {
  it('passes systemd-analyze verify without a single warning', async () => {
    const result = await verify(renderSystemdUnit(spec({ names: ['site', 'blog'], configPath: '/home/u/devmount.json' })));
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  });

  it('the verify check does catch a broken unit (so the test above can fail)', async () => {
    const broken = renderSystemdUnit(spec()).replace('Type=oneshot', 'Type=oneshoot');
    const result = await verify(broken);
    expect(result.output).toContain('oneshoot');
  });

  it('has the login-service settings the issue asks for', () => {
    const unit = renderSystemdUnit(spec());
    for (const line of ['After=network-online.target', 'Wants=network-online.target', 'Type=oneshot', 'RemainAfterExit=yes',
      'Restart=on-failure', 'RestartSec=30', 'WantedBy=default.target',
      `ExecStart=${process.execPath} /opt/devmount/bin/devmount.js up --wait 120`,
      `ExecStop=${process.execPath} /opt/devmount/bin/devmount.js down`]) {
      expect(unit.split('\n')).toContain(line);
    }
  });

  it('quotes paths with spaces, % and $ so systemd finds them', async () => {
    const odd = join(dir, 'my odd dir %h $HOME');
    await mkdir(odd, { recursive: true });
    const node = join(odd, 'node');
    await symlink(process.execPath, node);
    const unit = renderSystemdUnit(spec({ self: { node, script: join(odd, 'devmount.js') }, configPath: join(odd, 'say "hi".json') }));
    expect(unit).toContain(`ExecStart="${odd.replace('%', '%%')}/node" "${odd.replace('%', '%%').replace('$', () => '$$')}/devmount.js" up`);
    const result = await verify(unit);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
    // The same path written naively is not found: the quoting is what makes the check above pass.
    const naive = unit.replace(/^ExecStart=.*$/m, `ExecStart=${node} up`);
    expect((await verify(naive)).output).toContain('not executable');
  });

  it('refuses an executable path systemd cannot run, with a clear message', () => {
    expect(() => renderSystemdUnit(spec({ self: { node: '/opt/"node"/bin/node', script: '/x.js' } })))
      .toThrow('systemd cannot run a program whose path contains quotes, backslashes or control characters: "/opt/\\"node\\"/bin/node"');
  });

  it('systemdQuote leaves plain words alone and escapes the rest', () => {
    expect(systemdQuote('/usr/bin/node')).toBe('/usr/bin/node');
    expect(systemdQuote('50%')).toBe('50%%');
    expect(systemdQuote('/a b/$HOME')).toBe('"/a b/$$HOME"');
    expect(systemdQuote('/a b/$HOME', 'executable')).toBe('"/a b/$HOME"');
    expect(systemdQuote('say "hi"\\')).toBe('"say \\"hi\\"\\\\"');
  });
});

describe('LaunchAgent plist', () => {
  it('is a well-formed property list with the expected keys', () => {
    const text = renderLaunchAgentPlist(spec({ names: ['site'], configPath: '/Users/u/devmount & co/<config>.json' }));
    const parsed = parsePlist(text) as Record<string, unknown>;
    expect(parsed).toEqual({
      Label: 'devmount.up',
      ProgramArguments: [process.execPath, '/opt/devmount/bin/devmount.js', 'up', '--wait', '120',
        '--config', '/Users/u/devmount & co/<config>.json', 'site'],
      RunAtLoad: true,
      KeepAlive: { NetworkState: true, SuccessfulExit: false },
      ThrottleInterval: 30,
      AbandonProcessGroup: true,
      ProcessType: 'Background',
      StandardOutPath: '/home/u/.local/state/devmount/launchd.log',
      StandardErrorPath: '/home/u/.local/state/devmount/launchd.log',
    });
  });

  it('the parser rejects malformed XML (so the test above can fail)', () => {
    const broken = renderLaunchAgentPlist(spec()).replace('</dict>\n</plist>', '</plist>');
    expect(() => parsePlist(broken)).toThrow();
  });
});

describe('legacy LoginHook script', () => {
  it('is executable and valid sh', async () => {
    const script = new URL('../scripts/macos-loginhook.sh', import.meta.url).pathname;
    expect((await stat(script)).mode & 0o111).toBe(0o111);
    const code = await new Promise<number>((resolve) => {
      execFile('sh', ['-n', script], (err) => resolve(err ? 1 : 0));
    });
    expect(code).toBe(0);
  });
});
