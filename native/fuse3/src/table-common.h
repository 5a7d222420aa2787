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
