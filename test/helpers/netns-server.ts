/**
 * The test lab for "a server far away": a fresh network namespace (`ip netns add devmount-test-<random>`, only
 * its loopback up) holding a real sshd and, optionally, MariaDB (test/helpers/mariadb.ts) listening on the
 * namespace's 127.0.0.1 and a Unix socket. The host reaches the namespace's sshd only through a bridge:
 * socat inside the namespace (its loopback ↔ a Unix socket in a temp dir; path sockets live in the file system,
 * which namespaces share, unix(7)) ↔ a listener on a host loopback port, optionally behind the delay proxy. So
 * the database's TCP port is reachable from the host only through an SSH tunnel.
 *
 * `watchNonLoopback` samples /proc/net/{tcp,udp}{,6} for the sockets of a process tree and records every one
 * whose peer is not a loopback address: the "nothing ever left loopback" assertion of the application tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { startDelayProxy, type DelayProxy } from '../../scripts/delay-proxy.js';
import { startSshd, type Sshd, type SshdOptions } from '../harness/sshd.js';
import { startMariaDb, type MariaDb, type MariaDbOptions } from './mariadb.js';

const IP = '/usr/sbin/ip';
const SSH_PORT_IN_NAMESPACE = 22;

export interface NetnsServerOptions {
  /** sshd options (extraConfig for AllowTcpForwarding no …); netns and port are set here. */
  readonly sshd?: Omit<SshdOptions, 'netns' | 'port'>;
  /** MariaDB in the namespace (TCP on its 127.0.0.1 and a socket); omitted = no database. */
  readonly mariadb?: Omit<MariaDbOptions, 'netns'>;
  /** One-way delay of the delay proxy in front of the bridge (RTT = 2 × delayMs); 0 = none. */
  readonly delayMs?: number;
  /**
   * Files the server sees under /etc (path below /etc → text), e.g. `nginx/nginx.conf`: written to
   * /etc/netns/NAME/, whose every entry `ip netns exec` bind-mounts over /etc/ENTRY in a mount namespace of the
   * command's own (ip-netns(8)), so sshd and its sessions see them and the host's /etc is left alone. An entry
   * replaces all of /etc/ENTRY there. /etc/netns itself stays (iproute2's directory, shared with other labs).
   */
  readonly etc?: Readonly<Record<string, string>>;
}

