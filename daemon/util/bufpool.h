/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Data buffers for the I/O path: 4096-aligned (O_DIRECT-ready), kept in
 * per-thread free lists by power-of-two size class so that steady-state I/O does
 * not call malloc. Buffers may be freed on another thread than the one that
 * allocated them. */
#ifndef TANDEM_UTIL_BUFPOOL_H
#define TANDEM_UTIL_BUFPOOL_H
#include <stddef.h>

/* Returns a buffer of at least len bytes (len may be 0: returns a 4 KiB buffer),
 * aligned to 4096, or NULL when out of memory. Contents undefined. */
void *buf_alloc(size_t len);
/* Give it back; len must be the value passed to buf_alloc. NULL is ignored. */
void buf_free(void *buf, size_t len);
/* Free this thread's cached buffers (thread exit, shutdown). */
void buf_cache_release(void);
/* Size class actually reserved for len (useful to know usable space). */
size_t buf_capacity(size_t len);
#endif
