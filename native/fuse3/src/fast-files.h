/*
 * devmount's "fast-files" table, answered on libfuse's threads by the libfuse 3 binding (fuse3-native.c).
 *
 * Why: every FUSE request the binding passes on crosses from a libfuse thread to the JavaScript thread and back
 * (uv_async_send, then a semaphore): ~50 µs of thread hand-offs on the 2-core VMs devmount is measured on,
 * more than the answer itself costs when the caches hold it. A cold `git status` makes about five such
 * requests per file (a lookup, a second one once the kernel's one-second entry has expired, open, read,
 * release), and a warm one still a getattr per file (the kernel drops a file's cached attributes after
 * every read of it, to refresh atime). This table lets libfuse's threads answer the ones the caches already
 * know: JavaScript puts a path's attributes here while they are fresh in its caches (fs/fuse/fast-files.ts),
 * with the whole content of a small file when that is cached too, and forgets a path the moment anything
 * about it changes. Then getattr is answered here, and a read-only open of such a file gets a handle into
 * the content, whose reads and release are answered here as well.
 *
 * A handle keeps the content it was opened on. If the path's entry changes while it is open (a write through
 * another handle), its next read goes to JavaScript instead ("escalated"), which re-opens the path, so every
 * handle sees a write through any other as on a local file system; the release of such a handle goes to
 * JavaScript too, to close that re-opened file.
 *
 * Entries expire on the table's watched clock (table-common.h, ff_set_watched), so a page opened after idling
 * is still answered here while the remote watcher is healthy. A change the watcher reports forgets the path
 * (ff_forget) as before.
 *
 * Locking: one mutex per table guards the buckets, the counters, the handle slots and the clock. Contents are immutable
 * and reference-counted (the table holds one reference, each open handle one), so a read copies from its
 * handle's content without the lock.
 */
#ifndef DEVMOUNT_FAST_FILES_H
#define DEVMOUNT_FAST_FILES_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "table-common.h"

#define FF_BUCKETS 65536u
/** A full table refuses new paths (after dropping expired ones): JavaScript still answers them. */
#define FF_MAX_ENTRIES 100000u
#define FF_MAX_CONTENT_BYTES (16u * 1024u * 1024u)
/** Bits of fuse_file_info.fh: 31 = read-only (FLUSH answered in C), 30 = a handle of this table. */
#define FF_READ_ONLY_BIT 0x80000000u
#define FF_HANDLE_BIT 0x40000000u
#define FF_MAX_HANDLES 65536u
/** ff_read's "not here: ask JavaScript". */
#define FF_ESCALATE (-1000000)

typedef struct ff_content {
  uint32_t refs;
  size_t len;
  char bytes[];
} ff_content_t;

typedef struct ff_entry {
  struct ff_entry *next;
  uint32_t hash;
  int64_t expires_ms;
  struct stat st;
  ff_content_t *content; /* NULL: attributes only */
  char path[];
} ff_entry_t;

typedef struct ff_handle {
  ff_content_t *content; /* NULL: a free slot */
  int escalated;
} ff_handle_t;

/** Counters for tests and `devmount status`: what was answered here instead of in JavaScript. */
typedef struct ff_counters {
  uint32_t getattr_hits;
  uint32_t opens;
  uint32_t reads;
  uint32_t escalations;
} ff_counters_t;

typedef struct ff_table {
  pthread_mutex_t lock;
  ff_entry_t *buckets[FF_BUCKETS];
  uint32_t entries;
  size_t content_bytes;
  ff_handle_t *handles;
  uint32_t handle_count; /* slots in use or ever used: handles[0 .. handle_count) */
  ff_counters_t counters;
  table_clock_t clock;
} ff_table_t;

static ff_table_t *ff_table_new(void) {
  ff_table_t *t = calloc(1, sizeof(ff_table_t));
  if (t == NULL) return NULL;
  pthread_mutex_init(&t->lock, NULL);
  table_clock_init(&t->clock);
  return t;
}

/* Call with the lock held: the table's clock, which does not advance while stopped (ff_set_watched). */
static int64_t ff_clock_ms(const ff_table_t *t) {
  return table_clock_ms(&t->clock);
}

/**
 * JavaScript thread: a healthy whole-tree watcher now covers the mount (stop the clock), or no longer does (run it
 * on from where it stood), as createWatchedClock does for the caches.
 */
static void ff_set_watched(ff_table_t *t, int watched) {
  pthread_mutex_lock(&t->lock);
  table_clock_set_watched(&t->clock, watched);
  pthread_mutex_unlock(&t->lock);
}

/* Call with the lock held. */
static void ff_content_unref(ff_content_t *c) {
  if (c == NULL) return;
  if (--c->refs == 0) free(c);
}

