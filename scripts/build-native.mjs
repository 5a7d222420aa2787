#!/usr/bin/env node
// install: builds devmount's libfuse 3 binding (native/fuse3) with node-gyp, the one npm bundles.
//
// It needs a C compiler, pkg-config and libfuse3-dev (README "Install"). Without them the install still
// succeeds: this prints one warning and fs/fuse/native.ts falls back to the stock fuse-native prebuild
// (libfuse 2), which the README says what it lacks. It never fails the install.
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const addonDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'fuse3');
const FALLBACK = 'devmount mounts through the stock fuse-native (libfuse 2) instead: see the README, "FUSE binding"';

function warn(message) {
  process.stderr.write(`devmount install: ${message}; ${FALLBACK}\n`);
}

const exists = (path) => access(path).then(() => true, () => false);

async function nodeGypPath() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  // npm's bundled node-gyp, next to the npm that runs this script (npm_execpath = …/npm/bin/npm-cli.js).
  if (process.env.npm_execpath) candidates.push(join(dirname(dirname(process.env.npm_execpath)), 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  candidates.push('/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js', '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  for (const candidate of candidates) {
    if (await exists(candidate)) return candidate;
  }
  return undefined;
}

async function main() {
  const gyp = await nodeGypPath();
  if (!gyp) return warn('node-gyp not found');
  try {
    await execFileAsync('pkg-config', ['--exists', 'fuse3']);
  } catch {
    return warn('libfuse3-dev (pkg-config fuse3) not found');
  }
  const args = [gyp, 'rebuild'];
  // Headers: npm's nodedir setting, else the ones installed next to this node (Debian's nodejs and the official
  // tarballs ship include/node), so no download is needed.
  const installPrefix = dirname(dirname(process.execPath));
  if (process.env.npm_config_nodedir) args.push(`--nodedir=${process.env.npm_config_nodedir}`);
  else if (await exists(join(installPrefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${installPrefix}`);
  try {
    await execFileAsync(process.execPath, args, { cwd: addonDir, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  } catch (err) {
    const detail = String(err?.stderr || err?.message || err).trim().split('\n').slice(-3).join(' | ');
    return warn(`could not build native/fuse3 (${detail})`);
  }
}

main().catch((err) => warn(`skipped: ${err instanceof Error ? err.message : String(err)}`));
