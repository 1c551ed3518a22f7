/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the replication wire codec (repl/repl_proto.c): malformed
 * headers and bodies, payload CRCs, the HMAC handshake proof (right and wrong
 * secret, replayed and reflected challenges) and version negotiation. */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "repl/md.h"
#include "repl/repl_proto.h"
#include "util/be.h"

#define SECRET "at-least-16-chars-secret"

static void data_msg(uint8_t *hdr, uint8_t *body, const uint8_t *payload, uint32_t len, struct repl_msg *m)
{
	repl_hdr_put(hdr, REPL_MSG_DATA, REPL_DATA_SIZE + len, 0, 7);
	memset(body, 0, REPL_DATA_SIZE);
	put_be64(body + REPL_DATA_OFFSET, 4096);
	put_be32(body + REPL_DATA_LENGTH, len);
	body[REPL_DATA_OP] = REPL_OP_WRITE;
	put_be32(body + REPL_DATA_CRC, repl_crc_iov(&(struct iovec){ (void *)payload, len }, 1, len));
	ck_assert_int_eq(repl_hdr_check(hdr, REPL_PH_RUNNING, 7, m), REPL_HDR_OK);
	m->body = body;
	m->payload = payload;
	m->payload_len = m->len - REPL_DATA_SIZE;
}

START_TEST(test_header_roundtrip)
{
	uint8_t h[REPL_HDR_SIZE];
	struct repl_msg m;

	repl_hdr_put(h, REPL_MSG_PING, REPL_PING_SIZE, REPL_VOL_NONE, 42);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_RUNNING, 42, &m), REPL_HDR_OK);
	ck_assert_uint_eq(m.type, REPL_MSG_PING);
	ck_assert_uint_eq(m.len, REPL_PING_SIZE);
	ck_assert_uint_eq(m.vol, REPL_VOL_NONE);
	ck_assert_uint_eq(m.seq, 42);
	ck_assert_str_eq(repl_msg_name(REPL_MSG_DATA), "DATA");
	ck_assert_str_eq(repl_msg_name(999), "UNKNOWN");
}
END_TEST

START_TEST(test_header_malformed)
{
	uint8_t h[REPL_HDR_SIZE];
	struct repl_msg m;

	/* garbage / bad magic */
	memset(h, 'x', sizeof(h));
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_HANDSHAKE, 1, &m), REPL_HDR_BAD_MAGIC);
	/* unknown types: a gap in the table and beyond it */
	repl_hdr_put(h, 7, 8, 0, 1);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_RUNNING, 1, &m), REPL_HDR_UNKNOWN_TYPE);
	repl_hdr_put(h, 0xffff, 8, 0, 1);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_RUNNING, 1, &m), REPL_HDR_UNKNOWN_TYPE);
	/* short and long bodies */
	repl_hdr_put(h, REPL_MSG_PING, REPL_PING_SIZE - 1, 0, 1);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_RUNNING, 1, &m), REPL_HDR_BAD_LENGTH);
	repl_hdr_put(h, REPL_MSG_HELLO, REPL_HELLO_SIZE + 1, 0, 1);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_HANDSHAKE, 1, &m), REPL_HDR_BAD_LENGTH);
	repl_hdr_put(h, REPL_MSG_DATA, REPL_DATA_SIZE - 1, 0, 1);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_RUNNING, 1, &m), REPL_HDR_BAD_LENGTH);
	repl_hdr_put(h, REPL_MSG_DATA, REPL_MAX_BODY + 1, 0, 1);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_RUNNING, 1, &m), REPL_HDR_BAD_LENGTH);
	/* phases: no data before authentication, no HELLO afterwards */
	repl_hdr_put(h, REPL_MSG_DATA, REPL_DATA_SIZE + 512, 0, 1);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_HANDSHAKE, 1, &m), REPL_HDR_BAD_PHASE);
	repl_hdr_put(h, REPL_MSG_HELLO, REPL_HELLO_SIZE, 0, 1);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_RUNNING, 1, &m), REPL_HDR_BAD_PHASE);
	/* sequence numbers must follow each other */
	repl_hdr_put(h, REPL_MSG_PING, REPL_PING_SIZE, 0, 5);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_RUNNING, 4, &m), REPL_HDR_BAD_SEQ);
	ck_assert_int_eq(repl_hdr_check(h, REPL_PH_RUNNING, 5, &m), REPL_HDR_OK);
}
END_TEST

START_TEST(test_data_crc)
{
	uint8_t h[REPL_HDR_SIZE], body[REPL_DATA_SIZE], payload[4096];
	struct repl_msg m;
	char why[128];

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	data_msg(h, body, payload, sizeof(payload), &m);
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), 0);
	/* a flipped payload bit: rejected */
	payload[100] ^= 1;
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "CRC"));
	payload[100] ^= 1;
	/* a wrong CRC field: rejected */
	put_be32(body + REPL_DATA_CRC, get_be32(body + REPL_DATA_CRC) ^ 0x80);
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	/* length field and payload disagree */
	data_msg(h, body, payload, sizeof(payload), &m);
	put_be32(body + REPL_DATA_LENGTH, 512);
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	/* unknown operation */
	data_msg(h, body, payload, sizeof(payload), &m);
	body[REPL_DATA_OP] = 9;
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	/* a FLUSH carries no payload */
	data_msg(h, body, payload, sizeof(payload), &m);
	body[REPL_DATA_OP] = REPL_OP_FLUSH;
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	m.payload_len = 0;
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), 0);
}
END_TEST

