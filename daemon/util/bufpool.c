/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Aligned data buffers with per-thread free lists by power-of-two class, so
 * the I/O path reuses buffers instead of calling malloc for every command. */
#include "util/bufpool.h"

#include <stdint.h>
#include <stdlib.h>

#define BUF_ALIGN 4096u
#define BUF_MIN_SHIFT 12                /* 4 KiB */
#define BUF_MAX_SHIFT 24                /* 16 MiB: larger ones are not cached */
#define BUF_NCLASS (BUF_MAX_SHIFT - BUF_MIN_SHIFT + 1)
#define BUF_CACHE_BYTES (64u << 20)     /* per thread and class, at most */
#define BUF_CACHE_MAX 256               /* buffers per thread and class, at most */

struct buf_free_node {
	struct buf_free_node *next;
};

struct buf_cache {
	struct buf_free_node *head[BUF_NCLASS];
	unsigned count[BUF_NCLASS];
};

static __thread struct buf_cache cache;

static int buf_class(size_t len)
{
	int c = 0;

	while (c < BUF_NCLASS && ((size_t)1 << (BUF_MIN_SHIFT + c)) < len)
		c++;
	return c;                       /* BUF_NCLASS means "too large to cache" */
}

size_t buf_capacity(size_t len)
{
	int c = buf_class(len);

	if (c == BUF_NCLASS)
		return (len + BUF_ALIGN - 1) & ~(size_t)(BUF_ALIGN - 1);
	return (size_t)1 << (BUF_MIN_SHIFT + c);
}

static __attribute__((unused)) unsigned buf_class_limit(int c)
{
	unsigned by_bytes = (unsigned)(BUF_CACHE_BYTES >> (BUF_MIN_SHIFT + c));

	return by_bytes < BUF_CACHE_MAX ? by_bytes : BUF_CACHE_MAX;
}

#if defined(TANDEM_FUZZING) || defined(__SANITIZE_ADDRESS__)
/* Fuzzing and sanitizer builds (-DTANDEM_FUZZ=ON, -DTANDEM_SANITIZE=ON): no
 * cache and exact-size allocations, so AddressSanitizer sees any access past
 * the length the caller asked for (the power-of-two classes would otherwise
 * hide it) and any use of a buffer after buf_free (the cache would hand it
 * out again instead). */
void *buf_alloc(size_t len)
{
	void *p = NULL;

	if (len > SIZE_MAX - BUF_ALIGN)         /* as below: NULL, not the sanitizer's abort */
		return NULL;
	if (posix_memalign(&p, BUF_ALIGN, len ? len : 1) != 0)
		return NULL;
	return p;
}

void buf_free(void *buf, size_t len)
{
	(void)len;
	free(buf);
}
#else
void *buf_alloc(size_t len)
{
	int c = buf_class(len);
	struct buf_free_node *n;
	void *p = NULL;

	if (c < BUF_NCLASS && (n = cache.head[c]) != NULL) {
		cache.head[c] = n->next;
		cache.count[c]--;
		return n;
	}
	if (len > SIZE_MAX - BUF_ALIGN)
		return NULL;
	if (posix_memalign(&p, BUF_ALIGN, buf_capacity(len)) != 0)
		return NULL;
	return p;
}

void buf_free(void *buf, size_t len)
{
	int c;

	if (!buf)
		return;
	c = buf_class(len);
	if (c < BUF_NCLASS && cache.count[c] < buf_class_limit(c)) {
		struct buf_free_node *n = buf;
		n->next = cache.head[c];
		cache.head[c] = n;
		cache.count[c]++;
		return;
	}
	free(buf);
}
#endif

void buf_cache_release(void)
{
	for (int c = 0; c < BUF_NCLASS; c++) {
		while (cache.head[c]) {
			struct buf_free_node *n = cache.head[c];
			cache.head[c] = n->next;
			free(n);
		}
		cache.count[c] = 0;
	}
}
