/*
 * devmount's FUSE binding on the libfuse 3 high-level API, for Node.js through N-API.
 *
 * Derived from fuse-native 2.2.6 (fuse-native.c), Copyright (c) 2017 Mathias Buus, MIT License:
 *   Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
 *   associated documentation files (the "Software"), to deal in the Software without restriction, including
 *   without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 *   copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the
 *   following conditions: The above copyright notice and this permission notice shall be included in all
 *   copies or substantial portions of the Software.
 *   THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED.
 *
 * Shape (docs/fuse.md says why): libfuse's worker threads (fuse_loop_mt) turn each request into a `request_t`
 * on their stack, hand it to the JavaScript thread through one N-API thread-safe function per mount, and wait
 * on the request's semaphore. JavaScript (fs/fuse/fuse3.ts) answers with one of the `signal_*` functions,
 * which fill in the reply and post the semaphore. What C can answer alone never crosses:
 * - getattr, access without W_OK, and open/read/release of small cached files, from the fast-files table
 *   (fast-files.h);
 * - FLUSH of a handle opened read-only (bit 31 of fh, set by fs/fuse/adapter.ts): nothing to flush;
 * - opendir/releasedir: a directory handle holds a listing, so READDIRPLUS continuations are served from the
 *   listing given at offset 0 instead of asking again per 4 KiB of entries;
 * - READDIR(PLUS) of a directory whose listing the caches hold fresh, from the directory table (dir-table.h).
 * Kernel cache invalidation runs on a thread of its own (invalidator.h).
 */
#define FUSE_USE_VERSION 32

#include <node_api.h>

#include <errno.h>
#include <fuse.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dir-table.h"
#include "fast-files.h"
#include "invalidator.h"

/* ---- N-API helpers --------------------------------------------------------------------------------- */

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, #call " failed"); return NULL; } } while (0)

#define ARGS(n) \
  size_t argc = n; \
  napi_value argv[n]; \
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL)); \
  if (argc < n) { napi_throw_type_error(env, NULL, "expected " #n " arguments"); return NULL; }

static void *buffer_data(napi_env env, napi_value value, size_t *len) {
  void *data = NULL;
  size_t n = 0;
  bool is_buffer = false;
  if (napi_is_buffer(env, value, &is_buffer) == napi_ok && is_buffer) {
    if (napi_get_buffer_info(env, value, &data, &n) != napi_ok) return NULL;
  } else {
    napi_typedarray_type type;
    napi_value ab;
    size_t offset;
    if (napi_get_typedarray_info(env, value, &type, &n, &data, &ab, &offset) != napi_ok) return NULL;
    if (type == napi_uint32_array) n *= 4;
  }
  if (len != NULL) *len = n;
  return data;
}

/** A UTF-8 copy of a JavaScript string (malloc'd), or NULL. */
static char *utf8_dup(napi_env env, napi_value value) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &len) != napi_ok) return NULL;
  char *s = malloc(len + 1);
  if (s == NULL) return NULL;
  napi_get_value_string_utf8(env, value, s, len + 1, &len);
  return s;
}

static double number_property(napi_env env, napi_value obj, const char *name, double fallback) {
  napi_value v;
  double d;
  if (napi_get_named_property(env, obj, name, &v) != napi_ok) return fallback;
  if (napi_get_value_double(env, v, &d) != napi_ok) return fallback;
  return d;
}

/* ---- stat transfer: 18 × uint32 (fs/fuse/fast-files.ts encodeStat) ---------------------------------- */

#define STAT_INTS 18

static uint64_t ints_u64(const uint32_t *ints) {
  return (uint64_t) ints[1] * 4294967296ull + ints[0];
}

static void ints_timespec(const uint32_t *ints, struct timespec *ts) {
  uint64_t ms = ints_u64(ints);
  ts->tv_sec = (time_t) (ms / 1000);
  ts->tv_nsec = (long) (ms % 1000) * 1000000;
}

static void populate_stat(const uint32_t *ints, struct stat *st) {
  memset(st, 0, sizeof(*st));
  st->st_mode = ints[0];
  st->st_uid = ints[1];
  st->st_gid = ints[2];
  st->st_size = (off_t) ints_u64(ints + 3);
  st->st_dev = ints[5];
  st->st_nlink = ints[6];
  st->st_ino = ints[7];
  st->st_rdev = ints[8];
  st->st_blksize = ints[9];
  st->st_blocks = (blkcnt_t) ints_u64(ints + 10);
#ifdef __APPLE__
  ints_timespec(ints + 12, &st->st_atimespec);
  ints_timespec(ints + 14, &st->st_mtimespec);
  ints_timespec(ints + 16, &st->st_ctimespec);
#else
  ints_timespec(ints + 12, &st->st_atim);
  ints_timespec(ints + 14, &st->st_mtim);
  ints_timespec(ints + 16, &st->st_ctim);
#endif
}

static void populate_statvfs(const uint32_t *ints, struct statvfs *sv) {
  memset(sv, 0, sizeof(*sv));
  sv->f_bsize = ints[0];
  sv->f_frsize = ints[1];
  sv->f_blocks = ints[2];
  sv->f_bfree = ints[3];
  sv->f_bavail = ints[4];
  sv->f_files = ints[5];
  sv->f_ffree = ints[6];
  sv->f_favail = ints[7];
  sv->f_fsid = ints[8];
  sv->f_flag = ints[9];
  sv->f_namemax = ints[10];
}

static double timespec_ms(const struct timespec *ts) {
  return (double) ts->tv_sec * 1000.0 + (double) (ts->tv_nsec / 1000000);
}

/* ---- opcodes (fs/fuse/fuse3.ts Op) ------------------------------------------------------------------ */

