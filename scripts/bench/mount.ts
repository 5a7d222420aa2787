/**
 * npm run bench:mount — devmount vs sshfs on the same sshd and trees, at 0 ms and 20 ms RTT (a TCP delay
 * proxy in front of sshd: the kernel here has no netem). Prints each figure and the ratio devmount/sshfs.
 * Environment: BENCH_RTTS (default "0,20"), BENCH_LIMIT_S (per measurement, default 90),
 * BENCH_BIG_MB (default 256), BENCH_WRITE_MB (default 64).
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startSshd, type Sshd } from '../../test/harness/sshd.js';
import { startDelayProxy, type DelayProxy } from '../delay-proxy.js';
import { execFileAsync, formatRate, formatSeconds, peakRssMb, printTable, ratio, timeShell, type Measurement, type Row } from './lib.js';
import { writeGitRepo, writeRandomFile, writeTree } from './trees.js';

const RTTS = (process.env.BENCH_RTTS ?? '0,20').split(',').map(Number);
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
  return [
    {
      name: 'devmount',
      mount: async (port, mnt) => { await execFileAsync(process.execPath, [DEVMOUNT, 'mount', '-p', String(port), '-o', sshOptions, remote, mnt]); },
      unmount: async (mnt) => { await execFileAsync(process.execPath, [DEVMOUNT, 'unmount', mnt]); },
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

/** The devmount process serving a mount point (its argv names the mount point). */
async function servingPid(mountpoint: string): Promise<number | null> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (argv.includes(mountpoint) && argv.some((a) => a.endsWith('devmount.js') || a.includes('/cli/'))) return Number(entry);
    } catch {
      continue; // the process exited while we looked
    }
  }
  return null;
}

interface Results { [work: string]: Measurement }

async function measure(tool: Tool, port: number, mnt: string, results: Results, rss: { peakMb: number }): Promise<void> {
  const fresh = async () => {
    // Not mounted yet on the first call; busy when the previous command was stopped at its time limit.
    await tool.unmount(mnt).catch(() => tool.unmountLazy(mnt)).catch(() => undefined);
    await tool.mount(port, mnt);
  };
  const sample = async (): Promise<number | null> => {
    if (tool.name !== 'devmount') return null;
    const pid = await servingPid(mnt);
    const mb = pid ? await peakRssMb(pid) : null;
    if (mb !== null) rss.peakMb = Math.max(rss.peakMb, mb);
    return mb;
  };
  const run = async (work: string, command: string) => {
    results[work] = await timeShell(command, { limitMs: LIMIT_MS });
    const mb = await sample();
    // Peak RSS of this mount's process so far (each fresh mount is a new process).
    process.stdout.write(`  ${work}: ${formatSeconds(results[work])}${mb === null ? '' : `, peak RSS ${mb.toFixed(0)} MB`}\n`);
  };
  try {
    await fresh();
    await run('find cold', `find ${mnt}/tree -type f -ls > /dev/null`);
    await run('find warm', `find ${mnt}/tree -type f -ls > /dev/null`);
    await fresh();
    await run('git status cold', `git -C ${mnt}/repo status --porcelain > /dev/null`);
    await run('git status warm', `git -C ${mnt}/repo status --porcelain > /dev/null`);
    await fresh();
    await run('1000 small files', `cat ${mnt}/small/*/* > /dev/null`);
    await fresh();
    await run(`read ${BIG_MB} MiB`, `dd if=${mnt}/big.bin of=/dev/null bs=1M status=none`);
    await run(`write ${WRITE_MB} MiB`, `dd if=/dev/zero of=${mnt}/out-${tool.name}.bin bs=1M count=${WRITE_MB} conv=fsync status=none`);
  } finally {
    // A failed measurement must not leave a mount behind (the scratch directory is removed next).
    await tool.unmount(mnt).catch(() => tool.unmountLazy(mnt)).catch((err: unknown) => { process.stderr.write(`unmount ${mnt}: ${(err as Error).message}\n`); });
  }
}

async function main(): Promise<void> {
  const sshd = await startSshd();
  const work = await mkdtemp(join(tmpdir(), 'devmount-bench-'));
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
      const byTool: Record<string, Results> = {};
      const rss = { peakMb: 0 };
      for (const tool of tools(sshd, knownHosts)) {
        byTool[tool.name] = {};
        process.stdout.write(`${tool.name} at ${rtt} ms RTT …\n`);
        await measure(tool, ports.get(rtt)!, mnt, byTool[tool.name]!, rss);
      }
      const ours = byTool.devmount!;
      const peer = byTool.sshfs!;
      const rows: Row[] = Object.keys(ours).map((label) => {
        const bytes = label.startsWith('read') ? BIG_MB * 1048576 : label.startsWith('write') ? WRITE_MB * 1048576 : 0;
        const show = (m: Measurement) => (bytes ? `${formatRate(bytes, m)} (${formatSeconds(m)})` : formatSeconds(m));
        return { label, ours: show(ours[label]!), peer: show(peer[label]!), ratio: ratio(ours[label]!, peer[label]!), goal: goalFor(label, rtt) };
      });
      rows.push({ label: 'peak RSS (devmount)', ours: `${rss.peakMb.toFixed(0)} MB`, peer: '', ratio: '', goal: '≤ 200 MB' });
      printTable(`devmount vs sshfs at ${rtt} ms RTT (ratio = devmount time / sshfs time; < 1 is faster)`, { ours: 'devmount', peer: 'sshfs' }, rows);
    }
  } finally {
    for (const p of proxies) await p.close();
    await sshd.stop();
    await rm(work, { recursive: true, force: true });
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
