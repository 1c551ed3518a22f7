/* SPDX-License-Identifier: GPL-2.0-or-later */
/* CRC32C header/data digests (RFC 7143 11.1, 13.1) on top of isa-l's accelerated crc32_iscsi. */
#include <limits.h>
#include <stdint.h>
#include <isa-l/crc.h>
#include "iscsi/param.h"

/*
 * isa-l convention: crc32_iscsi(buf, len, init) runs the reflected CRC32C
 * (polynomial 0x1EDC6F41, reflected 0x82F63B78) from the register value
 * `init` and returns the register WITHOUT the final complement. Chaining is
 * therefore crc32_iscsi(b2, l2, crc32_iscsi(b1, l1, ~0)). The iSCSI digest is
 * the complemented register: ~crc32_iscsi(buf, len, 0xffffffff). Checked
 * against RFC 3720 B.4 (carried over by RFC 7143): 32 zero bytes give
 * 0x8a9136aa, 32 0xff bytes 0x62a8ab43, bytes 0..31 give 0x46dd794e.
 *
 * Byte order on the wire: RFC 3720 B.4 lists those digests as they appear in
 * the data stream, e.g. "aa 36 91 8a" for 0x8a9136aa, i.e. least significant
 * byte first (the reflected CRC's bit 0 is the first bit transmitted). So the
 * value returned here must be stored LITTLE-endian in the 4-byte digest field
 * (iscsi_crc32c_put_le), unlike every other iSCSI header field.
 */

uint32_t iscsi_crc32c_update(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* isa-l takes an int length: feed huge buffers in pieces. */
	while (len > 0) {
		size_t n = len > (size_t)INT_MAX ? (size_t)(INT_MAX & ~63) : len;

		crc = crc32_iscsi((unsigned char *)(uintptr_t)p, (int)n, crc);
		p += n;
		len -= n;
	}
	return crc;
}

uint32_t iscsi_crc32c_final(uint32_t crc)
{
	return crc ^ 0xffffffffu;
}

uint32_t iscsi_crc32c(const void *buf, size_t len)
{
	return iscsi_crc32c_final(iscsi_crc32c_update(ISCSI_CRC32C_INIT, buf, len));
}

void iscsi_crc32c_put_le(uint8_t *p, uint32_t crc)
{
	p[0] = (uint8_t)crc;
	p[1] = (uint8_t)(crc >> 8);
	p[2] = (uint8_t)(crc >> 16);
	p[3] = (uint8_t)(crc >> 24);
}

uint32_t iscsi_crc32c_get_le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