enum {
  OP_INIT = 0, OP_GETATTR, OP_ACCESS, OP_STATFS, OP_READDIR, OP_READLINK, OP_OPEN, OP_CREATE, OP_READ,
  OP_WRITE, OP_FLUSH, OP_FSYNC, OP_RELEASE, OP_TRUNCATE, OP_FTRUNCATE, OP_MKDIR, OP_RMDIR, OP_UNLINK,
  OP_RENAME, OP_SYMLINK, OP_LINK, OP_CHMOD, OP_CHOWN, OP_UTIMENS, OP_COUNT
};

/* ---- per-mount state ------------------------------------------------------------------------------- */

typedef struct {
  struct fuse *fuse;
  napi_threadsafe_function tsfn;
  pthread_t loop_thread;
  double attr_timeout;
  double entry_timeout;
  double negative_timeout;
  unsigned max_write;
  int direct_io;
  unsigned max_read;
  int unmounted;
  ff_table_t *ff;
  dt_table_t *dt;
  inv_queue_t inv;
  /** Requests libfuse handed to us, whoever answered them (count_request): background work yields to them. */
  uint32_t requests;
} mount_t;

/**
 * A directory handle: the listing answered at offset 0 (from the directory table or from JavaScript), served
 * to READDIR(PLUS) continuations; NULL before the first READDIR. stats: count × STAT_INTS, or NULL.
 */
typedef struct {
  dt_listing_t *listing;
} dir_handle_t;

/** One request from a libfuse thread to JavaScript; lives on that thread's stack until answered. */
typedef struct {
  uint32_t op;
  mount_t *m;
  const char *path;
  const char *dest;
  struct fuse_file_info *fi;
  char *buf;
  const char *wbuf;
  size_t len;
  off_t offset;
  mode_t mode;
  uid_t uid;
  gid_t gid;
  int number; /* access mode, open flags, datasync */
  double atime_ms;
  double mtime_ms;
  struct stat *st;
  struct statvfs *sv;
  dir_handle_t *dir;
  int32_t res;
  sem_t done;
} request_t;

static mount_t *current_mount(void) {
  return (mount_t *) fuse_get_context()->private_data;
}

/** Runs `r` on the JavaScript thread and waits for its answer. */
static int32_t call_js(mount_t *m, request_t *r) {
  sem_init(&r->done, 0, 0);
  r->res = -EIO;
  if (napi_call_threadsafe_function(m->tsfn, r, napi_tsfn_blocking) != napi_ok) {
    sem_destroy(&r->done);
    return -EIO;
  }
  while (sem_wait(&r->done) != 0 && errno == EINTR) continue;
  sem_destroy(&r->done);
  return r->res;
}

static void answer(request_t *r, int32_t res) {
  r->res = res;
  sem_post(&r->done);
}

/* ---- the JavaScript side of a request -------------------------------------------------------------- */

