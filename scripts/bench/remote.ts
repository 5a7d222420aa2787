/**
 * `npm run bench:remote` (issue 5): req/s of a small page served by `devmount serve user@host:/path` at 20 ms RTT
 * (a TCP delay proxy adding 10 ms each way in front of the harness sshd) vs the same `devmount serve` on a local
 * copy of the site, in the same run, `wrk -t1 -c50 -d5s` each after a warm-up. Goal: remote/local >= 0.5x
 * (cache hits are served from memory, so the network should not show once warm).
 * The machine is shared and noisy: DEVMOUNT_BENCH_ROUNDS alternations, best of each; compare the ratio.
 */
import { type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSshd } from '../../test/harness/sshd.js';
import { startDelayProxy } from '../delay-proxy.js';
import { formatGoal, startDevmountServe, stopChild, warmUp, wrk } from './lib.js';

const WRK_ARGS = ['-t1', '-c50', '-d5s'];
const ONE_WAY_DELAY_MS = 10; // 20 ms RTT
const ROUNDS = Math.max(1, Number(process.env.DEVMOUNT_BENCH_ROUNDS ?? 2));
const WARMUP_REQUESTS = 20;
const GOAL = 0.5;

/** Starts `devmount serve ARGS`, waits (bounded, ~30 s: the remote one connects through the delay proxy) and warms it up. */
async function startServe(args: readonly string[], logFile: string): Promise<{ child: ChildProcess; url: string }> {
  const { child, origin } = await startDevmountServe(args, { logFile, readyPath: '/index.html', attempts: 300 });
  const url = `${origin}/index.html`;
  await warmUp(url, WARMUP_REQUESTS);
  return { child, url };
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(tmpdir(), 'devmount-bench-remote-'));
  const sshd = await startSshd();
  const proxy = await startDelayProxy({ targetPort: sshd.port, delayMs: ONE_WAY_DELAY_MS });
  const children: ChildProcess[] = [];
  try {
    const site = path.join(sshd.root, 'site');
    await mkdir(path.join(site, 'css'), { recursive: true });
    const paragraph = '<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt.</p>\n';
    await writeFile(path.join(site, 'index.html'), `<!doctype html><html><head><link rel="stylesheet" href="css/site.css"></head><body>\n${paragraph.repeat(50)}</body></html>\n`);
    await writeFile(path.join(site, 'css', 'site.css'), 'body { font-family: sans-serif; }\n');
    const localCopy = path.join(work, 'local-site');
    await cp(site, localCopy, { recursive: true });
    const knownHosts = path.join(work, 'known_hosts');
    await writeFile(knownHosts, `[127.0.0.1]:${proxy.port} ${sshd.hostPublicKey}\n`);
    const remoteArgs = [`${sshd.user}@127.0.0.1:${site}`, '-o', `Port=${proxy.port},IdentityFile=${sshd.privateKeyPath},UserKnownHostsFile=${knownHosts}`];

    const remote = await startServe(remoteArgs, path.join(work, 'remote.log'));
    children.push(remote.child);
    const local = await startServe([localCopy], path.join(work, 'local.log'));
    children.push(local.child);
    let bestRemote = 0;
    let bestLocal = 0;
    for (let round = 0; round < ROUNDS; round++) {
      bestRemote = Math.max(bestRemote, await wrk(remote.url, WRK_ARGS));
      bestLocal = Math.max(bestLocal, await wrk(local.url, WRK_ARGS));
    }
    const r = bestRemote / bestLocal;
    process.stdout.write(`\nbench:remote — 5 KiB page, wrk ${WRK_ARGS.join(' ')}, best of ${ROUNDS}, remote at ${2 * ONE_WAY_DELAY_MS} ms RTT\n`);
    process.stdout.write(`| server                                | req/s    |\n|---------------------------------------|----------|\n`);
    process.stdout.write(`| devmount serve user@host:/site (20ms) | ${bestRemote.toFixed(0).padStart(8)} |\n`);
    process.stdout.write(`| devmount serve ./local-copy           | ${bestLocal.toFixed(0).padStart(8)} |\n`);
    process.stdout.write(`remote/local ratio: ${formatGoal(r, GOAL)}\n`);
  } finally {
    await Promise.all(children.map(stopChild));
    await proxy.close();
    await sshd.stop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:remote failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