/* Call with the lock held: unlinks the entry `*at` points to and frees it. */
static void ff_entry_unlink(ff_table_t *t, ff_entry_t **at) {
  ff_entry_t *e = *at;
  *at = e->next;
  if (e->content != NULL) {
    t->content_bytes -= e->content->len;
    ff_content_unref(e->content);
  }
  free(e);
  t->entries--;
}

/** The slot of a handle this table gave out. */
static uint32_t ff_handle_slot(uint64_t fh) {
  return (uint32_t) fh & ~(FF_READ_ONLY_BIT | FF_HANDLE_BIT);
}

/* Call with the lock held. */
static ff_entry_t **ff_slot(ff_table_t *t, const char *path, uint32_t hash) {
  ff_entry_t **at = &t->buckets[hash & (FF_BUCKETS - 1)];
  while (*at != NULL && !((*at)->hash == hash && strcmp((*at)->path, path) == 0)) at = &(*at)->next;
  return at;
}

/* Call with the lock held: a live entry for `path`, dropping it if it has expired. */
static ff_entry_t *ff_find(ff_table_t *t, const char *path) {
  ff_entry_t **at = ff_slot(t, path, table_hash(path));
  if (*at == NULL) return NULL;
  if ((*at)->expires_ms <= ff_clock_ms(t)) {
    ff_entry_unlink(t, at);
    return NULL;
  }
  return *at;
}

/* Call with the lock held. */
static void ff_drop_expired(ff_table_t *t) {
  int64_t now = ff_clock_ms(t);
  for (uint32_t b = 0; b < FF_BUCKETS; b++) {
    ff_entry_t **at = &t->buckets[b];
    while (*at != NULL) {
      if ((*at)->expires_ms <= now) ff_entry_unlink(t, at);
      else at = &(*at)->next;
    }
  }
}

/** JavaScript thread: `path` has `st` for `ttl_ms` more, and when `content` is not NULL, that whole content. */
static void ff_put(ff_table_t *t, const char *path, const struct stat *st, uint32_t ttl_ms, const char *content, size_t content_len) {
  size_t path_len = strlen(path);
  ff_entry_t *fresh = malloc(sizeof(ff_entry_t) + path_len + 1);
  if (fresh == NULL) return;
  memcpy(fresh->path, path, path_len + 1);
  fresh->hash = table_hash(path);
  fresh->st = *st;
  fresh->content = NULL;
  ff_content_t *c = NULL;
  if (content != NULL) {
    c = malloc(sizeof(ff_content_t) + content_len);
    if (c != NULL) {
      c->refs = 1;
      c->len = content_len;
      memcpy(c->bytes, content, content_len);
    }
  }
  pthread_mutex_lock(&t->lock);
  fresh->expires_ms = ff_clock_ms(t) + ttl_ms;
  ff_entry_t **at = ff_slot(t, path, fresh->hash);
  if (*at != NULL) ff_entry_unlink(t, at);
  if (t->entries >= FF_MAX_ENTRIES) ff_drop_expired(t);
  if (t->entries >= FF_MAX_ENTRIES) {
    pthread_mutex_unlock(&t->lock);
    if (c != NULL) free(c);
    free(fresh);
    return;
  }
  if (c != NULL && t->content_bytes + c->len <= FF_MAX_CONTENT_BYTES) {
    fresh->content = c;
    t->content_bytes += c->len;
    c = NULL;
  }
  /* At the bucket's head, not at `at`: that link is followed by the rest of the bucket (the entry replaced
     was not always the last), and ff_drop_expired may have freed the entry holding it. */
  ff_entry_t **bucket = &t->buckets[fresh->hash & (FF_BUCKETS - 1)];
  fresh->next = *bucket;
  *bucket = fresh;
  t->entries++;
  pthread_mutex_unlock(&t->lock);
  if (c != NULL) free(c); /* over the content bound: the attributes alone */
}

/** JavaScript thread: anything about `path` may have changed. */
static void ff_forget(ff_table_t *t, const char *path) {
  pthread_mutex_lock(&t->lock);
  ff_entry_t **at = ff_slot(t, path, table_hash(path));
  if (*at != NULL) ff_entry_unlink(t, at);
  pthread_mutex_unlock(&t->lock);
}

/** JavaScript thread: a whole subtree may have changed (a renamed or removed directory, a refresh). */
static void ff_forget_all(ff_table_t *t) {
  pthread_mutex_lock(&t->lock);
  for (uint32_t b = 0; b < FF_BUCKETS; b++) {
    while (t->buckets[b] != NULL) ff_entry_unlink(t, &t->buckets[b]);
  }
  pthread_mutex_unlock(&t->lock);
}