static napi_value str_or_null(napi_env env, const char *s) {
  napi_value v;
  if (s == NULL) napi_get_null(env, &v);
  else napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

static napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

static uint32_t fh_of(const request_t *r) {
  return r->fi != NULL ? (uint32_t) r->fi->fh : 0;
}

/** Thread-safe function callback: dispatch(op, request, ...arguments) on the JavaScript thread. */
static void dispatch(napi_env env, napi_value js_dispatch, void *context, void *data) {
  request_t *r = (request_t *) data;
  if (env == NULL) { /* the mount is going away: nobody will answer */
    answer(r, -EIO);
    return;
  }
  napi_value argv[7];
  size_t argc = 2;
  napi_create_uint32(env, r->op, &argv[0]);
  napi_create_external(env, r, NULL, NULL, &argv[1]);
  switch (r->op) {
    case OP_INIT:
      break;
    case OP_GETATTR: case OP_STATFS: case OP_READDIR: case OP_READLINK: case OP_RMDIR: case OP_UNLINK:
      argv[argc++] = str_or_null(env, r->path);
      break;
    case OP_ACCESS: case OP_OPEN:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = num(env, r->number);
      break;
    case OP_CREATE: case OP_MKDIR: case OP_CHMOD:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = num(env, r->mode);
      break;
    case OP_READ:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = num(env, fh_of(r));
      argv[argc++] = num(env, (double) r->len);
      argv[argc++] = num(env, (double) r->offset);
      break;
    case OP_WRITE:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = num(env, fh_of(r));
      /* The kernel's request, no copy: JavaScript copies what must outlive its answer, and signal_write
         detaches this Buffer so nothing can touch the memory once libfuse has reused it. */
      napi_create_external_buffer(env, r->len, (void *) r->wbuf, NULL, NULL, &argv[argc++]);
      argv[argc++] = num(env, (double) r->offset);
      break;
    case OP_FLUSH: case OP_RELEASE:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = num(env, fh_of(r));
      break;
    case OP_FSYNC:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = num(env, r->number);
      argv[argc++] = num(env, fh_of(r));
      break;
    case OP_TRUNCATE:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = num(env, (double) r->offset);
      break;
    case OP_FTRUNCATE:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = num(env, fh_of(r));
      argv[argc++] = num(env, (double) r->offset);
      break;
    case OP_RENAME: case OP_SYMLINK: case OP_LINK:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = str_or_null(env, r->dest);
      break;
    case OP_CHOWN:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = num(env, r->uid);
      argv[argc++] = num(env, r->gid);
      break;
    case OP_UTIMENS:
      argv[argc++] = str_or_null(env, r->path);
      argv[argc++] = num(env, r->atime_ms);
      argv[argc++] = num(env, r->mtime_ms);
      break;
    default:
      answer(r, -ENOSYS);
      return;
  }
  napi_value global;
  napi_get_global(env, &global);
  if (napi_call_function(env, global, js_dispatch, argc, argv, NULL) != napi_ok) {
    /* fs/fuse/fuse3.ts never throws from dispatch; should it, the request must still be answered once. */
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    answer(r, -EIO);
  }
}

static request_t *request_arg(napi_env env, napi_value value) {
  void *r = NULL;
  if (napi_get_value_external(env, value, &r) != napi_ok) return NULL;
  return (request_t *) r;
}

#define SIGNAL_HEAD(n) \
  ARGS(n) \
  request_t *r = request_arg(env, argv[0]); \
  int32_t res; \
  if (r == NULL || napi_get_value_int32(env, argv[1], &res) != napi_ok) { \
    napi_throw_type_error(env, NULL, "signal: (request, result, ...)"); \
    return NULL; \
  }

/** signal_void(request, result) */
static napi_value signal_void(napi_env env, napi_callback_info info) {
  SIGNAL_HEAD(2)
  answer(r, res);
  return NULL;
}

/** signal_ints(request, result, Uint32Array): a stat (18 values) for getattr, a statvfs (11) for statfs. */
static napi_value signal_ints(napi_env env, napi_callback_info info) {
  SIGNAL_HEAD(3)
  if (res == 0) {
    size_t len = 0;
    const uint32_t *ints = buffer_data(env, argv[2], &len);
    int statfs = r->op == OP_STATFS;
    if (ints == NULL || len < (statfs ? 11 : STAT_INTS) * 4) res = -EIO;
    else if (statfs) populate_statvfs(ints, r->sv);
    else populate_stat(ints, r->st);
  }
  answer(r, res);
  return NULL;
}

/** signal_fh(request, result, fh): open and create. */
static napi_value signal_fh(napi_env env, napi_callback_info info) {
  SIGNAL_HEAD(3)
  if (res == 0) {
    uint32_t fh = 0;
    napi_get_value_uint32(env, argv[2], &fh);
    r->fi->fh = fh;
  }
  answer(r, res);
  return NULL;
}

/** signal_read(request, bytesOrError, data): the bytes are copied into the kernel's buffer here. */
static napi_value signal_read(napi_env env, napi_callback_info info) {
  SIGNAL_HEAD(3)
  if (res > 0) {
    size_t len = 0;
    const char *data = buffer_data(env, argv[2], &len);
    if (data == NULL) {
      res = -EIO;
    } else {
      if ((size_t) res > len) res = (int32_t) len;
      if ((size_t) res > r->len) res = (int32_t) r->len;
      memcpy(r->buf, data, (size_t) res);
    }
  }
  answer(r, res);
  return NULL;
}

/** signal_write(request, bytesOrError, buffer): detaches the Buffer over the kernel's request first. */
static napi_value signal_write(napi_env env, napi_callback_info info) {
  SIGNAL_HEAD(3)
  napi_value ab;
  napi_typedarray_type type;
  size_t length, offset;
  void *data;
  if (napi_get_typedarray_info(env, argv[2], &type, &length, &data, &ab, &offset) == napi_ok) napi_detach_arraybuffer(env, ab);
  answer(r, res);
  return NULL;
}

/** signal_readlink(request, result, target) */
static napi_value signal_readlink(napi_env env, napi_callback_info info) {
  SIGNAL_HEAD(3)
  if (res == 0) {
    size_t copied = 0;
    if (r->len == 0 || napi_get_value_string_utf8(env, argv[2], r->buf, r->len, &copied) != napi_ok) res = -EIO;
  }
  answer(r, res);
  return NULL;
}

/** A listing of the JavaScript `names` array, with `stats` (STAT_INTS per name) when given; NULL on failure. */
static dt_listing_t *listing_of(napi_env env, napi_value names, napi_value stats_value) {
  uint32_t count = 0;
  if (napi_get_array_length(env, names, &count) != napi_ok) return NULL;
  size_t stats_len = 0;
  napi_valuetype stats_type;
  napi_typeof(env, stats_value, &stats_type);
  const uint32_t *stats = stats_type == napi_object ? buffer_data(env, stats_value, &stats_len) : NULL;
  int with_stats = stats != NULL && stats_len >= (size_t) count * STAT_INTS * 4;
  /* Two passes: the lengths first, so the listing is one allocation. */
  napi_value *values = malloc((count > 0 ? count : 1) * sizeof(napi_value));
  size_t *lengths = malloc((count > 0 ? count : 1) * sizeof(size_t));
  dt_listing_t *l = NULL;
  size_t name_bytes = 0;
  if (values == NULL || lengths == NULL) goto done;
  for (uint32_t i = 0; i < count; i++) {
    if (napi_get_element(env, names, i, &values[i]) != napi_ok
        || napi_get_value_string_utf8(env, values[i], NULL, 0, &lengths[i]) != napi_ok) goto done;
    name_bytes += lengths[i] + 1;
  }
  l = dt_listing_new(count, name_bytes, STAT_INTS, with_stats);
  if (l == NULL) goto done;
  for (uint32_t i = 0; i < count; i++) {
    size_t copied = 0;
    napi_get_value_string_utf8(env, values[i], l->names[i], lengths[i] + 1, &copied);
    dt_listing_name_written(l, i, copied);
  }
  if (with_stats) memcpy(l->stats, stats, (size_t) count * STAT_INTS * 4);
done:
  free(values);
  free(lengths);
  return l;
}

/**
 * signal_readdir(request, result, names, stats: Uint32Array(18 × names) | null, tableMs): with tableMs > 0 the
 * listing is also the caches' fresh one for that long (fs/fuse/native-dirs.ts checked it), and goes into the
 * directory table.
 */
static napi_value signal_readdir(napi_env env, napi_callback_info info) {
  SIGNAL_HEAD(5)
  dir_handle_t *d = r->dir;
  dt_listing_unref(d->listing);
  d->listing = NULL;
  if (res == 0) {
    d->listing = listing_of(env, argv[2], argv[3]);
    uint32_t table_ms = 0;
    napi_get_value_uint32(env, argv[4], &table_ms);
    if (d->listing == NULL) res = -ENOMEM;
    else if (table_ms > 0) dt_put(r->m->dt, r->path, d->listing, table_ms);
  }
  answer(r, res);
  return NULL;
}

/* ---- libfuse operations ---------------------------------------------------------------------------- */

/** One more request served (read by JavaScript through request_count; wraps, compared only for change). */
static void count_request(mount_t *m) {
  __atomic_add_fetch(&m->requests, 1, __ATOMIC_RELAXED);
}

#define REQUEST(opcode) \
  mount_t *m = current_mount(); \
  count_request(m); \
  request_t r; \
  memset(&r, 0, sizeof(r)); \
  r.op = opcode; \
  r.m = m;

/* The operations that pass JavaScript one path, a path and a mode, or two paths. */
static int js_path(uint32_t op, const char *path, mode_t mode) {
  REQUEST(op)
  r.path = path;
  r.mode = mode;
  return call_js(m, &r);
}

static int js_two_paths(uint32_t op, const char *path, const char *dest) {
  REQUEST(op)
  r.path = path;
  r.dest = dest;
  return call_js(m, &r);
}

static int fn_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  REQUEST(OP_GETATTR)
  if (ff_getattr(m->ff, path, st)) return 0;
  /* A name the parent's live listing lacks (dir-table.h dt_has_name): the kernel keeps no negative entries. */
  if (dt_has_name(m->dt, path) == DT_ABSENT) return -ENOENT;
  r.path = path;
  r.st = st;
  return call_js(m, &r);
}

