/**
 * bench:backup — `devmount backup` against `rsync -a` over ssh, same server, same tree (10k files, ~120 MB:
 * 500 directories of small text files plus 100 files of 1.1 MB), at 20 ms RTT through the delay proxy
 * (scripts/delay-proxy.ts). Two runs each: cold (empty destination) and no change (a second snapshot of the
 * unchanged tree: devmount hard-links from the previous snapshot, rsync gets the same job with --link-dest).
 * Goals: cold ≤ 1.5x rsync, no change ≤ 1.0x rsync.
 *
 * Usage: npm run bench:backup [-- --delay-ms N]   (one-way delay; RTT = 2N; default 10)
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSshd } from '../../test/harness/sshd.js';
import { startDelayProxy } from '../delay-proxy.js';
import { DEVMOUNT_CLI, execFileAsync, formatSeconds, printTable, ratio, timeShell, type Measurement } from './lib.js';
import { writeRandomFile, writeTree } from './trees.js';

const DIRS = 500;
const FILES_PER_DIR = 20;
const BIG_FILES = 100;
const BIG_BYTES = 1_100_000;

function delayFromArgs(argv: readonly string[]): number {
  const i = argv.indexOf('--delay-ms');
  const n = i >= 0 ? Number(argv[i + 1]) : 10;
  if (!Number.isFinite(n) || n < 0) throw new Error('--delay-ms expects a number of milliseconds');
  return n;
}

async function main(): Promise<void> {
  const delayMs = delayFromArgs(process.argv.slice(2));
  const sshd = await startSshd();
  const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs });
  const work = await mkdtemp(join(tmpdir(), 'devmount-bench-backup-'));
  try {
    const tree = join(sshd.root, 'site');
    process.stdout.write(`writing ${DIRS * FILES_PER_DIR} files (~${Math.round((DIRS * FILES_PER_DIR * 1000 + BIG_FILES * BIG_BYTES) / 1e6)} MB) …\n`);
    await writeTree(tree, DIRS, FILES_PER_DIR);
    for (let i = 0; i < BIG_FILES; i += 1) {
      await writeRandomFile(join(tree, `dir${String(i * 5).padStart(3, '0')}`, 'file00.txt'), BIG_BYTES);
    }
    const knownHosts = join(work, 'known_hosts');
    await writeFile(knownHosts, `[127.0.0.1]:${proxy.port} ${sshd.hostPublicKey}\n`);
    const devmount = (dest: string) => `node ${DEVMOUNT_CLI} backup -p ${proxy.port} -o IdentityFile=${sshd.privateKeyPath} `
      + `-o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes 127.0.0.1:${tree} ${dest}`;
    const ssh = `ssh -p ${proxy.port} -i ${sshd.privateKeyPath} -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`;
    const rsync = (dest: string, linkDest?: string) => `rsync -a ${linkDest ? `--link-dest=${linkDest} ` : ''}-e '${ssh}' 127.0.0.1:${tree}/ ${dest}/`;
    const limitMs = 600_000;

    // Each run starts with no dirty pages left by the previous one (writing the tree, or the other tool's
    // copy), and the first copy onto this disk is slower whoever makes it (measured: ~20 s extra for the
    // first of two back-to-back cold runs): an untimed warm-up copy goes first, and every figure is the
    // better of two runs made in alternating order.
    const settled = async (command: string) => {
      await execFileAsync('sync');
      return timeShell(command, { limitMs });
    };
    const best = (a: Measurement, b: Measurement) => (a.seconds <= b.seconds ? a : b);
    await settled(rsync(join(work, 'warm-up')));
    await rm(join(work, 'warm-up'), { recursive: true, force: true });
    const ourCold1 = await settled(devmount(join(work, 'dm1')));
    const peerCold1 = await settled(rsync(join(work, 'rs1')));
    const peerCold2 = await settled(rsync(join(work, 'rs2')));
    const ourCold2 = await settled(devmount(join(work, 'dm2')));
    const ourSame1 = await settled(devmount(join(work, 'dm1')));
    const peerSame1 = await settled(rsync(join(work, 'rs1-next'), join(work, 'rs1')));
    const peerSame2 = await settled(rsync(join(work, 'rs2-next'), join(work, 'rs2')));
    const ourSame2 = await settled(devmount(join(work, 'dm2')));
    const plainNoChange = best(await settled(rsync(join(work, 'rs1'))), await settled(rsync(join(work, 'rs2'))));
    const ours = [best(ourCold1, ourCold2), best(ourSame1, ourSame2)];
    const peer = [best(peerCold1, peerCold2), best(peerSame1, peerSame2)];
    process.stdout.write(`runs (s): devmount cold ${ourCold1.seconds.toFixed(2)}/${ourCold2.seconds.toFixed(2)}, rsync cold `
      + `${peerCold1.seconds.toFixed(2)}/${peerCold2.seconds.toFixed(2)}, devmount no-change ${ourSame1.seconds.toFixed(2)}/`
      + `${ourSame2.seconds.toFixed(2)}, rsync --link-dest no-change ${peerSame1.seconds.toFixed(2)}/${peerSame2.seconds.toFixed(2)}\n`);

    printTable(`backup, ${DIRS * FILES_PER_DIR} files, RTT ${2 * delayMs} ms`, { ours: 'devmount', peer: 'rsync -a' }, [
      { label: 'cold snapshot', ours: formatSeconds(ours[0]!), peer: formatSeconds(peer[0]!), ratio: ratio(ours[0]!, peer[0]!), goal: '≤ 1.5x' },
      { label: 'no change (new snapshot, hard links)', ours: formatSeconds(ours[1]!), peer: formatSeconds(peer[1]!), ratio: ratio(ours[1]!, peer[1]!), goal: '≤ 1.0x' },
      { label: 'no change (rsync into the same dir)', ours: formatSeconds(ours[1]!), peer: formatSeconds(plainNoChange), ratio: ratio(ours[1]!, plainNoChange) },
    ]);
  } finally {
    await proxy.close();
    await sshd.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
