/**
 * npm run bench — every benchmark in one go, one after the other (they would skew each other if run
 * together on this 2-core machine). Each prints its own table of devmount against its peer, same run.
 * BENCH_ONLY=serve,php limits the set.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const BENCHES = ['serve', 'php', 'remote', 'mount', 'backup'] as const;

async function runBench(name: string): Promise<number> {
  const script = resolve(import.meta.dirname, `${name}.js`);
  process.stdout.write(`\n=== bench:${name} ===\n`);
  const child = spawn(process.execPath, [script], { stdio: 'inherit' });
  return new Promise((done) => child.once('exit', (code) => done(code ?? 1)));
}

const only = process.env.BENCH_ONLY?.split(',').filter(Boolean);
const failed: string[] = [];
for (const name of BENCHES) {
  if (only && !only.includes(name)) continue;
  if ((await runBench(name)) !== 0) failed.push(name);
}
if (failed.length > 0) {
  process.stderr.write(`devmount bench: ${failed.join(', ')} failed (see above)\n`);
  process.exitCode = 1;
}