static int fn_access(const char *path, int mask) {
  REQUEST(OP_ACCESS)
  /* JavaScript answers existence, plus EROFS for W_OK on a read-only mount (fs/fuse/adapter.ts `access`): without
     W_OK, a path the fast-files table holds fresh exists, and that is the whole answer. git calls access(2) on
     its own files at every `git status`. */
  struct stat st;
  if ((mask & W_OK) == 0 && ff_getattr(m->ff, path, &st)) return 0;
  /* JavaScript would answer ENOENT before looking at W_OK. */
  if (dt_has_name(m->dt, path) == DT_ABSENT) return -ENOENT;
  r.path = path;
  r.number = mask;
  return call_js(m, &r);
}

static int fn_statfs(const char *path, struct statvfs *sv) {
  REQUEST(OP_STATFS)
  r.path = path;
  r.sv = sv;
  return call_js(m, &r);
}

static int fn_opendir(const char *path, struct fuse_file_info *fi) {
  count_request(current_mount());
  dir_handle_t *d = calloc(1, sizeof(dir_handle_t));
  if (d == NULL) return -ENOMEM;
  fi->fh = (uint64_t) (uintptr_t) d;
  return 0;
}

static int fn_releasedir(const char *path, struct fuse_file_info *fi) {
  count_request(current_mount());
  dir_handle_t *d = (dir_handle_t *) (uintptr_t) fi->fh;
  if (d != NULL) {
    dt_listing_unref(d->listing);
    free(d);
  }
  return 0;
}

/*
 * Entries carry their offsets (i + 1), so libfuse replies with as many as fit and the kernel continues at the
 * next offset; with FUSE_FILL_DIR_PLUS each entry's attributes go to the kernel in the same reply. (libfuse
 * 3.14's high-level API sends readdirplus attributes only in this offset mode: entries collected without
 * offsets are replied with ino 0, "ignore the attributes", fuse.c readdir_fill_from_list.)
 */
static int fn_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t offset, struct fuse_file_info *fi,
                      enum fuse_readdir_flags flags) {
  REQUEST(OP_READDIR)
  dir_handle_t *d = (dir_handle_t *) (uintptr_t) fi->fh;
  if (d == NULL) return -EBADF;
  if (offset == 0) {
    dt_listing_unref(d->listing);
    d->listing = dt_get(m->dt, path);
    if (d->listing == NULL) {
      r.path = path;
      r.dir = d;
      int res = call_js(m, &r);
      if (res != 0) return res;
    }
  }
  const dt_listing_t *l = d->listing;
  if (l == NULL) return 0;
  int plus = (flags & FUSE_READDIR_PLUS) != 0 && l->stats != NULL;
  for (uint32_t i = (uint32_t) offset; i < l->count; i++) {
    struct stat st;
    if (l->stats != NULL) populate_stat(l->stats + (size_t) i * STAT_INTS, &st);
    /* "." and "..": libfuse gives them no inode of their own in a READDIRPLUS entry (fill_dir_plus skips its
       lookup), and an entry with inode 0 is skipped by readdir(3); as plain entries readdir_ino numbers them. */
    const char *name = l->names[i];
    int dots = name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
    if (filler(buf, name, l->stats != NULL ? &st : NULL, (off_t) i + 1, plus && !dots ? FUSE_FILL_DIR_PLUS : 0)) break;
  }
  return 0;
}

static int fn_readlink(const char *path, char *buf, size_t len) {
  REQUEST(OP_READLINK)
  r.path = path;
  r.buf = buf;
  r.len = len;
  return call_js(m, &r);
}

