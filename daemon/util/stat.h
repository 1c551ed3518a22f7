/* Fields that one reactor writes and another thread reads for status
 * (tandemctl status runs on the main thread): counters and sequence numbers.
 * Relaxed atomic stores and loads are plain moves on x86-64, so the I/O path
 * pays nothing, and the reader gets no torn value and no C data race
 * (ThreadSanitizer, tests/README.md). Only the owning thread writes. */
#ifndef TANDEM_UTIL_STAT_H
#define TANDEM_UTIL_STAT_H

#define STAT_SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define STAT_ADD(x, n) STAT_SET(x, (x) + (n))
#define STAT_INC(x)    STAT_ADD(x, 1)
#define STAT_GET(x)    __atomic_load_n(&(x), __ATOMIC_RELAXED)

#endif
