/*
 * devmount's directory table: listings the caches hold fresh, answered to READDIR(PLUS) on libfuse's threads
 * by the libfuse 3 binding (fuse3-native.c) without crossing to the JavaScript thread.
 *
 * Why: the kernel keeps a FUSE directory's contents only when opendir sets FOPEN_CACHE_DIR, and libfuse's
 * high-level API passes `cache_readdir` from opendir to the kernel only since 3.16.1 (libfuse commit 98eb8089,
 * "Pass cache_readdir and keep_cache from high level API"; 3.14's fuse_lib_opendir copies fi.fh alone). So
 * every `find`, `ls -R` or `git status` sends one READDIR per directory to us, warm or not, and each one that
 * crosses to the JavaScript thread costs two thread hand-offs plus the listing's encoding there. sshfs answers
 * READDIR from its own C cache (cache.c); this table does the same for devmount.
 *
 * Filled and emptied on the JavaScript thread only (fs/fuse/native-dirs.ts): a listing JavaScript has just
 * answered is stored here when it was the caches' fresh listing and nothing was invalidated while it was being
 * answered (a generation, checked there); every change the caches learn of drops the listings it may touch
 * before the change is answered. libfuse's threads only look listings up. A listing is immutable once built
 * and reference-counted (the table holds one reference, each directory handle one), so a handle keeps the
 * listing it was opened on while the table moves on, as a local directory stream does (readdir(3) after a
 * change may or may not show it, POSIX readdir).
 *
 * Listings expire on the table's watched clock (table-common.h, dt_set_watched), as the fast-files table's
 * entries do: while the remote watcher is healthy the caches' listings stay fresh however long the mount
 * idles, and so do this table's; a `find` after idling is still answered here. JavaScript empties the table
 * when the watcher goes down (fs/fuse/table-clock.ts).
 *
 * Locking: one mutex guards the buckets, the counters and the clock; references are counted atomically, because a
 * handle's release runs on a libfuse thread without the lock.
 */
#ifndef DEVMOUNT_DIR_TABLE_H
#define DEVMOUNT_DIR_TABLE_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "table-common.h"

#define DT_BUCKETS 16384u
/** Bounds: a full table drops expired listings, then refuses new ones (JavaScript still answers those). */
#define DT_MAX_LISTINGS 50000u
#define DT_MAX_NAMES 200000u

/** One directory's answer: `count` names, and `count` × stat_ints attributes or NULL. One allocation. */
typedef struct dt_listing {
  uint32_t refs;
  uint32_t count;
  uint32_t *stats;
  char **names;
} dt_listing_t;

typedef struct dt_entry {
  struct dt_entry *next;
  uint32_t hash;
  int64_t expires_ms;
  dt_listing_t *listing;
  char path[];
} dt_entry_t;

/** Counters for tests: what was answered here instead of in JavaScript. */
typedef struct dt_counters {
  uint32_t hits;
  uint32_t stored;
  uint32_t dropped;
  /** GETATTRs and ACCESSes answered ENOENT because the parent's live listing lacks the name (dt_has_name). */
  uint32_t negative_hits;
} dt_counters_t;

typedef struct dt_table {
  pthread_mutex_t lock;
  dt_entry_t *buckets[DT_BUCKETS];
  uint32_t entries;
  uint32_t names;
  dt_counters_t counters;
  table_clock_t clock;
} dt_table_t;

/**
 * A listing of `count` names whose bytes (each NUL-terminated) total `name_bytes`, with room for `stat_ints`
 * uint32 values per name when `with_stats`: the caller writes the names in order (dt_listing_name_written after each) and the stats. One reference.
 */
static dt_listing_t *dt_listing_new(uint32_t count, size_t name_bytes, size_t stat_ints, int with_stats) {
  size_t stats_bytes = with_stats ? (size_t) count * stat_ints * sizeof(uint32_t) : 0;
  size_t names_bytes = (size_t) count * sizeof(char *);
  dt_listing_t *l = malloc(sizeof(dt_listing_t) + stats_bytes + names_bytes + name_bytes);
  if (l == NULL) return NULL;
  l->refs = 1;
  l->count = count;
  char *at = (char *) (l + 1);
  l->stats = with_stats ? (uint32_t *) at : NULL;
  l->names = (char **) (at + stats_bytes);
  if (count > 0) l->names[0] = at + stats_bytes + names_bytes;
  return l;
}