static int fn_open(const char *path, struct fuse_file_info *fi) {
  REQUEST(OP_OPEN)
  if (ff_open(m->ff, path, fi->flags, &fi->fh)) return 0;
  r.path = path;
  r.fi = fi;
  r.number = fi->flags;
  int res = call_js(m, &r);
  /* The kernel opens a name it still holds an entry for (libfuse's high-level API cannot invalidate entries),
     and strips O_CREAT from the request: a name removed on the server could not be created again until the
     entry expired. ESTALE makes the kernel walk the path again with LOOKUP_REVAL (do_filp_open), which looks
     the name up afresh: then it is created, or the caller gets ENOENT from that lookup. */
  return res == -ENOENT ? -ESTALE : res;
}

static int fn_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  REQUEST(OP_CREATE)
  r.path = path;
  r.mode = mode;
  r.fi = fi;
  return call_js(m, &r);
}

static int fn_read(const char *path, char *buf, size_t len, off_t offset, struct fuse_file_info *fi) {
  REQUEST(OP_READ)
  if (fi->fh & FF_HANDLE_BIT) {
    int fast = ff_read(m->ff, path, fi->fh, buf, len, offset);
    if (fast != FF_ESCALATE) return fast;
  }
  r.path = path;
  r.fi = fi;
  r.buf = buf;
  r.len = len;
  r.offset = offset;
  return call_js(m, &r);
}

static int fn_write(const char *path, const char *buf, size_t len, off_t offset, struct fuse_file_info *fi) {
  REQUEST(OP_WRITE)
  r.path = path;
  r.fi = fi;
  r.wbuf = buf;
  r.len = len;
  r.offset = offset;
  return call_js(m, &r);
}

static int fn_flush(const char *path, struct fuse_file_info *fi) {
  REQUEST(OP_FLUSH)
  if (fi->fh & FF_READ_ONLY_BIT) return 0; /* opened read-only: nothing to flush */
  r.path = path;
  r.fi = fi;
  return call_js(m, &r);
}

static int fn_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  REQUEST(OP_FSYNC)
  r.path = path;
  r.number = datasync;
  r.fi = fi;
  return call_js(m, &r);
}

static int fn_release(const char *path, struct fuse_file_info *fi) {
  REQUEST(OP_RELEASE)
  if ((fi->fh & FF_HANDLE_BIT) && ff_release(m->ff, fi->fh)) return 0;
  r.path = path;
  r.fi = fi;
  return call_js(m, &r);
}

static int fn_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  REQUEST(fi != NULL ? OP_FTRUNCATE : OP_TRUNCATE)
  r.path = path;
  r.fi = fi;
  r.offset = size;
  return call_js(m, &r);
}

static int fn_mkdir(const char *path, mode_t mode) {
  return js_path(OP_MKDIR, path, mode);
}

static int fn_rmdir(const char *path) {
  return js_path(OP_RMDIR, path, 0);
}

static int fn_unlink(const char *path) {
  return js_path(OP_UNLINK, path, 0);
}

static int fn_rename(const char *from, const char *to, unsigned int flags) {
  /* RENAME_NOREPLACE / RENAME_EXCHANGE cannot be done atomically over SFTP; EINVAL makes mv(1) and
     renameat2(2) callers fall back to a plain rename (as sshfs answers). */
  if (flags != 0) return -EINVAL;
  return js_two_paths(OP_RENAME, from, to);
}

static int fn_symlink(const char *target, const char *path) {
  return js_two_paths(OP_SYMLINK, target, path);
}

static int fn_link(const char *existing, const char *path) {
  return js_two_paths(OP_LINK, existing, path);
}

static int fn_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  return js_path(OP_CHMOD, path, mode);
}

static int fn_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
  REQUEST(OP_CHOWN)
  r.path = path;
  r.uid = uid;
  r.gid = gid;
  return call_js(m, &r);
}

/* Both times as given: fuse-native 2.2.6 passed the access time twice. UTIME_NOW / UTIME_OMIT (utimensat(2))
   reach JavaScript as -1 / -2. */
static double utime_ms(const struct timespec *ts) {
  if (ts->tv_nsec == UTIME_NOW) return -1;
  if (ts->tv_nsec == UTIME_OMIT) return -2;
  return timespec_ms(ts);
}

static int fn_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  REQUEST(OP_UTIMENS)
  r.path = path;
  r.atime_ms = utime_ms(&tv[0]);
  r.mtime_ms = utime_ms(&tv[1]);
  return call_js(m, &r);
}

static void *fn_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  mount_t *m = current_mount();
  /* As with libfuse 2 before: libfuse numbers the inodes (SFTP has no inode numbers to give), and plain
     READDIR entries carry the same numbers stat(2) shows (readdir_ino), not 0, which readdir(3) skips. */
  cfg->use_ino = 0;
  cfg->readdir_ino = 1;
  cfg->entry_timeout = m->entry_timeout;
  cfg->attr_timeout = m->attr_timeout;
  cfg->negative_timeout = m->negative_timeout;
  /* libfuse 3 takes direct_io only here (fuse_config), not as a mount option: -o direct_io is refused. */
  cfg->direct_io = m->direct_io;
  /* Paths are always passed: fs/fuse/adapter.ts works by path. */
  cfg->nullpath_ok = 0;
  /* libfuse sizes its buffers for FUSE_MAX_MAX_PAGES (1 MiB), and tells the kernel max_pages from this. */
  if (m->max_write > 0) conn->max_write = m->max_write;
  /* -o max_read=N reaches the kernel as a mount option; libfuse 3 refuses the mount unless init asks for the same
     size ("init() and fuse_session_new() requested different maximum read size"). */
  if (m->max_read > 0) conn->max_read = m->max_read;
  /* Lookups and readdirs of one directory in parallel (the kernel serialises them per directory without). */
  if (conn->capable & FUSE_CAP_PARALLEL_DIROPS) conn->want |= FUSE_CAP_PARALLEL_DIROPS;
  /* READDIRPLUS: a listing carries every entry's attributes, so `ls -l` / `find -ls` need no lookup per name.
     AUTO lets the kernel use plain READDIR once the names' attributes are already cached. */
  if (conn->capable & FUSE_CAP_READDIRPLUS) conn->want |= FUSE_CAP_READDIRPLUS;
  if (conn->capable & FUSE_CAP_READDIRPLUS_AUTO) conn->want |= FUSE_CAP_READDIRPLUS_AUTO;
  request_t r;
  memset(&r, 0, sizeof(r));
  r.op = OP_INIT;
  call_js(m, &r); /* resolves the JavaScript mount() */
  return m;
}