export interface NetnsServer {
  readonly netns: string;
  readonly sshd: Sshd;
  readonly db: MariaDb | undefined;
  /** The host loopback port that reaches the namespace's sshd (the delay proxy's when there is one). */
  readonly port: number;
  /** known_hosts naming the server as `[127.0.0.1]:port` (what `devmount -o UserKnownHostsFile=` needs). */
  readonly knownHostsPath: string;
  /** Runs a command inside the namespace (the test's view "from the server"), resolves with its output. */
  exec(argv: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

function run(argv: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function must(argv: readonly string[]): Promise<void> {
  const result = await run(argv);
  if (result.code !== 0) throw new Error(`${argv.join(' ')} failed (${result.code}): ${result.stderr}`);
}

/** Host side of the bridge: a loopback port whose every connection is joined to the namespace's Unix socket. */
function hostBridge(socketPath: string): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(socketPath);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({
        server,
        port: typeof address === 'object' && address !== null ? address.port : 0,
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

async function waitForSocket(path: string, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`socat exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(path);
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await delay(50);
  }
  throw new Error(`the bridge socket ${path} did not appear`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export async function startNetnsServer(options: NetnsServerOptions = {}): Promise<NetnsServer> {
  const netns = `devmount-test-${randomBytes(4).toString('hex')}`;
  const dir = await mkdtemp(join(tmpdir(), 'devmount-netns-'));
  const undo: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    // In reverse order of starting; every step runs even when one before it failed.
    const errors: unknown[] = [];
    for (const step of undo.reverse()) await step().catch((err: unknown) => { errors.push(err); });
    undo.length = 0;
    if (errors.length > 0) throw errors[0];
  };
  try {
    await must([IP, 'netns', 'add', netns]);
    undo.push(() => must([IP, 'netns', 'delete', netns]));
    undo.push(() => rm(dir, { recursive: true, force: true }));
    await must([IP, 'netns', 'exec', netns, IP, 'link', 'set', 'lo', 'up']);
    if (options.etc !== undefined) {
      const etcDir = join('/etc/netns', netns);
      undo.push(() => rm(etcDir, { recursive: true, force: true }));
      for (const [file, text] of Object.entries(options.etc)) {
        const target = join(etcDir, file);
        if (!target.startsWith(`${etcDir}/`)) throw new Error(`etc: ${file} is not a path below /etc`);
        await mkdir(dirname(target), { recursive: true });
        await writeFile(target, text);
      }
    }

    const db = options.mariadb === undefined ? undefined : await startMariaDb({ ...options.mariadb, netns });
    if (db) undo.push(() => db.close());

    const sshd = await startSshd({ ...options.sshd, netns, port: SSH_PORT_IN_NAMESPACE });
    undo.push(() => sshd.stop());

    const bridgeSocket = join(dir, 'sshd-bridge.sock');
    const socat = spawn(IP, ['netns', 'exec', netns, 'socat', `UNIX-LISTEN:${bridgeSocket},fork,mode=600`, `TCP:127.0.0.1:${SSH_PORT_IN_NAMESPACE}`], { stdio: 'ignore' });
    undo.push(() => stopChild(socat));
    await waitForSocket(bridgeSocket, socat);
    const bridge = await hostBridge(bridgeSocket);
    undo.push(() => bridge.close());

    let proxy: DelayProxy | undefined;
    if ((options.delayMs ?? 0) > 0) {
      proxy = await startDelayProxy({ targetPort: bridge.port, delayMs: options.delayMs as number });
      const started = proxy;
      undo.push(() => started.close());
    }
    const port = proxy?.port ?? bridge.port;
    const knownHostsPath = join(dir, 'known_hosts');
    await writeFile(knownHostsPath, `[127.0.0.1]:${port} ${sshd.hostPublicKey}\n`);
    return {
      netns,
      sshd,
      db,
      port,
      knownHostsPath,
      exec: (argv) => run([IP, 'netns', 'exec', netns, ...argv]),
      stop,
    };
  } catch (err) {
    await stop().catch((cleanupErr: unknown) => {
      throw new AggregateError([err, cleanupErr], `the lab did not start (${(err as Error).message}) and cleaning up failed too`);
    });
    throw err;
  }
}

/** Every process in the tree under `pid` (itself included), from /proc/PID/task/TID/children. */
async function processTree(pid: number): Promise<number[]> {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    out.push(next);
    const tasks = await readdir(`/proc/${next}/task`).catch(() => [] as string[]);
    for (const task of tasks) {
      const children = await readFile(`/proc/${next}/task/${task}/children`, 'utf8').catch(() => '');
      for (const child of children.split(' ').filter(Boolean)) queue.push(Number(child));
    }
  }
  return out;
}

async function socketInodes(pids: readonly number[]): Promise<Set<string>> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m) inodes.add(m[1] as string);
    }
  }
  return inodes;
}

/** A /proc/net address "0100007F:1F90" (IPv4, little-endian) or 32 hex digits (IPv6) → is it loopback or unset? */
export function isLoopbackOrUnset(hexAddress: string): boolean {
  const addr = hexAddress.split(':')[0] as string;
  if (/^0+$/.test(addr)) return true; // not connected (a listener, an unconnected UDP socket)
  if (addr.length === 8) return addr.endsWith('7F'); // 127.0.0.0/8, stored little-endian
  if (addr === '00000000000000000000000001000000') return true; // ::1
  // ::ffff:127.x.x.x (IPv4-mapped), stored as four little-endian words
  return addr.startsWith('0000000000000000FFFF0000') && addr.endsWith('7F');
}

export interface LeakWatch {
  /** "tcp 5DB8D822:01BB" lines for every non-loopback peer seen so far. */
  stop(): Promise<string[]>;
}

/**
 * Samples the sockets of the process tree under `pid` every `everyMs` until stopped, and records each whose
 * remote address is not loopback. Sampling can miss a socket that lives shorter than one interval; the
 * WordPress harness's loopback-only plugin records attempted HTTP requests as the second net.
 */
export function watchNonLoopback(pid: number, everyMs = 50): LeakWatch {
  const seen = new Set<string>();
  let running = true;
  const sample = async (): Promise<void> => {
    const inodes = await socketInodes(await processTree(pid));
    for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
      const text = await readFile(`/proc/${pid}/net/${table}`, 'utf8').catch(() => '');
      for (const line of text.split('\n').slice(1)) {
        const fields = line.trim().split(/\s+/);
        const remote = fields[2];
        const inode = fields[9];
        if (remote === undefined || inode === undefined || !inodes.has(inode)) continue;
        if (!isLoopbackOrUnset(remote)) seen.add(`${table} ${remote}`);
      }
    }
  };
  const loop = (async () => {
    while (running) {
      await sample();
      await delay(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      await sample();
      return [...seen];
    },
  };
}