/** Name `i` has been written at names[i] (`len` bytes): terminates it and places name i + 1 after it. */
static void dt_listing_name_written(dt_listing_t *l, uint32_t i, size_t len) {
  l->names[i][len] = '\0';
  if (i + 1 < l->count) l->names[i + 1] = l->names[i] + len + 1;
}

static dt_listing_t *dt_listing_ref(dt_listing_t *l) {
  if (l != NULL) __atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
  return l;
}

static void dt_listing_unref(dt_listing_t *l) {
  if (l != NULL && __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) == 0) free(l);
}

static dt_table_t *dt_table_new(void) {
  dt_table_t *t = calloc(1, sizeof(dt_table_t));
  if (t == NULL) return NULL;
  pthread_mutex_init(&t->lock, NULL);
  table_clock_init(&t->clock);
  return t;
}

/** JavaScript thread: stops the table's clock while a healthy watcher covers the mount, or runs it on. */
static void dt_set_watched(dt_table_t *t, int watched) {
  pthread_mutex_lock(&t->lock);
  table_clock_set_watched(&t->clock, watched);
  pthread_mutex_unlock(&t->lock);
}

/* Call with the lock held: unlinks the entry `*at` points to and frees it. */
static void _dt_unlink(dt_table_t *t, dt_entry_t **at) {
  dt_entry_t *e = *at;
  *at = e->next;
  t->names -= e->listing->count;
  t->entries--;
  dt_listing_unref(e->listing);
  free(e);
}

/* Call with the lock held. */
static dt_entry_t **_dt_slot(dt_table_t *t, const char *path, uint32_t hash) {
  dt_entry_t **at = &t->buckets[hash & (DT_BUCKETS - 1)];
  while (*at != NULL && !((*at)->hash == hash && strcmp((*at)->path, path) == 0)) at = &(*at)->next;
  return at;
}

/* Call with the lock held. */
static void _dt_drop_expired(dt_table_t *t) {
  int64_t now = table_clock_ms(&t->clock);
  for (uint32_t b = 0; b < DT_BUCKETS; b++) {
    dt_entry_t **at = &t->buckets[b];
    while (*at != NULL) {
      if ((*at)->expires_ms <= now) _dt_unlink(t, at);
      else at = &(*at)->next;
    }
  }
}

/** JavaScript thread: `listing` is the fresh answer for directory `path` for `ttl_ms` more (takes a reference). */
static void dt_put(dt_table_t *t, const char *path, dt_listing_t *listing, uint32_t ttl_ms) {
  if (t == NULL || ttl_ms == 0) return;
  size_t path_len = strlen(path);
  dt_entry_t *fresh = malloc(sizeof(dt_entry_t) + path_len + 1);
  if (fresh == NULL) return;
  memcpy(fresh->path, path, path_len + 1);
  fresh->hash = table_hash(path);
  fresh->listing = listing;
  pthread_mutex_lock(&t->lock);
  fresh->expires_ms = table_clock_ms(&t->clock) + ttl_ms;
  dt_entry_t **at = _dt_slot(t, path, fresh->hash);
  if (*at != NULL) _dt_unlink(t, at);
  if (t->entries >= DT_MAX_LISTINGS || t->names + listing->count > DT_MAX_NAMES) _dt_drop_expired(t);
  if (t->entries >= DT_MAX_LISTINGS || t->names + listing->count > DT_MAX_NAMES) {
    pthread_mutex_unlock(&t->lock);
    free(fresh);
    return;
  }
  dt_listing_ref(listing);
  /* At the bucket's head: `at` may have been freed by _dt_drop_expired. */
  dt_entry_t **bucket = &t->buckets[fresh->hash & (DT_BUCKETS - 1)];
  fresh->next = *bucket;
  *bucket = fresh;
  t->entries++;
  t->names += listing->count;
  t->counters.stored++;
  pthread_mutex_unlock(&t->lock);
}

/** JavaScript thread: the listing of directory `path` may have changed. */
static void dt_forget(dt_table_t *t, const char *path) {
  pthread_mutex_lock(&t->lock);
  dt_entry_t **at = _dt_slot(t, path, table_hash(path));
  if (*at != NULL) {
    _dt_unlink(t, at);
    t->counters.dropped++;
  }
  pthread_mutex_unlock(&t->lock);
}