static const struct fuse_operations operations = {
  .getattr = fn_getattr,
  .readlink = fn_readlink,
  .mkdir = fn_mkdir,
  .unlink = fn_unlink,
  .rmdir = fn_rmdir,
  .symlink = fn_symlink,
  .rename = fn_rename,
  .link = fn_link,
  .chmod = fn_chmod,
  .chown = fn_chown,
  .truncate = fn_truncate,
  .open = fn_open,
  .read = fn_read,
  .write = fn_write,
  .statfs = fn_statfs,
  .flush = fn_flush,
  .release = fn_release,
  .fsync = fn_fsync,
  .opendir = fn_opendir,
  .readdir = fn_readdir,
  .releasedir = fn_releasedir,
  .init = fn_init,
  .access = fn_access,
  .create = fn_create,
  .utimens = fn_utimens,
};

/* ---- mount lifecycle ------------------------------------------------------------------------------- */

static int invalidate_path(void *target, const char *path) {
  return fuse_invalidate_path((struct fuse *) target, path);
}

static void *loop_thread(void *data) {
  mount_t *m = (mount_t *) data;
  struct fuse_loop_config config = { .clone_fd = 0, .max_idle_threads = 10 };
  fuse_loop_mt(m->fuse, &config);
  /* The loop ends when the kernel ends the connection (fusermount3 -u from fs/fuse/mount-table.ts). */
  inv_stop(&m->inv);
  fuse_unmount(m->fuse); /* a no-op once the kernel has let go, as it has */
  fuse_destroy(m->fuse);
  m->fuse = NULL;
  napi_release_threadsafe_function(m->tsfn, napi_tsfn_release);
  return NULL;
}

/* JavaScript thread, once the loop thread has released the thread-safe function: it is gone from here on. */
static void tsfn_finalized(napi_env env, void *data, void *hint) {
  mount_t *m = (mount_t *) data;
  m->tsfn = NULL;
}

static mount_t *mount_arg(napi_env env, napi_value value) {
  size_t len = 0;
  mount_t **slot = buffer_data(env, value, &len);
  if (slot == NULL || len < sizeof(mount_t *)) return NULL;
  return *slot;
}

/**
 * mount(mountpoint, options, { attrTimeout, entryTimeout, negativeTimeout, maxWrite }, dispatch) → handle.
 * `options` is libfuse's -o string (fs/fuse/libfuse-options.ts). Throws when libfuse refuses.
 */
static napi_value mount(napi_env env, napi_callback_info info) {
  ARGS(4)
  char *mnt = utf8_dup(env, argv[0]);
  char *opts = utf8_dup(env, argv[1]);
  if (mnt == NULL || opts == NULL) {
    free(mnt);
    free(opts);
    napi_throw_type_error(env, NULL, "mount(mountpoint, options, config, dispatch)");
    return NULL;
  }
  /* Never freed: libfuse's threads may still answer from the fast-files table while the mount goes away,
     and the JavaScript side keeps only a pointer to it. A process makes a handful of mounts. */
  mount_t *m = calloc(1, sizeof(mount_t));
  m->attr_timeout = number_property(env, argv[2], "attrTimeout", 1);
  m->entry_timeout = number_property(env, argv[2], "entryTimeout", 1);
  m->negative_timeout = number_property(env, argv[2], "negativeTimeout", 0);
  m->max_write = (unsigned) number_property(env, argv[2], "maxWrite", 0);
  m->direct_io = number_property(env, argv[2], "directIo", 0) != 0;
  m->max_read = (unsigned) number_property(env, argv[2], "maxRead", 0);
  m->ff = ff_table_new();
  m->dt = dt_table_new();

  char *fuse_argv[] = { (char *) "devmount", (char *) "-o", opts, NULL };
  struct fuse_args args = FUSE_ARGS_INIT(opts[0] != '\0' ? 3 : 1, fuse_argv);
  m->fuse = fuse_new(&args, &operations, sizeof(operations), m);
  fuse_opt_free_args(&args);
  free(opts);
  if (m->fuse == NULL) {
    free(mnt);
    napi_throw_error(env, "EINVAL", "libfuse refused the mount options (see its message above)");
    return NULL;
  }
  if (fuse_mount(m->fuse, mnt) != 0) {
    fuse_destroy(m->fuse);
    free(mnt);
    napi_throw_error(env, "EMOUNT", "fuse_mount failed (see its message above)");
    return NULL;
  }
  free(mnt);

  napi_value name;
  napi_create_string_utf8(env, "devmount-fuse3", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[3], NULL, name, 0, 1, m, tsfn_finalized, m, dispatch, &m->tsfn) != napi_ok) {
    m->tsfn = NULL;
  }
  if (m->tsfn == NULL || inv_start(&m->inv, invalidate_path, m->fuse) != 0
      || pthread_create(&m->loop_thread, NULL, loop_thread, m) != 0) {
    inv_stop(&m->inv);
    if (m->tsfn != NULL) napi_release_threadsafe_function(m->tsfn, napi_tsfn_abort);
    fuse_unmount(m->fuse);
    fuse_destroy(m->fuse);
    napi_throw_error(env, "EMOUNT", "could not start the FUSE threads");
    return NULL;
  }
  pthread_detach(m->loop_thread);

  napi_value handle;
  mount_t **slot;
  napi_create_buffer(env, sizeof(mount_t *), (void **) &slot, &handle);
  *slot = m;
  return handle;
}

