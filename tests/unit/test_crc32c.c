/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the CRC32C digest helpers (iscsi/crc32c.c) against RFC 3720 B.4 vectors. */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include "iscsi/param.h"

START_TEST(test_rfc_zeros)
{
	uint8_t b[32];
	memset(b, 0, sizeof(b));
	ck_assert_uint_eq(iscsi_crc32c(b, sizeof(b)), 0x8a9136aau);
}
END_TEST

START_TEST(test_rfc_ones)
{
	uint8_t b[32];
	memset(b, 0xff, sizeof(b));
	ck_assert_uint_eq(iscsi_crc32c(b, sizeof(b)), 0x62a8ab43u);
}
END_TEST

START_TEST(test_rfc_incrementing)
{
	uint8_t b[32];
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	ck_assert_uint_eq(iscsi_crc32c(b, sizeof(b)), 0x46dd794eu);
}
END_TEST

START_TEST(test_rfc_decrementing)
{
	/* RFC 3720 B.4: 32 bytes decrementing 31..0 */
	uint8_t b[32];
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	ck_assert_uint_eq(iscsi_crc32c(b, sizeof(b)), 0x113fdb5cu);
}
END_TEST

START_TEST(test_rfc_scsi_read)
{
	/* RFC 3720 B.4: an iSCSI - SCSI Read (10) Command PDU */
	static const uint8_t pdu[48] = {
		0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
		0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	ck_assert_uint_eq(iscsi_crc32c(pdu, sizeof(pdu)), 0xd9963a56u);
}
END_TEST

START_TEST(test_chained_update)
{
	uint8_t b[32];
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	for (size_t split = 0; split <= 32; split++) {
		uint32_t crc = iscsi_crc32c_update(ISCSI_CRC32C_INIT, b, split);
		crc = iscsi_crc32c_update(crc, b + split, 32 - split);
		ck_assert_uint_eq(iscsi_crc32c_final(crc), 0x46dd794eu);
	}
	/* empty input: complement of the init value */
	ck_assert_uint_eq(iscsi_crc32c(b, 0), 0u);
}
END_TEST

START_TEST(test_wire_order)
{
	/* RFC 3720 B.4 shows the digest of 32 zero bytes on the wire as aa 36 91 8a */
	uint8_t b[32], d[4];
	memset(b, 0, sizeof(b));
	iscsi_crc32c_put_le(d, iscsi_crc32c(b, sizeof(b)));
	ck_assert_uint_eq(d[0], 0xaa);
	ck_assert_uint_eq(d[1], 0x36);
	ck_assert_uint_eq(d[2], 0x91);
	ck_assert_uint_eq(d[3], 0x8a);
	ck_assert_uint_eq(iscsi_crc32c_get_le(d), 0x8a9136aau);
}
END_TEST

START_TEST(test_large_unaligned)
{
	/* bytewise reference implementation vs the accelerated one on odd offsets */
	static uint8_t b[70000];
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 2654435761u >> 13);
	for (size_t off = 0; off < 8; off++) {
		size_t len = sizeof(b) - off - 3;
		uint32_t crc = 0xffffffffu;
		for (size_t i = 0; i < len; i++) {
			crc ^= b[off + i];
			for (int k = 0; k < 8; k++)
				crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
		}
		ck_assert_uint_eq(iscsi_crc32c(b + off, len), ~crc);
	}
}
END_TEST

static Suite *crc_suite(void)
{
	Suite *s = suite_create("crc32c");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_rfc_zeros);
	tcase_add_test(tc, test_rfc_ones);
	tcase_add_test(tc, test_rfc_incrementing);
	tcase_add_test(tc, test_rfc_decrementing);
	tcase_add_test(tc, test_rfc_scsi_read);
	tcase_add_test(tc, test_chained_update);
	tcase_add_test(tc, test_wire_order);
	tcase_add_test(tc, test_large_unaligned);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(crc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