/** JavaScript thread: a whole subtree may have changed (a refresh, a renamed directory, a failed mutation). */
static void dt_forget_all(dt_table_t *t) {
  pthread_mutex_lock(&t->lock);
  for (uint32_t b = 0; b < DT_BUCKETS; b++) {
    while (t->buckets[b] != NULL) {
      _dt_unlink(t, &t->buckets[b]);
      t->counters.dropped++;
    }
  }
  pthread_mutex_unlock(&t->lock);
}

/* Call with the lock held: the live listing of `path`, or NULL (an expired one is dropped on the way). */
static dt_listing_t *_dt_live(dt_table_t *t, const char *path) {
  dt_entry_t **at = _dt_slot(t, path, table_hash(path));
  if (*at == NULL) return NULL;
  if ((*at)->expires_ms > table_clock_ms(&t->clock)) return (*at)->listing;
  _dt_unlink(t, at);
  return NULL;
}

/** libfuse thread: a reference to the live listing of `path`, or NULL (then JavaScript answers). */
static dt_listing_t *dt_get(dt_table_t *t, const char *path) {
  if (t == NULL || path == NULL) return NULL;
  pthread_mutex_lock(&t->lock);
  dt_listing_t *found = dt_listing_ref(_dt_live(t, path));
  if (found != NULL) t->counters.hits++;
  pthread_mutex_unlock(&t->lock);
  return found;
}

/** What a directory's live listing says of one name in it. */
typedef enum { DT_UNKNOWN, DT_ABSENT, DT_PRESENT } dt_name_t;

/**
 * libfuse thread: whether `path`'s parent has a live listing here, and if so whether it names `path`. DT_ABSENT
 * is counted as a negative hit: the caller answers ENOENT with it.
 *
 * Why: libfuse 3.14's high-level API cannot invalidate a negative dentry (fuse_invalidate_path looks the name up
 * in its own node table, which keeps no node for an absent name), so the mount runs with negative_timeout=0 and
 * every lookup of an absent name reaches us: PHP's include_path and theme fallbacks, git's probes of
 * `.git/…` files. A listing in this table is the caches' fresh one, dropped before any change to a name in it is
 * answered (native-dirs.ts), so a name it lacks does not exist, as far as the caches know, until that drop.
 *
 * The root has no parent; "." and ".." are never a last component the kernel looks up, and listings name them, so
 * they stay unknown; so does a name longer than NAME_MAX, which the VFS answers ENAMETOOLONG (path_resolution(7))
 * rather than ENOENT (the kernel passes FUSE names up to 1024 bytes, FUSE_NAME_MAX). The scan is linear: listings
 * are a directory's names, and a miss costs a comparison per name here against two thread hand-offs and a
 * JavaScript turn otherwise.
 */
static dt_name_t dt_has_name(dt_table_t *t, const char *path) {
  if (t == NULL || path == NULL || path[0] != '/' || path[1] == '\0') return DT_UNKNOWN;
  const char *slash = strrchr(path, '/');
  const char *name = slash + 1;
  if (name[0] == '\0' || (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))) return DT_UNKNOWN;
  if (strlen(name) > NAME_MAX) return DT_UNKNOWN;
  size_t dir_len = slash == path ? 1 : (size_t) (slash - path);
  char stack_dir[512];
  char *dir = dir_len < sizeof(stack_dir) ? stack_dir : malloc(dir_len + 1);
  if (dir == NULL) return DT_UNKNOWN;
  memcpy(dir, path, dir_len);
  dir[dir_len] = '\0';
  dt_name_t found = DT_UNKNOWN;
  pthread_mutex_lock(&t->lock);
  const dt_listing_t *l = _dt_live(t, dir);
  if (l != NULL) {
    found = DT_ABSENT;
    for (uint32_t i = 0; i < l->count && found == DT_ABSENT; i++) {
      if (strcmp(l->names[i], name) == 0) found = DT_PRESENT;
    }
    if (found == DT_ABSENT) t->counters.negative_hits++;
  }
  pthread_mutex_unlock(&t->lock);
  if (dir != stack_dir) free(dir);
  return found;
}

static void dt_read_counters(dt_table_t *t, dt_counters_t *out, uint32_t *entries) {
  pthread_mutex_lock(&t->lock);
  *out = t->counters;
  *entries = t->entries;
  pthread_mutex_unlock(&t->lock);
}

#endif