/* DATA op STATE (version 2): OFFSET is a sequence number, the payload the
 * LUN's state record; checked like a write's, bounded by REPL_STATE_MAX. */
START_TEST(test_state_record)
{
	uint8_t h[REPL_HDR_SIZE], body[REPL_DATA_SIZE], rec[300];
	struct repl_msg m;
	char why[128];

	memset(rec, 0x3c, sizeof(rec));
	data_msg(h, body, rec, sizeof(rec), &m);
	body[REPL_DATA_OP] = REPL_OP_STATE;
	put_be64(body + REPL_DATA_OFFSET, UINT64_MAX - 1);      /* a sequence number: no range to wrap */
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), 0);
	rec[5] ^= 1;                                            /* payload CRC */
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "CRC"));
	rec[5] ^= 1;
	m.payload_len = 0;                                      /* a record without bytes */
	put_be32(body + REPL_DATA_LENGTH, 0);
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	m.payload_len = REPL_STATE_MAX + 1;                     /* too large (never read: rejected first) */
	put_be32(body + REPL_DATA_LENGTH, REPL_STATE_MAX + 1);
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "too large"));
	/* the op after STATE is unknown; a write's range may still not wrap */
	data_msg(h, body, rec, sizeof(rec), &m);
	body[REPL_DATA_OP] = REPL_OP_STATE + 1;
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	body[REPL_DATA_OP] = REPL_OP_WRITE;
	put_be64(body + REPL_DATA_OFFSET, UINT64_MAX - 1);
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	/* version 2 is what this build speaks to itself; version 1 peers still connect */
	ck_assert_int_eq(repl_negotiate_version(REPL_PROTO_MIN, REPL_PROTO_MAX, 1, 1), 1);
	ck_assert_int_ge(REPL_PROTO_MAX, 2);
}
END_TEST

START_TEST(test_variable_bodies)
{
	uint8_t body[REPL_BM_RUNS + 2 * REPL_BM_RUN_SIZE];
	struct repl_msg m = { .type = REPL_MSG_BITMAP, .body = body, .len = sizeof(body) };
	char why[128];

	memset(body, 0, sizeof(body));
	put_be32(body + REPL_BM_NRUNS, 2);
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), 0);
	put_be32(body + REPL_BM_NRUNS, 3);
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);
	put_be32(body + REPL_BM_NRUNS, 0xffffffffu);
	ck_assert_int_eq(repl_body_check(&m, why, sizeof(why)), -1);

	uint8_t ov[REPL_OV_CRCS + 8];
	struct repl_msg o = { .type = REPL_MSG_OV_REQ, .body = ov, .len = sizeof(ov) };
	memset(ov, 0, sizeof(ov));
	put_be32(ov + REPL_OV_LENGTH, 65536 * 2);
	put_be32(ov + REPL_OV_NCHUNKS, 2);
	ck_assert_int_eq(repl_body_check(&o, why, sizeof(why)), 0);
	put_be32(ov + REPL_OV_NCHUNKS, 1);
	ck_assert_int_eq(repl_body_check(&o, why, sizeof(why)), -1);

	uint8_t vs[REPL_VS_SIZE];
	struct repl_msg v = { .type = REPL_MSG_VOL_STATE, .body = vs, .len = sizeof(vs) };
	memset(vs, 'a', sizeof(vs));
	ck_assert_int_eq(repl_body_check(&v, why, sizeof(why)), -1);     /* id not terminated */
	memset(vs, 0, sizeof(vs));
	strcpy((char *)vs + REPL_VS_VOLID, "tandem-x-0");
	vs[REPL_VS_DISK] = 3;
	ck_assert_int_eq(repl_body_check(&v, why, sizeof(why)), 0);
	vs[REPL_VS_ROLE] = 7;
	ck_assert_int_eq(repl_body_check(&v, why, sizeof(why)), -1);
}
END_TEST

START_TEST(test_hello_codec)
{
	uint8_t b[REPL_HELLO_SIZE];
	struct repl_hello in = { .min_ver = 1, .max_ver = 3 }, out;

	memset(in.challenge, 0xa5, sizeof(in.challenge));
	strcpy(in.name, "alpha");
	repl_hello_put(b, &in);
	ck_assert_int_eq(repl_hello_get(b, &out), 0);
	ck_assert_str_eq(out.name, "alpha");
	ck_assert_uint_eq(out.min_ver, 1);
	ck_assert_uint_eq(out.max_ver, 3);
	ck_assert_mem_eq(out.challenge, in.challenge, REPL_CHALLENGE_LEN);
	memset(b + REPL_HELLO_NAME, 'z', REPL_NAME_LEN);                /* unterminated */
	ck_assert_int_eq(repl_hello_get(b, &out), -1);
	memset(b + REPL_HELLO_NAME, 0, REPL_NAME_LEN);                  /* empty */
	ck_assert_int_eq(repl_hello_get(b, &out), -1);
	b[REPL_HELLO_NAME] = '\n';                                      /* not printable */
	ck_assert_int_eq(repl_hello_get(b, &out), -1);
}
END_TEST

