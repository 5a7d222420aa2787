/**
 * Helpers for tests that run `devmount mount` as the user would (node bin/devmount.js, which imports dist/:
 * `npm test` compiles first). Each test file gets its own XDG_RUNTIME_DIR / XDG_STATE_HOME so `status` sees
 * only its own mounts and logs stay in the scratch dir. Mounts are served by the CLI daemon, never by the
 * test process, so the test may touch them freely.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startSshd, type Sshd } from './harness/sshd.js';

const execFileAsync = promisify(execFile);
export const CLI = fileURLToPath(new URL('../bin/devmount.js', import.meta.url));

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliEnv {
  readonly scratch: string;
  readonly env: NodeJS.ProcessEnv;
  run(args: readonly string[], options?: { input?: string; timeoutMs?: number }): Promise<CliResult>;
  /** The `-p … -o IdentityFile=…,UserKnownHostsFile=…` arguments for the harness sshd. */
  sshArgs(sshd: Sshd): string[];
  /** A fresh empty directory to mount on. */
  newMountpoint(name: string): Promise<string>;
  cleanup(): Promise<void>;
}

export async function createCliEnv(): Promise<CliEnv> {
  const scratch = await mkdtemp(join(tmpdir(), 'devmount-cli-'));
  const runtime = join(scratch, 'run');
  const state = join(scratch, 'state');
  await mkdir(runtime, { mode: 0o700 });
  await mkdir(state);
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: runtime, XDG_STATE_HOME: state, DEVMOUNT_DEBUG: '' };
  const mountpoints: string[] = [];
  const run = (args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<CliResult> =>
    new Promise((resolvePromise) => {
      const child = execFile(process.execPath, [CLI, ...args], { env, timeout: options.timeoutMs ?? 45_000 }, (err: ExecFileException | null, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolvePromise({ code, stdout, stderr });
      });
      if (options.input !== undefined) child.stdin?.end(options.input);
      else child.stdin?.end();
    });
  return {
    scratch,
    env,
    run,
    sshArgs: (sshd) => ['-p', String(sshd.port), '-o', `IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${sshd.knownHostsPath}`],
    async newMountpoint(name) {
      const dir = join(scratch, name);
      await mkdir(dir);
      mountpoints.push(dir);
      return dir;
    },
    async cleanup() {
      // Whatever a failed test left behind: unmount lazily (never leave a mount), then remove the scratch dir.
      for (const mp of mountpoints) {
        if (await isMounted(mp)) {
          await execFileAsync('fusermount3', ['-u', '-z', mp]).catch(() => execFileAsync('umount', ['-l', mp]).catch(() => undefined));
        }
      }
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** The prologue of the mount CLI tests: the harness sshd, a CLI environment and one mount point. */
export interface MountFixture {
  readonly sshd: Sshd;
  readonly cli: CliEnv;
  readonly mp: string;
  /** Unmounts through the CLI if still mounted (so the daemon exits), then removes everything. */
  stop(): Promise<void>;
}

export async function startMountFixture(): Promise<MountFixture> {
  const sshd = await startSshd();
  const cli = await createCliEnv().catch(async (err: unknown) => {
    await sshd.stop();
    throw err;
  });
  const mp = await cli.newMountpoint('mnt');
  return {
    sshd, cli, mp,
    async stop() {
      if (await isMounted(mp)) await cli.run(['unmount', '--lazy', mp]);
      await cli.cleanup();
      await sshd.stop();
    },
  };
}

export async function isMounted(path: string): Promise<boolean> {
  const text = await readFile('/proc/self/mounts', 'utf8');
  return text.split('\n').some((line) => line.split(' ')[1] === path);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false; // ESRCH: the process is gone
  }
}

/** A daemonized mount's log file in this CLI environment (cli/daemon.ts daemonLogPath under its XDG_STATE_HOME). */
export function daemonLogOf(cli: CliEnv, mountpoint: string): string {
  return join(cli.scratch, 'state', 'devmount', `mount-${createHash('sha256').update(mountpoint).digest('hex').slice(0, 12)}.log`);
}

/**
 * The daemon's log (NDJSON, cli/logs) as text to match against: one line per record, its message first and then
 * the record's fields, so a pattern can read "message … field values" whatever order the fields are written in.
 */
export async function daemonLogText(cli: CliEnv, mountpoint: string): Promise<string> {
  const raw = await readFile(daemonLogOf(cli, mountpoint), 'utf8');
  return raw.split('\n').filter((line) => line.trim() !== '').map((line) => {
    const { msg, ...fields } = JSON.parse(line) as Record<string, unknown>;
    return `${String(msg)} ${JSON.stringify(fields)}`;
  }).join('\n');
}

/** A system user for permission checks (created once per machine; the tests run as root). */
export async function ensureUser(name: string): Promise<void> {
  const known = () => execFileAsync('id', ['-u', name]).then(() => true, () => false);
  if (await known()) return;
  // Another test file may be creating the same user at this moment: its useradd winning is fine too.
  const created = await execFileAsync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]).then(() => true, () => false);
  if (!created && !(await known())) throw new Error(`could not create the test user ${name} (useradd needs root)`);
}

/** Runs a shell command line (dd, cat …) in a child process: the mount is served by the daemon, not by us. */
export async function sh(command: string, cwd?: string): Promise<{ stdout: string; stderr: string }> {
  return execFileAsync('bash', ['-c', command], { cwd, maxBuffer: 16 * 1024 * 1024 });
}