/** unmounted(handle): the kernel has let go; the mount no longer keeps the event loop alive. */
static napi_value unmounted(napi_env env, napi_callback_info info) {
  ARGS(1)
  mount_t *m = mount_arg(env, argv[0]);
  if (m != NULL && !m->unmounted) {
    m->unmounted = 1;
    /* Already finalized when the loop thread has ended and released it (tsfn_finalized). */
    if (m->tsfn != NULL) napi_unref_threadsafe_function(env, m->tsfn);
  }
  return NULL;
}

/** invalidate(handle, path): queued for the invalidation thread (invalidator.h). */
static napi_value invalidate(napi_env env, napi_callback_info info) {
  ARGS(2)
  mount_t *m = mount_arg(env, argv[0]);
  if (m == NULL || m->unmounted) return NULL;
  char path[4096];
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[1], path, sizeof(path), &len) != napi_ok || len >= sizeof(path) - 1) return NULL;
  inv_push(&m->inv, path);
  return NULL;
}

/** The arguments of a counters call (handle, Uint32Array of at least `count`): the mount, or NULL. */
static mount_t *counters_args(napi_env env, napi_callback_info info, size_t count, uint32_t **out) {
  ARGS(2)
  size_t len = 0;
  *out = buffer_data(env, argv[1], &len);
  return *out != NULL && len >= count * sizeof(uint32_t) ? mount_arg(env, argv[0]) : NULL;
}

/** request_count(handle, Uint32Array(1)): requests served since the mount, modulo 2^32. */
static napi_value request_count(napi_env env, napi_callback_info info) {
  uint32_t *out;
  mount_t *m = counters_args(env, info, 1, &out);
  if (m != NULL) out[0] = __atomic_load_n(&m->requests, __ATOMIC_RELAXED);
  return NULL;
}

/** invalidation_counters(handle, Uint32Array(2)): paths queued, invalidations the kernel took. */
static napi_value invalidation_counters(napi_env env, napi_callback_info info) {
  uint32_t *out;
  mount_t *m = counters_args(env, info, 2, &out);
  if (m == NULL) return NULL;
  inv_counters_t c;
  inv_read_counters(&m->inv, &c);
  out[0] = c.queued;
  out[1] = c.sent;
  return NULL;
}

/* ---- the fast-files table's JavaScript side (fs/fuse/fast-files.ts) -------------------------------- */

static napi_value ff_put_js(napi_env env, napi_callback_info info) {
  ARGS(5)
  mount_t *m = mount_arg(env, argv[0]);
  char *path = utf8_dup(env, argv[1]);
  size_t ints_len = 0;
  const uint32_t *ints = buffer_data(env, argv[2], &ints_len);
  uint32_t ttl = 0;
  napi_get_value_uint32(env, argv[3], &ttl);
  napi_valuetype content_type;
  size_t content_len = 0;
  const char *content = NULL;
  if (napi_typeof(env, argv[4], &content_type) == napi_ok && content_type == napi_object) content = buffer_data(env, argv[4], &content_len);
  if (m != NULL && path != NULL && ints != NULL && ints_len >= STAT_INTS * 4) {
    struct stat st;
    populate_stat(ints, &st);
    ff_put(m->ff, path, &st, ttl, content != NULL ? (content_len > 0 ? content : "") : NULL, content_len);
  }
  free(path);
  return NULL;
}

static napi_value ff_forget_js(napi_env env, napi_callback_info info) {
  ARGS(2)
  mount_t *m = mount_arg(env, argv[0]);
  char *path = utf8_dup(env, argv[1]);
  if (m != NULL && path != NULL) ff_forget(m->ff, path);
  free(path);
  return NULL;
}

static napi_value ff_forget_all_js(napi_env env, napi_callback_info info) {
  ARGS(1)
  mount_t *m = mount_arg(env, argv[0]);
  if (m != NULL) ff_forget_all(m->ff);
  return NULL;
}

static napi_value ff_free_escalated_js(napi_env env, napi_callback_info info) {
  ARGS(2)
  mount_t *m = mount_arg(env, argv[0]);
  uint32_t fh = 0;
  napi_get_value_uint32(env, argv[1], &fh);
  if (m != NULL) ff_free_escalated(m->ff, fh);
  return NULL;
}

/** fuse_native_ff_set_watched(handle, watched): the table's clock stops while watched (fast-files.h). */
static napi_value ff_set_watched_js(napi_env env, napi_callback_info info) {
  ARGS(2)
  mount_t *m = mount_arg(env, argv[0]);
  bool watched = false;
  napi_get_value_bool(env, argv[1], &watched);
  if (m != NULL) ff_set_watched(m->ff, watched);
  return NULL;
}

/** fuse_native_ff_counters(handle, Uint32Array(6)): getattr hits, opens, reads, escalations, entries, bytes. */
static napi_value ff_counters_js(napi_env env, napi_callback_info info) {
  uint32_t *out;
  mount_t *m = counters_args(env, info, 6, &out);
  if (m == NULL) return NULL;
  ff_counters_t c;
  uint32_t entries;
  uint32_t content_bytes;
  ff_read_counters(m->ff, &c, &entries, &content_bytes);
  out[0] = c.getattr_hits;
  out[1] = c.opens;
  out[2] = c.reads;
  out[3] = c.escalations;
  out[4] = entries;
  out[5] = content_bytes;
  return NULL;
}

