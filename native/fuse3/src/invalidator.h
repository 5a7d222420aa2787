/*
 * Kernel cache invalidation for devmount's libfuse 3 binding: a queue of paths and the one thread that hands
 * them to fuse_invalidate_path(3).
 *
 * Why a thread of its own: fuse_invalidate_path writes a FUSE_NOTIFY_INVAL_INODE message to /dev/fuse, and the
 * kernel handles it inside that write(2): it invalidates the inode's attributes and drops its cached pages,
 * which waits for page locks held by requests in flight. Those requests are waiting for the JavaScript thread
 * to answer them. Called on the JavaScript thread, the write would wait for requests that wait for it. libfuse
 * warns of exactly this for the notify functions (fuse_lowlevel.h, fuse_lowlevel_notify_inval_entry: "must not
 * be called in the execution path of a related filesystem operation ... deadlock"), and its example
 * example/notify_inval_entry.c sends its notifications from a thread of its own for the same reason.
 * JavaScript only appends to the queue (a mutex held for a pointer swap); this thread may block as long as
 * the kernel needs.
 *
 * fuse_invalidate_path returns -ENOENT for a path the kernel never looked up (libfuse has no node for it):
 * the common case, answered from libfuse's own table without a write to the kernel.
 */
#ifndef DEVMOUNT_INVALIDATOR_H
#define DEVMOUNT_INVALIDATOR_H

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct inv_item {
  struct inv_item *next;
  char path[];
} inv_item_t;

typedef struct inv_counters {
  uint32_t queued;
  /** fuse_invalidate_path calls that reached the kernel (0 returned). */
  uint32_t sent;
} inv_counters_t;

typedef struct inv_queue {
  pthread_mutex_t lock;
  pthread_cond_t wake;
  inv_item_t *head;
  inv_item_t **tail;
  int stopping;
  int started;
  pthread_t thread;
  /** Does the work: fuse_invalidate_path on the mount, returning 0 when the kernel was told. */
  int (*invalidate)(void *target, const char *path);
  void *target;
  inv_counters_t counters;
} inv_queue_t;

static void *inv_run(void *data) {
  inv_queue_t *q = (inv_queue_t *) data;
  pthread_mutex_lock(&q->lock);
  for (;;) {
    while (q->head == NULL && !q->stopping) pthread_cond_wait(&q->wake, &q->lock);
    if (q->stopping) break;
    inv_item_t *batch = q->head;
    q->head = NULL;
    q->tail = &q->head;
    pthread_mutex_unlock(&q->lock);
    while (batch != NULL) {
      inv_item_t *next = batch->next;
      int sent = q->invalidate(q->target, batch->path) == 0;
      free(batch);
      batch = next;
      if (sent) {
        pthread_mutex_lock(&q->lock);
        q->counters.sent++;
        pthread_mutex_unlock(&q->lock);
      }
    }
    pthread_mutex_lock(&q->lock);
  }
  pthread_mutex_unlock(&q->lock);
  return NULL;
}

/** Starts the thread; 0 on success. */
static int inv_start(inv_queue_t *q, int (*invalidate)(void *, const char *), void *target) {
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->wake, NULL);
  q->head = NULL;
  q->tail = &q->head;
  q->stopping = 0;
  q->invalidate = invalidate;
  q->target = target;
  if (pthread_create(&q->thread, NULL, inv_run, q) != 0) return -1;
  q->started = 1;
  return 0;
}

/** JavaScript thread: `path` may have changed; the kernel is told soon, never on this thread. */
static void inv_push(inv_queue_t *q, const char *path) {
  if (!q->started) return;
  size_t len = strlen(path);
  inv_item_t *item = malloc(sizeof(inv_item_t) + len + 1);
  if (item == NULL) return;
  item->next = NULL;
  memcpy(item->path, path, len + 1);
  pthread_mutex_lock(&q->lock);
  if (q->stopping) {
    pthread_mutex_unlock(&q->lock);
    free(item);
    return;
  }
  *q->tail = item;
  q->tail = &item->next;
  q->counters.queued++;
  pthread_cond_signal(&q->wake);
  pthread_mutex_unlock(&q->lock);
}

/** The FUSE loop thread, once the loop has ended and before the mount is destroyed: drops what is queued. */
static void inv_stop(inv_queue_t *q) {
  if (!q->started) return;
  pthread_mutex_lock(&q->lock);
  q->stopping = 1;
  pthread_cond_signal(&q->wake);
  pthread_mutex_unlock(&q->lock);
  pthread_join(q->thread, NULL);
  q->started = 0;
  inv_item_t *rest = q->head;
  while (rest != NULL) {
    inv_item_t *next = rest->next;
    free(rest);
    rest = next;
  }
  q->head = NULL;
  q->tail = &q->head;
}

static void inv_read_counters(inv_queue_t *q, inv_counters_t *out) {
  if (!q->started) {
    *out = q->counters;
    return;
  }
  pthread_mutex_lock(&q->lock);
  *out = q->counters;
  pthread_mutex_unlock(&q->lock);
}

#endif
