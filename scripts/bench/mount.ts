/**
 * npm run bench:mount — devmount vs sshfs on the same sshd and trees, at 0 ms and 20 ms RTT (a TCP delay
 * proxy in front of sshd: the kernel here has no netem). Prints each figure and the ratio devmount/sshfs.
 * Environment: BENCH_RTTS (default "0,20"), BENCH_LIMIT_S (per measurement, default 90),
 * BENCH_BIG_MB (default 256), BENCH_WRITE_MB (default 64), BENCH_SERVER_HOME (default "empty", or "login"),
 * BENCH_REPEAT (runs per tool and work; default 3 at 0 ms, 1 elsewhere: the tables show medians),
 * BENCH_MOUNT_ONLY (comma-separated first words of the rows to run, e.g. "write,read"; default every row).
 *
 * The sshd gives its sessions an empty HOME (sshd_config SetEnv) unless BENCH_SERVER_HOME=login: the commands
 * devmount runs on the server (one `find` listing, one `tar` stream) then start without the login's shell
 * startup files. On the machines this is measured on, root's ~/.bashrc runs `pyenv init`: 0.9 s of CPU per
 * command, on the same two cores as the client, where a real server would spend it on its own.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSshd, type Sshd } from '../../test/harness/sshd.js';
import { startDelayProxy, type DelayProxy } from '../delay-proxy.js';
import { execFileAsync, formatRate, formatSeconds, medianBy, peakRssMb, printTable, ratio, timeShell, type Measurement, type Row } from './lib.js';
import { writeGitRepo, writeRandomFile, writeTree } from './trees.js';

const RTTS = (process.env.BENCH_RTTS ?? '0,20').split(',').map(Number);
/** Runs per tool and work: 3 at 0 ms, where the two are close; 1 elsewhere, where the ratios are decisive. */
const repeatAt = (rtt: number): number => Number(process.env.BENCH_REPEAT ?? (rtt === 0 ? 3 : 1));
const LIMIT_MS = Number(process.env.BENCH_LIMIT_S ?? 90) * 1000;
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 256);
const WRITE_MB = Number(process.env.BENCH_WRITE_MB ?? 64);
const DEVMOUNT = resolve(import.meta.dirname, '../../../bin/devmount.js');

interface Tool {
  readonly name: 'devmount' | 'sshfs';
  mount(port: number, mountpoint: string): Promise<void>;
  unmount(mountpoint: string): Promise<void>;
  /** Detaches a mount still busy (a command stopped at its time limit may not have let go yet). */
  unmountLazy(mountpoint: string): Promise<void>;
}

function tools(sshd: Sshd, knownHosts: string): Tool[] {
  const remote = `${sshd.user}@127.0.0.1:${sshd.root}`;
  const sshOptions = `IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${knownHosts},StrictHostKeyChecking=yes`;
  // Each devmount mount gets an empty disk cache of its own (cache_dir), removed at unmount: a "cold" figure is
  // cold, as sshfs keeps none.
  const cacheDirs = new Map<string, string>();
  const dropCache = async (mnt: string) => {
    const dir = cacheDirs.get(mnt);
    cacheDirs.delete(mnt);
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  };
  return [
    {
      name: 'devmount',
      mount: async (port, mnt) => {
        const cacheDir = await mkdtemp(join(tmpdir(), 'devmount-bench-cache-'));
        cacheDirs.set(mnt, cacheDir);
        await execFileAsync(process.execPath, [DEVMOUNT, 'mount', '-p', String(port), '-o', `${sshOptions},cache_dir=${cacheDir}`, remote, mnt]);
      },
      unmount: async (mnt) => {
        const pid = await servingPid(mnt);
        await execFileAsync(process.execPath, [DEVMOUNT, 'unmount', mnt]);
        // `unmount` returns once the kernel has let go; the process then finishes writing its disk cache. Until it
        // has exited its cache_dir cannot be removed (rm met blobs still being written), and its writes would
        // share the cores with the next session's measurements.
        if (pid !== null) await exited(pid, EXIT_WAIT_MS);
        await dropCache(mnt);
      },
      unmountLazy: async (mnt) => { await execFileAsync(process.execPath, [DEVMOUNT, 'unmount', '--lazy', mnt]); },
    },
    {
      name: 'sshfs',
      mount: async (port, mnt) => { await execFileAsync('sshfs', ['-p', String(port), '-o', `${sshOptions},reconnect,ServerAliveInterval=15`, remote, mnt]); },
      unmount: async (mnt) => { await execFileAsync('fusermount3', ['-u', mnt]); },
      unmountLazy: async (mnt) => { await execFileAsync('fusermount3', ['-u', '-z', mnt]); },
    },
  ];
}

