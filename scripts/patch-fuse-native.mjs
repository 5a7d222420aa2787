#!/usr/bin/env node
// postinstall: builds a patched copy of fuse-native 2.2.6 into node_modules/.cache/devmount/fuse-native.
//
// Why: fuse-native.c hands JavaScript the access time in place of the modification time in `utimens`
// (`FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)` where l->mtime is meant), so `cp -p`, `rsync -t` or `tar x` onto
// a mount would store the access time as the modification time. The fix is one token; the prebuilt addon
// cannot be patched, so the C file is rebuilt with node-gyp (the one npm bundles). The stock package is left
// untouched: fs/fuse/native.ts loads the patched copy when it exists and loads, else the stock one (whose
// limitation the README states). This script never fails the install: without a compiler it only warns.
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, rm, writeFile, access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const BUGGY = 'FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)';
const FIXED = 'FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)';

function warn(message) {
  process.stderr.write(`devmount postinstall: ${message}\n`);
}

async function nodeGypPath() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  // npm's bundled node-gyp, next to the npm that runs this script (npm_execpath = …/npm/bin/npm-cli.js).
  if (process.env.npm_execpath) candidates.push(join(dirname(dirname(process.env.npm_execpath)), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js', '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  for (const candidate of candidates) {
    try {
      await access(candidate);
      return candidate;
    } catch {
      // not installed there: try the next place
    }
  }
  return undefined;
}

async function main() {
  const require = createRequire(import.meta.url);
  let pkgDir;
  try {
    pkgDir = dirname(require.resolve('fuse-native/package.json'));
  } catch {
    warn('fuse-native is not installed; nothing to patch');
    return;
  }
  const source = await readFile(join(pkgDir, 'fuse-native.c'), 'utf8');
  if (!source.includes(BUGGY)) return; // a fuse-native that no longer has the bug: use it as it is
  const nodeModules = dirname(pkgDir);
  const out = join(nodeModules, '.cache', 'devmount', 'fuse-native');
  const marker = join(out, 'devmount-patched.json');
  const version = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')).version;
  try {
    const previous = JSON.parse(await readFile(marker, 'utf8'));
    if (previous.version === version && previous.node === process.versions.modules) return; // already built
  } catch {
    // no previous build: build now
  }
  const gyp = await nodeGypPath();
  if (!gyp) {
    warn('node-gyp not found; using stock fuse-native (utimens passes atime as mtime)');
    return;
  }
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  for (const name of ['package.json', 'index.js', 'binding.gyp', 'semaphore.h']) await cp(join(pkgDir, name), join(out, name));
  await writeFile(join(out, 'fuse-native.c'), source.replace(BUGGY, FIXED));
  const args = [gyp, 'rebuild'];
  // Headers: npm's nodedir setting, else the ones installed next to this node (Debian's nodejs and the official
  // tarballs ship include/node), so no download is needed.
  const installPrefix = dirname(dirname(process.execPath));
  if (process.env.npm_config_nodedir) args.push(`--nodedir=${process.env.npm_config_nodedir}`);
  else if (await access(join(installPrefix, 'include', 'node', 'node_api.h')).then(() => true, () => false)) args.push(`--nodedir=${installPrefix}`);
  try {
    await execFileAsync(process.execPath, args, { cwd: out, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    // Prove it loads before anyone relies on it.
    createRequire(join(out, 'index.js'))('./index.js');
    await writeFile(marker, `${JSON.stringify({ version, node: process.versions.modules, patched: FIXED })}\n`);
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    const detail = String(err?.stderr || err?.message || err).trim().split('\n').slice(-3).join(' | ');
    warn(`could not build the patched fuse-native (${detail}); using the stock one (utimens passes atime as mtime)`);
  }
}

main().catch((err) => warn(`skipped: ${err instanceof Error ? err.message : String(err)}`));
