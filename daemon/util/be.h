/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Big-endian field access for wire formats (iSCSI PDUs, CDBs, replication
 * messages): byte-wise, so no cast into a buffer is ever needed. */
#ifndef TANDEM_UTIL_BE_H
#define TANDEM_UTIL_BE_H
#include <stddef.h>
#include <stdint.h>

static inline uint16_t get_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t get_be24(const uint8_t *p) { return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2]; }
static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t get_be64(const uint8_t *p) { return (uint64_t)get_be32(p) << 32 | get_be32(p + 4); }
static inline void put_be16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = (uint8_t)v; }
static inline void put_be24(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 16); p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)v; }
static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline void put_be64(uint8_t *p, uint64_t v) { put_be32(p, (uint32_t)(v >> 32)); put_be32(p + 4, (uint32_t)v); }

/* A fixed-width, NUL-padded string field: copies at most len-1 bytes of s and
 * zero-fills the rest, so the field is always terminated. */
#include <string.h>
static inline void put_fixed_str(uint8_t *p, size_t len, const char *s)
{
	size_t n = strnlen(s, len - 1);

	memcpy(p, s, n);
	memset(p + n, 0, len - n);
}

#ifndef container_of
#include <stddef.h>
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#endif
#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif
#endif