/** How long an unmounted devmount process may take to finish its disk cache writes and exit. */
const EXIT_WAIT_MS = 120_000;

/** Resolves once process `pid` is gone, or after `limitMs`. */
async function exited(pid: number, limitMs: number): Promise<void> {
  for (let waited = 0; waited < limitMs; waited += 100) {
    try {
      process.kill(pid, 0);
    } catch {
      return; // ESRCH: gone
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * The process serving a mount point: its argv names the mount point; devmount's, or with `tool` sshfs, sshfs's.
 * The newest such process: every session mounts the same mount point, and an sshfs unmounted by the previous one
 * may still be exiting.
 */
async function servingPid(mountpoint: string, tool: Tool['name'] = 'devmount'): Promise<number | null> {
  let newest: number | null = null;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv.includes(mountpoint)) continue;
    const isTool = tool === 'sshfs' ? argv[0]?.endsWith('sshfs') : argv.some((a) => a.endsWith('devmount.js') || a.includes('/cli/'));
    if (isTool) newest = Math.max(newest ?? 0, Number(entry));
  }
  return newest;
}

/**
 * CPU seconds all threads of `pids` have run so far (the first field of each /proc/PID/task/TID/schedstat, in ns;
 * proc(5)): finer than /proc/PID/stat's 10 ms ticks, which a warm `find` of 20–50 ms of CPU would round away.
 * Threads that have exited are not counted; libfuse keeps up to ten idle workers, so few do during a work.
 */
async function threadCpuSeconds(pids: readonly number[]): Promise<number> {
  let ns = 0;
  for (const pid of pids) {
    const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
    for (const tid of tasks) ns += Number((await readFile(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').catch(() => '0')).split(' ')[0]);
  }
  return ns / 1e9;
}

/**
 * The client's processes: devmount's, or sshfs's and its ssh (which does sshfs's encryption; sshfs daemonizes
 * after starting it, so it is not sshfs's child: found by the port in its argv).
 */
async function clientPids(tool: Tool['name'], mountpoint: string, port: number): Promise<number[]> {
  const own = await servingPid(mountpoint, tool);
  const pids = own === null ? [] : [own];
  if (tool !== 'sshfs') return pids;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (argv[0] === 'ssh' && argv.includes(`-oPort=${port}`) && argv.includes('sftp')) pids.push(Number(entry));
  }
  return pids;
}

/** Works measured on one fresh mount, in order: a "cold" figure is the first thing its mount does. */
type Session = ReadonlyArray<readonly [label: string, command: (mnt: string, tool: Tool) => string]>;

const SESSIONS: readonly Session[] = [
  [['find cold', (mnt) => `find ${mnt}/tree -type f -ls > /dev/null`], ['find warm', (mnt) => `find ${mnt}/tree -type f -ls > /dev/null`]],
  [['git status cold', (mnt) => `git -C ${mnt}/repo status --porcelain > /dev/null`], ['git status warm', (mnt) => `git -C ${mnt}/repo status --porcelain > /dev/null`]],
  [['1000 small files', (mnt) => `cat ${mnt}/small/*/* > /dev/null`]],
  [[`read ${BIG_MB} MiB`, (mnt) => `dd if=${mnt}/big.bin of=/dev/null bs=1M status=none`]],
  // Its own mount: after a read in the same process, a write reuses memory the read had mapped, and on these
  // VMs each first touch of fresh memory is a page fault (a warm devmount writes 64 MiB in a third of the time).
  [[`write ${WRITE_MB} MiB`, (mnt, tool) => `dd if=/dev/zero of=${mnt}/out-${tool.name}.bin bs=1M count=${WRITE_MB} conv=fsync status=none`]],
];

/** The sessions BENCH_MOUNT_ONLY names (a session runs when one of its rows starts with a named word). */
function selectedSessions(): readonly Session[] {
  const only = process.env.BENCH_MOUNT_ONLY?.split(',').map((word) => word.trim()).filter((word) => word !== '');
  if (!only || only.length === 0) return SESSIONS;
  const chosen = SESSIONS.filter((session) => session.some(([label]) => only.some((word) => label.startsWith(word))));
  if (chosen.length === 0) throw new Error(`BENCH_MOUNT_ONLY=${process.env.BENCH_MOUNT_ONLY} names no row; rows: ${SESSIONS.flat().map(([label]) => label).join(', ')}`);
  return chosen;
}

/** Samples per tool and work: wall time, and the client's CPU seconds (all threads of its processes). */
interface Results {
  readonly times: Map<string, Measurement[]>;
  readonly cpu: Map<string, number[]>;
}

/**
 * One session on a fresh mount: its works in order, then unmount. Returns whether a work hit the time limit
 * (its later repetitions would too: they are skipped).
 */
async function runSession(tool: Tool, port: number, mnt: string, session: Session, results: Results, rss: { peakMb: number }): Promise<boolean> {
  let limited = false;
  try {
    // Not mounted yet on the first call; busy when the previous command was stopped at its time limit.
    await tool.unmount(mnt).catch(() => tool.unmountLazy(mnt)).catch(() => undefined);
    await tool.mount(port, mnt);
    const client = await clientPids(tool.name, mnt, port);
    const clientCpu = () => threadCpuSeconds(client);
    for (const [label, command] of session) {
      const cpuBefore = await clientCpu();
      const m = await timeShell(command(mnt, tool), { limitMs: LIMIT_MS });
      const cpu = client.length === 0 ? null : (await clientCpu()) - cpuBefore;
      limited ||= m.timedOut;
      const key = `${tool.name}:${label}`;
      results.times.set(key, [...(results.times.get(key) ?? []), m]);
      if (cpu !== null) results.cpu.set(key, [...(results.cpu.get(key) ?? []), cpu]);
      let rssNote = cpu === null ? '' : `, client CPU ${cpu.toFixed(2)} s`;
      if (tool.name === 'devmount') {
        // Peak RSS of this mount's process so far (each fresh mount is a new process).
        const pid = await servingPid(mnt);
        const mb = pid ? await peakRssMb(pid) : null;
        if (mb !== null) {
          rss.peakMb = Math.max(rss.peakMb, mb);
          rssNote += `, peak RSS ${mb.toFixed(0)} MB`;
        }
      }
      process.stdout.write(`  ${tool.name} ${label}: ${formatSeconds(m)}${rssNote}\n`);
    }
  } finally {
    // A failed measurement must not leave a mount behind (the scratch directory is removed next).
    await tool.unmount(mnt).catch(() => tool.unmountLazy(mnt)).catch((err: unknown) => { process.stderr.write(`unmount ${mnt}: ${(err as Error).message}\n`); });
  }
  return limited;
}

/**
 * Each session is run `repeat` times per tool, the tools taking turns (devmount first, then sshfs first, …),
 * so both see the machine in the same state; the tables show medians.
 */
async function measureAll(tools: readonly Tool[], port: number, mnt: string, sessions: readonly Session[], repeat: number, rss: { peakMb: number }): Promise<Results> {
  const results: Results = { times: new Map(), cpu: new Map() };
  for (const session of sessions) {
    const limited = new Set<string>();
    for (let round = 0; round < repeat; round++) {
      const order = round % 2 === 0 ? tools : [...tools].reverse();
      for (const tool of order) {
        if (limited.has(tool.name)) continue;
        if (await runSession(tool, port, mnt, session, results, rss)) limited.add(tool.name);
      }
    }
  }
  return results;
}

async function main(): Promise<void> {
  const sessions = selectedSessions();
  const work = await mkdtemp(join(tmpdir(), 'devmount-bench-'));
  const keepLoginHome = process.env.BENCH_SERVER_HOME === 'login';
  const emptyHome = join(work, 'server-home');
  await mkdir(emptyHome);
  const sshd = await startSshd(keepLoginHome ? {} : { extraConfig: `SetEnv HOME=${emptyHome}` });
  process.stdout.write(`server sessions: ${keepLoginHome ? "the login's own HOME and shell startup files" : `HOME=${emptyHome} (no shell startup files)`}\n`);
  const proxies: DelayProxy[] = [];
  try {
    process.stdout.write(`preparing trees in ${sshd.root} …\n`);
    await writeRandomFile(join(sshd.root, 'big.bin'), BIG_MB * 1024 * 1024);
    await writeTree(join(sshd.root, 'tree'), 500, 20);
    await writeGitRepo(join(sshd.root, 'repo'), 500, 20);
    await writeTree(join(sshd.root, 'small'), 1, 1000);
    await execFileAsync('git', ['config', '--global', '--add', 'safe.directory', '*']);
    const knownHostsLines: string[] = [`[127.0.0.1]:${sshd.port} ${sshd.hostPublicKey}`];
    const ports = new Map<number, number>();
    for (const rtt of RTTS) {
      if (rtt === 0) {
        ports.set(rtt, sshd.port);
        continue;
      }
      const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: rtt / 2 });
      proxies.push(proxy);
      ports.set(rtt, proxy.port);
      knownHostsLines.push(`[127.0.0.1]:${proxy.port} ${sshd.hostPublicKey}`);
    }
    const knownHosts = join(work, 'known_hosts');
    await writeFile(knownHosts, `${knownHostsLines.join('\n')}\n`);
    const mnt = join(work, 'mnt');
    await mkdir(mnt);
    for (const rtt of RTTS) {
      const rss = { peakMb: 0 };
      const repeat = repeatAt(rtt);
      process.stdout.write(`at ${rtt} ms RTT, ${repeat} run(s) per tool and work, tools taking turns …\n`);
      const results = await measureAll(tools(sshd, knownHosts), ports.get(rtt)!, mnt, sessions, repeat, rss);
      const rows: Row[] = sessions.flat().map(([label]) => {
        const bytes = label.startsWith('read') ? BIG_MB * 1048576 : label.startsWith('write') ? WRITE_MB * 1048576 : 0;
        const show = (m: Measurement) => (bytes ? `${formatRate(bytes, m)} (${formatSeconds(m)})` : formatSeconds(m));
        const ours = medianBy(results.times.get(`devmount:${label}`)!, (m) => m.seconds)!;
        const peer = medianBy(results.times.get(`sshfs:${label}`)!, (m) => m.seconds)!;
        return { label, ours: show(ours), peer: show(peer), ratio: ratio(ours, peer), goal: goalFor(label, rtt) };
      });
      rows.push({ label: 'peak RSS (devmount)', ours: `${rss.peakMb.toFixed(0)} MB`, peer: '', ratio: '', goal: '≤ 200 MB' });
      printTable(`devmount vs sshfs at ${rtt} ms RTT, median of ${repeat} (ratio = devmount time / sshfs time; < 1 is faster)`, { ours: 'devmount', peer: 'sshfs' }, rows);
      printCpu(results, sessions);
    }
  } finally {
    for (const p of proxies) await p.close();
    await sshd.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * The client's CPU per work, medians: on a loaded machine wall times move with everyone else's work, CPU much
 * less. sshfs's includes its ssh child (encryption); the server's sshd is not counted for either.
 */
function printCpu(results: Results, sessions: readonly Session[]): void {
  const median = (key: string) => medianBy(results.cpu.get(key) ?? [], (s) => s);
  for (const [label] of sessions.flat()) {
    const ours = median(`devmount:${label}`);
    const peer = median(`sshfs:${label}`);
    if (ours === undefined || peer === undefined) continue;
    process.stdout.write(`client CPU, ${label}: devmount ${ours.toFixed(2)} s, sshfs + ssh ${peer.toFixed(2)} s, ${(ours / Math.max(peer, 0.01)).toFixed(2)}x\n`);
  }
}

function goalFor(label: string, rtt: number): string {
  if (rtt === 0) return label.startsWith('read') ? 'time ≤ 1.0x (throughput ≥ 1.0x)' : '';
  if (label.startsWith('read')) return 'time ≤ 0.2x (throughput ≥ 5x)';
  if (label === 'find cold') return '≤ 0.1x';
  if (label === 'git status cold') return '≤ 5 s';
  if (label === 'git status warm') return '≤ 1 s';
  return '';
}

await main();