/* The four generation ids in VOL_STATE / RS_DONE: big-endian, in order. */
START_TEST(test_gen_codec)
{
	struct repl_md_gen g = { .current = 0x0102030405060708ull, .bitmap = 0x1112131415161718ull,
				 .history = { 0x2122232425262728ull, 0xf1f2f3f4f5f6f7f8ull } }, back = { 0 };
	uint8_t b[REPL_GEN_SIZE + 1];

	memset(b, 0xee, sizeof(b));
	repl_gen_put(b, &g);
	ck_assert_uint_eq(b[0], 0x01);
	ck_assert_uint_eq(b[15], 0x18);
	ck_assert_uint_eq(b[REPL_GEN_SIZE - 1], 0xf8);
	ck_assert_uint_eq(b[REPL_GEN_SIZE], 0xee);              /* nothing written past it */
	repl_gen_get(b, &back);
	ck_assert(memcmp(&g, &back, sizeof(g)) == 0);
}
END_TEST

START_TEST(test_hmac)
{
	uint8_t cc[REPL_CHALLENGE_LEN], ca[REPL_CHALLENGE_LEN], ca2[REPL_CHALLENGE_LEN], mac[REPL_MAC_LEN];

	ck_assert_int_eq(repl_random(cc, sizeof(cc)), 0);
	ck_assert_int_eq(repl_random(ca, sizeof(ca)), 0);
	ck_assert_int_eq(repl_random(ca2, sizeof(ca2)), 0);
	/* the connector proves itself */
	repl_auth_mac(SECRET, true, 1, cc, ca, "alpha", "beta", mac);
	ck_assert(repl_auth_verify(SECRET, true, 1, cc, ca, "alpha", "beta", mac));
	/* wrong secret */
	ck_assert(!repl_auth_verify("another-secret-of-16", true, 1, cc, ca, "alpha", "beta", mac));
	/* replay: a recorded proof against a fresh challenge of the acceptor */
	ck_assert(!repl_auth_verify(SECRET, true, 1, cc, ca2, "alpha", "beta", mac));
	/* reflection: the connector's proof is not the acceptor's */
	ck_assert(!repl_auth_verify(SECRET, false, 1, cc, ca, "alpha", "beta", mac));
	/* bound to the names and the negotiated version */
	ck_assert(!repl_auth_verify(SECRET, true, 1, cc, ca, "mallory", "beta", mac));
	ck_assert(!repl_auth_verify(SECRET, true, 2, cc, ca, "alpha", "beta", mac));
	/* an echoed challenge never verifies */
	repl_auth_mac(SECRET, true, 1, cc, cc, "alpha", "beta", mac);
	ck_assert(!repl_auth_verify(SECRET, true, 1, cc, cc, "alpha", "beta", mac));
	/* the acceptor's answer */
	repl_auth_mac(SECRET, false, 1, cc, ca, "alpha", "beta", mac);
	ck_assert(repl_auth_verify(SECRET, false, 1, cc, ca, "alpha", "beta", mac));
	mac[0] ^= 1;
	ck_assert(!repl_auth_verify(SECRET, false, 1, cc, ca, "alpha", "beta", mac));
}
END_TEST

START_TEST(test_version)
{
	ck_assert_int_eq(repl_negotiate_version(1, 1, 1, 1), 1);
	ck_assert_int_eq(repl_negotiate_version(1, 3, 2, 5), 3);
	ck_assert_int_eq(repl_negotiate_version(2, 5, 1, 3), 3);
	ck_assert_int_eq(repl_negotiate_version(1, 1, 2, 4), -1);
	ck_assert_int_eq(repl_negotiate_version(3, 4, 1, 2), -1);
	ck_assert_int_eq(repl_negotiate_version(1, 2, 3, 1), -1);        /* peer's range inverted */
	ck_assert_int_eq(repl_negotiate_version(0, 0, 0, 0), -1);
	ck_assert_int_eq(repl_negotiate_version(REPL_PROTO_MIN, REPL_PROTO_MAX, REPL_PROTO_MIN, REPL_PROTO_MAX),
			 REPL_PROTO_MAX);
}
END_TEST

static Suite *repl_suite(void)
{
	Suite *s = suite_create("repl_proto");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, test_header_roundtrip);
	tcase_add_test(tc, test_header_malformed);
	tcase_add_test(tc, test_data_crc);
	tcase_add_test(tc, test_state_record);
	tcase_add_test(tc, test_variable_bodies);
	tcase_add_test(tc, test_hello_codec);
	tcase_add_test(tc, test_gen_codec);
	tcase_add_test(tc, test_hmac);
	tcase_add_test(tc, test_version);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(repl_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
