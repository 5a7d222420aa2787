#!/usr/bin/env node
// postinstall: builds a patched copy of fuse-native 2.2.6 into node_modules/.cache/devmount/fuse-native.
//
// Why: the prebuilt addon cannot be changed, so fuse-native.c (and its index.js) are patched and rebuilt with
// node-gyp (the one npm bundles). The stock package is left untouched: fs/fuse/native.ts loads the patched copy
// when it exists and loads, else the stock one (whose limitations the README states). This script never fails
// the install: without a compiler it only warns. The patches (PATCHES below):
// - utimens-mtime: fuse-native.c hands JavaScript the access time in place of the modification time in
//   `utimens` (`FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)` where l->mtime is meant), so `cp -p`, `rsync -t` or
//   `tar x` onto a mount would store the access time as the modification time.
// - read-data: every read wrapped the kernel's buffer in a new external Buffer for JavaScript to copy into.
//   V8 counts each one as external memory, and at 0 ms RTT those 256 MiB per 256 MiB read were a third of the
//   full garbage collections in the mount daemon (issue 6). JavaScript now answers with the bytes
//   (`cb(n, data)`) and C copies them into the kernel's buffer: no Buffer per read.
// (Writes keep fuse-native's own external Buffer over the kernel's request: fs/vfs/write-behind.ts copies the
//   bytes before the first await, and the Buffer is detached once we answer. An earlier patch copied them in C
//   first: a fresh 128 KiB Buffer per write, each one page faults on first touch.)
// - flush-read-only: the kernel sends FLUSH at every close(2), and each one crossed to JavaScript and back (a
//   `git status` that reads 10,000 files sent 10,000 of them). A handle opened read-only has nothing to flush:
//   fs/fuse/adapter.ts marks its number with bit 31 (READ_ONLY_HANDLE), and C answers its FLUSH at once.
// - fast-files: getattr, and open/read/release of small cached files, answered on libfuse's threads from a table
//   JavaScript keeps in step with its caches (scripts/fuse-native/fast-files.h says why and how;
//   fs/fuse/fast-files.ts is the JavaScript side).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, readFile, rm, writeFile, access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** Each patch replaces one exact text of fuse-native 2.2.6; a fuse-native without that text is used as it is. */
const PATCHES = [
  {
    id: 'utimens-mtime',
    file: 'fuse-native.c',
    from: 'FUSE_UINT64_TO_INTS_ARGV(l->atime, 5)',
    to: 'FUSE_UINT64_TO_INTS_ARGV(l->mtime, 5)',
  },
  {
    id: 'read-data',
    file: 'fuse-native.c',
    from: `  napi_create_external_buffer(env, l->len, (char *) l->buf, NULL, NULL, &(argv[4]));
  napi_create_uint32(env, l->len, &(argv[5]));
  FUSE_UINT64_TO_INTS_ARGV(l->offset, 6)
}, {
  if (IS_ARRAY_BUFFER_DETACH_SUPPORTED == 1) assert(napi_detach_arraybuffer(env, argv[3]) == napi_ok);
})

FUSE_METHOD(write,`,
    to: `  napi_get_null(env, &(argv[4]));
  napi_create_uint32(env, l->len, &(argv[5]));
  FUSE_UINT64_TO_INTS_ARGV(l->offset, 6)
}, {
  if (res > 0) {
    void *data = NULL;
    size_t data_len = 0;
    if (napi_get_buffer_info(env, argv[2], &data, &data_len) != napi_ok) {
      res = -EIO;
    } else {
      if ((size_t) res > data_len) res = (int32_t) data_len;
      if ((size_t) res > l->len) res = (int32_t) l->len;
      memcpy(l->buf, data, (size_t) res);
    }
  }
})

FUSE_METHOD(write,`,
  },
  {
    id: 'read-data',
    file: 'index.js',
    from: `    this.ops.read(path, fd, buf, len, getDoubleArg(offsetLow, offsetHigh), (err, bytesRead) => {
      return signal(err, bytesRead || 0, buf.buffer)
    })`,
    to: `    this.ops.read(path, fd, buf, len, getDoubleArg(offsetLow, offsetHigh), (res, data) => {
      return signal(res, data)
    })`,
  },
  {
    // A read that fuse-native times out answers without bytes: `buf` is null now, so `input[2].buffer` would throw.
    id: 'read-data',
    file: 'index.js',
    from: `              case 'write':
              case 'read':
                return cb(TIMEOUT_ERRNO, 0, input[2].buffer)`,
    to: `              case 'write':
                return cb(TIMEOUT_ERRNO, 0, input[2].buffer)
              case 'read':
                return cb(TIMEOUT_ERRNO)`,
  },
  {
    id: 'flush-read-only',
    file: 'fuse-native.c',
    from: `FUSE_METHOD_VOID(flush, 2, 0, (const char *path, struct fuse_file_info *info), {
  l->path = path;
  l->info = info;
}, {`,
    to: `FUSE_METHOD_VOID(flush, 2, 0, (const char *path, struct fuse_file_info *info), {
  if (info != NULL && (info->fh & 0x80000000UL)) return 0;
  l->path = path;
  l->info = info;
}, {`,
  },
  {
    id: 'fast-files',
    file: 'fuse-native.c',
    from: `#include <pthread.h>
`,
    to: `#include <pthread.h>
#include "fast-files.h"
`,
  },
  {
    id: 'fast-files',
    file: 'fuse-native.c',
    from: `  uv_async_t async;
  uv_mutex_t mut;
  uv_sem_t sem;
} fuse_thread_t;`,
    to: `  uv_async_t async;
  uv_mutex_t mut;
  uv_sem_t sem;

  ff_table_t *ff;
} fuse_thread_t;`,
  },
  {
    id: 'fast-files',
    file: 'fuse-native.c',
    from: `FUSE_METHOD(getattr, 1, 1, (const char *path, struct stat *stat), {
  l->path = path;`,
    to: `FUSE_METHOD(getattr, 1, 1, (const char *path, struct stat *stat), {
  if (ff_getattr(l->fuse->ff, path, stat)) return 0;
  l->path = path;`,
  },
  {
    id: 'fast-files',
    file: 'fuse-native.c',
    from: `FUSE_METHOD(open, 2, 1, (const char *path, struct fuse_file_info *info), {
  l->path = path;`,
    to: `FUSE_METHOD(open, 2, 1, (const char *path, struct fuse_file_info *info), {
  if (info != NULL && ff_open(l->fuse->ff, path, info->flags, &info->fh)) return 0;
  l->path = path;`,
  },
  {
    id: 'fast-files',
    file: 'fuse-native.c',
    from: `FUSE_METHOD(read, 6, 2, (const char *path, char *buf, size_t len, off_t offset, struct fuse_file_info *info), {
  l->path = path;`,
    to: `FUSE_METHOD(read, 6, 2, (const char *path, char *buf, size_t len, off_t offset, struct fuse_file_info *info), {
  if (info != NULL && (info->fh & FF_HANDLE_BIT)) {
    int fast = ff_read(l->fuse->ff, path, info->fh, buf, len, offset);
    if (fast != FF_ESCALATE) return fast;
  }
  l->path = path;`,
  },
  {
    id: 'fast-files',
    file: 'fuse-native.c',
    from: `FUSE_METHOD_VOID(release, 2, 0, (const char *path, struct fuse_file_info *info), {
  l->path = path;`,
    to: `FUSE_METHOD_VOID(release, 2, 0, (const char *path, struct fuse_file_info *info), {
  if (info != NULL && (info->fh & FF_HANDLE_BIT) && ff_release(l->fuse->ff, info->fh)) return 0;
  l->path = path;`,
  },
  {
    id: 'fast-files',
    file: 'fuse-native.c',
    from: `  ft->mounted++;
`,
    to: `  ft->mounted++;
  if (ft->ff == NULL) ft->ff = ff_table_new();
`,
  },
  {
    id: 'fast-files',
    file: 'fuse-native.c',
    from: `NAPI_INIT() {`,
    to: `// devmount patch "fast-files": the table's JavaScript side (fast-files.h). The table lives as long as the
// process: libfuse's threads may still be answering from it while the mount is going away.
NAPI_METHOD(fuse_native_ff_put) {
  NAPI_ARGV(5)
  NAPI_ARGV_BUFFER_CAST(fuse_thread_t *, ft, 0);
  NAPI_ARGV_UTF8_MALLOC(path, 1);
  NAPI_ARGV_BUFFER_CAST(uint32_t *, ints, 2);
  NAPI_ARGV_UINT32(ttl, 3);
  napi_valuetype content_type;
  void *content = NULL;
  size_t content_len = 0;
  int has_content = napi_typeof(env, argv[4], &content_type) == napi_ok && content_type == napi_object
    && napi_get_buffer_info(env, argv[4], &content, &content_len) == napi_ok;
  if (ft->ff != NULL && ints_len >= 18 * sizeof(uint32_t)) {
    struct stat st;
    memset(&st, 0, sizeof(st));
    populate_stat(ints, &st);
    ff_put(ft->ff, path, &st, ttl, has_content ? (content_len > 0 ? (const char *) content : "") : NULL, content_len);
  }
  free(path);
  return NULL;
}

NAPI_METHOD(fuse_native_ff_forget) {
  NAPI_ARGV(2)
  NAPI_ARGV_BUFFER_CAST(fuse_thread_t *, ft, 0);
  NAPI_ARGV_UTF8_MALLOC(path, 1);
  if (ft->ff != NULL) ff_forget(ft->ff, path);
  free(path);
  return NULL;
}

NAPI_METHOD(fuse_native_ff_forget_all) {
  NAPI_ARGV(1)
  NAPI_ARGV_BUFFER_CAST(fuse_thread_t *, ft, 0);
  if (ft->ff != NULL) ff_forget_all(ft->ff);
  return NULL;
}

NAPI_METHOD(fuse_native_ff_free_escalated) {
  NAPI_ARGV(2)
  NAPI_ARGV_BUFFER_CAST(fuse_thread_t *, ft, 0);
  NAPI_ARGV_UINT32(fh, 1);
  if (ft->ff != NULL) ff_free_escalated(ft->ff, fh);
  return NULL;
}

NAPI_METHOD(fuse_native_ff_counters) {
  NAPI_ARGV(2)
  NAPI_ARGV_BUFFER_CAST(fuse_thread_t *, ft, 0);
  NAPI_ARGV_BUFFER_CAST(uint32_t *, out, 1);
  if (ft->ff != NULL && out_len >= 6 * sizeof(uint32_t)) {
    ff_counters_t c;
    uint32_t entries;
    uint32_t content_bytes;
    ff_read_counters(ft->ff, &c, &entries, &content_bytes);
    out[0] = c.getattr_hits;
    out[1] = c.opens;
    out[2] = c.reads;
    out[3] = c.escalations;
    out[4] = entries;
    out[5] = content_bytes;
  }
  return NULL;
}

NAPI_INIT() {`,
  },
  {
    id: 'fast-files',
    file: 'fuse-native.c',
    from: `  NAPI_EXPORT_FUNCTION(fuse_native_unmount)
`,
    to: `  NAPI_EXPORT_FUNCTION(fuse_native_unmount)
  NAPI_EXPORT_FUNCTION(fuse_native_ff_put)
  NAPI_EXPORT_FUNCTION(fuse_native_ff_forget)
  NAPI_EXPORT_FUNCTION(fuse_native_ff_forget_all)
  NAPI_EXPORT_FUNCTION(fuse_native_ff_free_escalated)
  NAPI_EXPORT_FUNCTION(fuse_native_ff_counters)
`,
  },
];
/** fs/fuse/native.ts reads this to know which patches the copy it loaded carries. */
const PATCH_IDS = [...new Set(PATCHES.map((p) => p.id))];
/** Built next to fuse-native.c, which the fast-files patch makes include it. */
const FAST_FILES_HEADER = await readFile(new URL('./fuse-native/fast-files.h', import.meta.url), 'utf8');
/** Any change to a patch's text or to the header rebuilds the copy (the marker records this digest). */
const PATCHES_DIGEST = createHash('sha256').update(JSON.stringify(PATCHES)).update(FAST_FILES_HEADER).digest('hex').slice(0, 16);

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
  const sources = {};
  for (const name of ['fuse-native.c', 'index.js']) sources[name] = await readFile(join(pkgDir, name), 'utf8');
  const missing = PATCHES.filter((p) => !sources[p.file].includes(p.from));
  if (missing.length > 0) {
    // Another fuse-native version: patching half of it could pair a C side and a JS side that disagree.
    warn(`fuse-native differs from 2.2.6 where devmount patches it (${missing.map((p) => p.id).join(', ')}); using it as it is`);
    return;
  }
  const nodeModules = dirname(pkgDir);
  const out = join(nodeModules, '.cache', 'devmount', 'fuse-native');
  const marker = join(out, 'devmount-patched.json');
  const version = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')).version;
  try {
    const previous = JSON.parse(await readFile(marker, 'utf8'));
    const samePatches = previous.digest === PATCHES_DIGEST;
    if (previous.version === version && previous.node === process.versions.modules && samePatches) return; // already built
  } catch {
    // no previous build: build now
  }
  const gyp = await nodeGypPath();
  if (!gyp) {
    warn('node-gyp not found; using stock fuse-native (utimens passes atime as mtime; slower reads)');
    return;
  }
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  for (const name of ['package.json', 'binding.gyp', 'semaphore.h']) await cp(join(pkgDir, name), join(out, name));
  await writeFile(join(out, 'fast-files.h'), FAST_FILES_HEADER);
  for (const patch of PATCHES) sources[patch.file] = sources[patch.file].replace(patch.from, patch.to);
  sources['index.js'] += `\n// Added by devmount's scripts/patch-fuse-native.mjs: the patches this copy carries.\nFuse.devmountPatches = ${JSON.stringify(PATCH_IDS)}\n`;
  for (const [name, text] of Object.entries(sources)) await writeFile(join(out, name), text);
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
    await writeFile(marker, `${JSON.stringify({ version, node: process.versions.modules, patches: PATCH_IDS, digest: PATCHES_DIGEST })}\n`);
  } catch (err) {
    await rm(out, { recursive: true, force: true });
    const detail = String(err?.stderr || err?.message || err).trim().split('\n').slice(-3).join(' | ');
    warn(`could not build the patched fuse-native (${detail}); using the stock one (utimens passes atime as mtime; slower reads)`);
  }
}

main().catch((err) => warn(`skipped: ${err instanceof Error ? err.message : String(err)}`));
