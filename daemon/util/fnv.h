/* SPDX-License-Identifier: GPL-2.0-or-later */
/* FNV-1a 64-bit: the one non-cryptographic hash the daemon uses for names
 * derived from configuration (default serials and NAA ids, APTPL file names).
 * Not for anything an attacker chooses against. */
#ifndef TANDEM_UTIL_FNV_H
#define TANDEM_UTIL_FNV_H
#include <stddef.h>
#include <stdint.h>

#define FNV1A64_INIT 0xcbf29ce484222325ull

/* Continue hash h over n bytes (start with FNV1A64_INIT). */
static inline uint64_t fnv1a64(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
#endif