/** libfuse thread: 1 and `st` filled when `path` has a live entry. */
static int ff_getattr(ff_table_t *t, const char *path, struct stat *st) {
  if (t == NULL || path == NULL) return 0;
  pthread_mutex_lock(&t->lock);
  ff_entry_t *e = ff_find(t, path);
  if (e != NULL) {
    *st = e->st;
    t->counters.getattr_hits++;
  }
  pthread_mutex_unlock(&t->lock);
  return e != NULL;
}

/** libfuse thread: 1 and `*fh` set when a read-only open of `path` can be served from its cached content. */
static int ff_open(ff_table_t *t, const char *path, int flags, uint64_t *fh) {
  if (t == NULL || path == NULL) return 0;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_CREAT)) != 0) return 0;
  int opened = 0;
  pthread_mutex_lock(&t->lock);
  ff_entry_t *e = ff_find(t, path);
  if (e != NULL && e->content != NULL) {
    uint32_t slot = 0;
    while (slot < t->handle_count && t->handles[slot].content != NULL) slot++;
    if (slot == t->handle_count && t->handle_count < FF_MAX_HANDLES) {
      uint32_t grown = t->handle_count == 0 ? 64 : t->handle_count * 2;
      if (grown > FF_MAX_HANDLES) grown = FF_MAX_HANDLES;
      ff_handle_t *more = realloc(t->handles, grown * sizeof(ff_handle_t));
      if (more != NULL) {
        memset(more + t->handle_count, 0, (grown - t->handle_count) * sizeof(ff_handle_t));
        t->handles = more;
        t->handle_count = grown;
      }
    }
    if (slot < t->handle_count && t->handles[slot].content == NULL) {
      e->content->refs++;
      t->handles[slot].content = e->content;
      t->handles[slot].escalated = 0;
      *fh = FF_READ_ONLY_BIT | FF_HANDLE_BIT | slot;
      t->counters.opens++;
      opened = 1;
    }
  }
  pthread_mutex_unlock(&t->lock);
  return opened;
}

/** libfuse thread: bytes read, or FF_ESCALATE when `path` changed since the open (JavaScript reads it). */
static int ff_read(ff_table_t *t, const char *path, uint64_t fh, char *buf, size_t len, off_t offset) {
  uint32_t slot = ff_handle_slot(fh);
  pthread_mutex_lock(&t->lock);
  ff_handle_t *h = slot < t->handle_count ? &t->handles[slot] : NULL;
  if (h == NULL || h->content == NULL) {
    pthread_mutex_unlock(&t->lock);
    return -EBADF;
  }
  ff_entry_t *e = h->escalated ? NULL : ff_find(t, path);
  if (e == NULL || e->content != h->content) {
    if (!h->escalated) t->counters.escalations++;
    h->escalated = 1;
    pthread_mutex_unlock(&t->lock);
    return FF_ESCALATE;
  }
  ff_content_t *c = h->content;
  t->counters.reads++;
  pthread_mutex_unlock(&t->lock);
  /* The handle's reference keeps `c` alive until its release, which the kernel sends after this read. */
  if (offset < 0 || (size_t) offset >= c->len) return 0;
  size_t n = c->len - (size_t) offset;
  if (n > len) n = len;
  memcpy(buf, c->bytes + offset, n);
  return (int) n;
}

/* Call with the lock held. */
static void ff_free_slot(ff_table_t *t, uint32_t slot) {
  if (slot < t->handle_count && t->handles[slot].content != NULL) {
    ff_content_unref(t->handles[slot].content);
    t->handles[slot].content = NULL;
  }
}

/**
 * libfuse thread: 1 when the handle is released; 0 when JavaScript has to release it too (it was escalated).
 * Then the slot stays taken until JavaScript has closed what it opened for it (ff_free_escalated): a slot,
 * and so a handle number, reused before that would reach JavaScript's table of escalated handles as the old one.
 */
static int ff_release(ff_table_t *t, uint64_t fh) {
  uint32_t slot = ff_handle_slot(fh);
  int done = 1;
  pthread_mutex_lock(&t->lock);
  if (slot < t->handle_count && t->handles[slot].content != NULL) {
    done = !t->handles[slot].escalated;
    if (done) ff_free_slot(t, slot);
  }
  pthread_mutex_unlock(&t->lock);
  return done;
}

/** JavaScript thread: the release of an escalated handle is complete. */
static void ff_free_escalated(ff_table_t *t, uint32_t fh) {
  pthread_mutex_lock(&t->lock);
  ff_free_slot(t, ff_handle_slot(fh));
  pthread_mutex_unlock(&t->lock);
}

static void ff_read_counters(ff_table_t *t, ff_counters_t *out, uint32_t *entries, uint32_t *content_bytes) {
  pthread_mutex_lock(&t->lock);
  *out = t->counters;
  *entries = t->entries;
  *content_bytes = (uint32_t) t->content_bytes;
  pthread_mutex_unlock(&t->lock);
}

#endif
