/**
 * An unprivileged user for tests that run devmount as an ordinary user would: created if missing, given what a
 * Debian desktop gives every user for FUSE — /dev/fuse readable and writable by all (0666, as udev sets it) and
 * fusermount3 setuid root (as the fuse3 package installs it) — and a home of its own. Run as root (CI runs
 * .ci/run as root); whatever this changes on the machine is put back by `restore()`.
 *
 * Commands run through setpriv(1), which execs the command itself (no fork, no PAM session), so signals sent
 * to the child reach devmount directly.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const S_ISUID = 0o4000;

export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface UnprivilegedUser {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  /** Its home for this test: owned by it, 0700; XDG directories inside. */
  readonly home: string;
  readonly env: NodeJS.ProcessEnv;
  /** Copies `file` into its home, owned by it, mode 0600; returns the copy's path. */
  give(file: string, name: string): Promise<string>;
  /** Writes `content` to `name` in its home (directories made as needed), all owned by it; returns the path. */
  write(name: string, content: string): Promise<string>;
  /** Runs `command args` as this user (bounded by `timeoutMs`). */
  run(command: string, args: readonly string[], timeoutMs?: number): Promise<RunResult>;
  /** Starts `command args` as this user, stdout/stderr piped. */
  spawn(command: string, args: readonly string[]): ChildProcess;
  /** Whether this user may read `path` (every directory above it included). */
  canRead(path: string): Promise<boolean>;
  /** Puts back what was changed on the machine and removes the home. */
  restore(): Promise<void>;
}

async function idOf(name: string, flag: '-u' | '-g'): Promise<number | undefined> {
  try {
    return Number((await execFileAsync('id', [flag, name])).stdout.trim());
  } catch {
    return undefined; // no such user
  }
}

/** What this changed on the machine, to put back. */
interface Changes {
  fuseDeviceMode?: number;
  fusermountMode?: number;
  fusermountPath?: string;
}

export async function unprivilegedUser(name: string): Promise<UnprivilegedUser> {
  if (process.getuid?.() !== 0) throw new Error('this test sets up an unprivileged user and must run as root (CI runs .ci/run as root)');
  if ((await idOf(name, '-u')) === undefined) {
    await execFileAsync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', name]);
  }
  const uid = (await idOf(name, '-u')) as number;
  const gid = (await idOf(name, '-g')) as number;
  const changes: Changes = {};

  const fuseDevice = await stat('/dev/fuse');
  if ((fuseDevice.mode & 0o666) !== 0o666) {
    changes.fuseDeviceMode = fuseDevice.mode & 0o7777;
    await chmod('/dev/fuse', 0o666);
  }
  const fusermount = (await execFileAsync('sh', ['-c', 'command -v fusermount3'])).stdout.trim();
  const fm = await stat(fusermount);
  if (fm.uid !== 0 || (fm.mode & S_ISUID) === 0) {
    changes.fusermountPath = fusermount;
    changes.fusermountMode = fm.mode & 0o7777;
    await chown(fusermount, 0, 0);
    await chmod(fusermount, (fm.mode & 0o777) | S_ISUID);
  }

  const home = await mkdtemp(join(tmpdir(), 'devmount-user-'));
  await chown(home, uid, gid);
  await chmod(home, 0o700);
  const runtime = join(home, 'run');
  await mkdir(runtime, { mode: 0o700 });
  await chown(runtime, uid, gid);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    USER: name,
    LOGNAME: name,
    XDG_RUNTIME_DIR: runtime,
    XDG_CONFIG_HOME: join(home, 'config'),
    XDG_STATE_HOME: join(home, 'state'),
  };
  const asUser = ['--reuid', String(uid), '--regid', String(gid), '--clear-groups', '--'];

  const user: UnprivilegedUser = {
    name,
    uid,
    gid,
    home,
    env,
    async give(file, copyName) {
      const copy = join(home, copyName);
      await ownedDirs(home, dirname(copy), uid, gid);
      await copyFile(file, copy);
      await chown(copy, uid, gid);
      await chmod(copy, 0o600);
      return copy;
    },
    async write(fileName, content) {
      const path = join(home, fileName);
      await ownedDirs(home, dirname(path), uid, gid);
      await writeFile(path, content);
      await chown(path, uid, gid);
      return path;
    },
    run(command, args, timeoutMs = 45_000) {
      return new Promise((resolve) => {
        const child = execFile('setpriv', [...asUser, command, ...args], { env, cwd: home, encoding: 'utf8', timeout: timeoutMs }, (err, stdout, stderr) => {
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
        });
        child.stdin?.end();
      });
    },
    spawn(command, args) {
      return spawn('setpriv', [...asUser, command, ...args], { env, cwd: home, stdio: ['ignore', 'pipe', 'pipe'] });
    },
    async canRead(path) {
      return (await user.run('test', ['-r', path])).code === 0;
    },
    async restore() {
      if (changes.fuseDeviceMode !== undefined) await chmod('/dev/fuse', changes.fuseDeviceMode);
      if (changes.fusermountPath !== undefined && changes.fusermountMode !== undefined) await chmod(changes.fusermountPath, changes.fusermountMode);
      await rm(home, { recursive: true, force: true });
    },
  };
  return user;
}

/** Makes `dir` and the directories between `home` and it, owned by the user. */
async function ownedDirs(home: string, dir: string, uid: number, gid: number): Promise<void> {
  const parts = relative(home, dir).split(sep).filter(Boolean);
  let at = home;
  for (const part of parts) {
    at = join(at, part);
    await mkdir(at, { recursive: true });
    await chown(at, uid, gid);
  }
}
