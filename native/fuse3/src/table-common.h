/*
 * What the binding's tables (fast-files.h, dir-table.h) share: their clock and their path hash.
 */
#ifndef DEVMOUNT_TABLE_COMMON_H
#define DEVMOUNT_TABLE_COMMON_H

#include <stdint.h>
#include <time.h>

/** Milliseconds on CLOCK_MONOTONIC: entries expire by it, unmoved by changes of the wall clock. */
static int64_t table_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/**
 * A table's expiry clock, which mirrors the clock JavaScript's caches measure TTLs on (fs/cache/watched-clock.ts):
 * it stands still while a remote watcher that reports every change is healthy (table_clock_set_watched), so an
 * entry put with the caches' remaining TTL lives exactly as long as the caches trust the answer. Each table
 * keeps one under its own lock.
 */
typedef struct table_clock {
  /** When the clock was stopped (CLOCK_MONOTONIC ms), or -1 while it runs; the time it stood still before. */
  int64_t stopped_at;
  int64_t stopped_for;
} table_clock_t;

static void table_clock_init(table_clock_t *c) {
  c->stopped_at = -1;
  c->stopped_for = 0;
}

/* Call with the owning table's lock held: the clock's time, which does not advance while stopped. */
static int64_t table_clock_ms(const table_clock_t *c) {
  return (c->stopped_at >= 0 ? c->stopped_at : table_now_ms()) - c->stopped_for;
}

/* Call with the owning table's lock held: stops the clock (watched) or runs it on from where it stood. */
static void table_clock_set_watched(table_clock_t *c, int watched) {
  if (watched && c->stopped_at < 0) {
    c->stopped_at = table_now_ms();
  } else if (!watched && c->stopped_at >= 0) {
    c->stopped_for += table_now_ms() - c->stopped_at;
    c->stopped_at = -1;
  }
}

/* FNV-1a, 32 bits. */
static uint32_t table_hash(const char *path) {
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *) path; *p; p++) {
    h ^= *p;
    h *= 16777619u;
  }
  return h;
}

#endif