/* ---- the directory table's JavaScript side (fs/fuse/native-dirs.ts) --------------------------------- */

static napi_value dirs_forget_js(napi_env env, napi_callback_info info) {
  ARGS(2)
  mount_t *m = mount_arg(env, argv[0]);
  char *path = utf8_dup(env, argv[1]);
  if (m != NULL && m->dt != NULL && path != NULL) dt_forget(m->dt, path);
  free(path);
  return NULL;
}

static napi_value dirs_forget_all_js(napi_env env, napi_callback_info info) {
  ARGS(1)
  mount_t *m = mount_arg(env, argv[0]);
  if (m != NULL && m->dt != NULL) dt_forget_all(m->dt);
  return NULL;
}

/** dirs_set_watched(handle, watched): the table's clock stops while watched (dir-table.h). */
static napi_value dirs_set_watched_js(napi_env env, napi_callback_info info) {
  ARGS(2)
  mount_t *m = mount_arg(env, argv[0]);
  bool watched = false;
  napi_get_value_bool(env, argv[1], &watched);
  if (m != NULL && m->dt != NULL) dt_set_watched(m->dt, watched);
  return NULL;
}

/**
 * dirs_put(handle, path, names, stats: Uint32Array(18 × names) | null, tableMs): `names` is the caches' fresh
 * listing of directory `path` for tableMs more (fs/fuse/native-dirs.ts checked it, as for signal_readdir). For a
 * listing JavaScript read without a READDIR: a GETATTR it answered ENOENT under a fresh parent listing.
 */
static napi_value dirs_put_js(napi_env env, napi_callback_info info) {
  ARGS(5)
  mount_t *m = mount_arg(env, argv[0]);
  uint32_t table_ms = 0;
  napi_get_value_uint32(env, argv[4], &table_ms);
  if (m == NULL || m->dt == NULL || table_ms == 0) return NULL;
  char *path = utf8_dup(env, argv[1]);
  dt_listing_t *listing = path != NULL ? listing_of(env, argv[2], argv[3]) : NULL;
  if (listing != NULL) dt_put(m->dt, path, listing, table_ms);
  dt_listing_unref(listing);
  free(path);
  return NULL;
}

/**
 * dirs_counters(handle, Uint32Array(5)): READDIRs answered from the table, listings stored, dropped, held, and
 * lookups answered ENOENT from a listing.
 */
static napi_value dirs_counters_js(napi_env env, napi_callback_info info) {
  uint32_t *out;
  mount_t *m = counters_args(env, info, 5, &out);
  if (m == NULL || m->dt == NULL) return NULL;
  dt_counters_t c;
  uint32_t entries;
  dt_read_counters(m->dt, &c, &entries);
  out[0] = c.hits;
  out[1] = c.stored;
  out[2] = c.dropped;
  out[3] = entries;
  out[4] = c.negative_hits;
  return NULL;
}

/* ---- module ---------------------------------------------------------------------------------------- */

static napi_value init_module(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "mount", NULL, mount, NULL, NULL, NULL, napi_default, NULL },
    { "unmounted", NULL, unmounted, NULL, NULL, NULL, napi_default, NULL },
    { "invalidate", NULL, invalidate, NULL, NULL, NULL, napi_default, NULL },
    { "invalidation_counters", NULL, invalidation_counters, NULL, NULL, NULL, napi_default, NULL },
    { "signal_void", NULL, signal_void, NULL, NULL, NULL, napi_default, NULL },
    { "signal_ints", NULL, signal_ints, NULL, NULL, NULL, napi_default, NULL },
    { "signal_fh", NULL, signal_fh, NULL, NULL, NULL, napi_default, NULL },
    { "signal_read", NULL, signal_read, NULL, NULL, NULL, napi_default, NULL },
    { "signal_write", NULL, signal_write, NULL, NULL, NULL, napi_default, NULL },
    { "signal_readlink", NULL, signal_readlink, NULL, NULL, NULL, napi_default, NULL },
    { "signal_readdir", NULL, signal_readdir, NULL, NULL, NULL, napi_default, NULL },
    { "fuse_native_ff_put", NULL, ff_put_js, NULL, NULL, NULL, napi_default, NULL },
    { "fuse_native_ff_forget", NULL, ff_forget_js, NULL, NULL, NULL, napi_default, NULL },
    { "fuse_native_ff_forget_all", NULL, ff_forget_all_js, NULL, NULL, NULL, napi_default, NULL },
    { "fuse_native_ff_free_escalated", NULL, ff_free_escalated_js, NULL, NULL, NULL, napi_default, NULL },
    { "fuse_native_ff_counters", NULL, ff_counters_js, NULL, NULL, NULL, napi_default, NULL },
    { "fuse_native_ff_set_watched", NULL, ff_set_watched_js, NULL, NULL, NULL, napi_default, NULL },
    { "dirs_put", NULL, dirs_put_js, NULL, NULL, NULL, napi_default, NULL },
    { "dirs_forget", NULL, dirs_forget_js, NULL, NULL, NULL, napi_default, NULL },
    { "dirs_forget_all", NULL, dirs_forget_all_js, NULL, NULL, NULL, napi_default, NULL },
    { "dirs_counters", NULL, dirs_counters_js, NULL, NULL, NULL, napi_default, NULL },
    { "dirs_set_watched", NULL, dirs_set_watched_js, NULL, NULL, NULL, napi_default, NULL },
    { "request_count", NULL, request_count, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init_module)
