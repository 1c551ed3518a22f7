/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the cluster's CPG messages (cluster/msg.c): round trips of
 * every type and rejection of malformed input. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "cluster/cluster_int.h"
#include "util/be.h"

static uint8_t buf[CL_MSG_MAX];

static struct cl_msg state_msg(void)
{
	struct cl_msg m = { .type = CL_MSG_STATE, .seq = 7, .role = CL_ROLE_PRIMARY, .disk = CL_DISK_UPTODATE,
			    .peer_disk = CL_DISK_OUTDATED, .flags = CL_SF_HOLDS_IP | CL_SF_IN_SYNC,
			    .gen = 0x1122334455667788ull, .nportals = 2 };
	strcpy(m.name, "alpha");
	strcpy(m.portals[0].addr, "192.0.2.100");
	m.portals[0].port = 3260;
	m.portals[0].rel_port_id = 1;
	strcpy(m.portals[1].addr, "2001:db8::1");
	m.portals[1].port = 3261;
	m.portals[1].rel_port_id = 17;
	return m;
}

START_TEST(test_state_roundtrip)
{
	struct cl_msg m = state_msg(), d;
	char why[128];
	int n = cl_msg_encode(&m, buf, sizeof(buf));
	ck_assert_int_gt(n, CL_MSG_HDR);
	ck_assert_uint_eq(get_be32(buf), CL_MSG_MAGIC);
	ck_assert_uint_eq(get_be32(buf + 8), (uint32_t)n);
	ck_assert_int_eq(cl_msg_decode(buf, (size_t)n, &d, why, sizeof(why)), 0);
	ck_assert_int_eq(d.type, CL_MSG_STATE);
	ck_assert_uint_eq(d.seq, 7);
	ck_assert_str_eq(d.name, "alpha");
	ck_assert_int_eq(d.role, CL_ROLE_PRIMARY);
	ck_assert_int_eq(d.disk, CL_DISK_UPTODATE);
	ck_assert_int_eq(d.peer_disk, CL_DISK_OUTDATED);
	ck_assert_uint_eq(d.flags, CL_SF_HOLDS_IP | CL_SF_IN_SYNC);
	ck_assert(d.gen == 0x1122334455667788ull);
	ck_assert_uint_eq(d.nportals, 2);
	ck_assert_str_eq(d.portals[1].addr, "2001:db8::1");
	ck_assert_uint_eq(d.portals[1].port, 3261);
	ck_assert_uint_eq(d.portals[1].rel_port_id, 17);
	cl_msg_clear(&d);
}
END_TEST

START_TEST(test_conns_roundtrip)
{
	struct cl_conn c[3];
	struct cl_msg m = { .type = CL_MSG_CONNS, .nconns = 3, .conns = c }, d;
	char why[128];
	strcpy(m.name, "beta");
	for (int i = 0; i < 3; i++) {
		c[i].client_ip = htonl(0xc0000232u + (uint32_t)i);
		c[i].server_ip = htonl(0xc0000264u);
		c[i].client_port = htons((uint16_t)(40000 + i));
		c[i].server_port = htons(3260);
	}
	int n = cl_msg_encode(&m, buf, sizeof(buf));
	ck_assert_int_eq(n, CL_MSG_HDR + 1 + 4 + 4 + 3 * 12);
	ck_assert_int_eq(cl_msg_decode(buf, (size_t)n, &d, why, sizeof(why)), 0);
	ck_assert_uint_eq(d.nconns, 3);
	ck_assert_mem_eq(d.conns, c, sizeof(c));
	cl_msg_clear(&d);
	ck_assert_ptr_null(d.conns);
	/* empty snapshot */
	m.nconns = 0;
	m.conns = NULL;
	n = cl_msg_encode(&m, buf, sizeof(buf));
	ck_assert_int_eq(cl_msg_decode(buf, (size_t)n, &d, why, sizeof(why)), 0);
	ck_assert_uint_eq(d.nconns, 0);
	cl_msg_clear(&d);
}
END_TEST

START_TEST(test_ctl_roundtrip)
{
	static const enum cl_msg_type types[] = { CL_MSG_TRANSITION, CL_MSG_HANDOVER, CL_MSG_FAILOVER_REQUEST,
						  CL_MSG_HANDOVER_FAILED, CL_MSG_OUTDATE_REQUEST, CL_MSG_OUTDATE_ANSWER };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		struct cl_msg m = { .type = types[i], .on = 1, .epoch = 42 }, d;
		char why[128];
		strcpy(m.name, "alpha");
		strcpy(m.target, "beta");
		strcpy(m.text, "peer not in sync");
		int n = cl_msg_encode(&m, buf, sizeof(buf));
		ck_assert_int_gt(n, 0);
		ck_assert_int_eq(cl_msg_decode(buf, (size_t)n, &d, why, sizeof(why)), 0);
		ck_assert_int_eq(d.type, types[i]);
		ck_assert_str_eq(d.target, "beta");
		ck_assert_str_eq(d.text, "peer not in sync");
		ck_assert_uint_eq(d.on, 1);
		ck_assert_uint_eq(d.epoch, 42);
		ck_assert_str_ne(cl_msg_type_name(d.type), "?");
	}
}
END_TEST

START_TEST(test_encode_limits)
{
	struct cl_msg m = state_msg();
	ck_assert_int_eq(cl_msg_encode(&m, buf, 20), -1);              /* too small */
	m.nportals = CL_MAX_PORTALS + 1;
	ck_assert_int_eq(cl_msg_encode(&m, buf, sizeof(buf)), -1);
	m = state_msg();
	memset(m.name, 'x', sizeof(m.name));                           /* unterminated */
	ck_assert_int_eq(cl_msg_encode(&m, buf, sizeof(buf)), -1);
	struct cl_msg c = { .type = CL_MSG_CONNS, .nconns = 1, .conns = NULL };
	strcpy(c.name, "a");
	ck_assert_int_eq(cl_msg_encode(&c, buf, sizeof(buf)), -1);
	c.nconns = CL_MAX_CONNS + 1;
	ck_assert_int_eq(cl_msg_encode(&c, buf, sizeof(buf)), -1);
	struct cl_msg bad = { .type = (enum cl_msg_type)99 };
	strcpy(bad.name, "a");
	ck_assert_int_eq(cl_msg_encode(&bad, buf, sizeof(buf)), -1);
}
END_TEST

/* Every malformation is refused with a reason, never read past the end. */
START_TEST(test_malformed)
{
	struct cl_msg m = state_msg(), d;
	char why[128];
	uint8_t tmp[1024];
	int n = cl_msg_encode(&m, buf, sizeof(buf));

	ck_assert_int_eq(cl_msg_decode(NULL, 0, &d, why, sizeof(why)), -1);
	/* every truncation (with the length field fixed up, and without) */
	for (int cut = 0; cut < n; cut++) {
		uint8_t *p = malloc((size_t)cut + 1);     /* exact size: ASan catches over-reads */
		memcpy(p, buf, (size_t)cut);
		ck_assert_int_eq(cl_msg_decode(p, (size_t)cut, &d, why, sizeof(why)), -1);
		if (cut >= CL_MSG_HDR) {
			put_be32(p + 8, (uint32_t)cut);
			ck_assert_int_eq(cl_msg_decode(p, (size_t)cut, &d, why, sizeof(why)), -1);
		}
		free(p);
	}
	/* trailing byte */
	memcpy(tmp, buf, (size_t)n);
	tmp[n] = 0;
	put_be32(tmp + 8, (uint32_t)n + 1);
	ck_assert_int_eq(cl_msg_decode(tmp, (size_t)n + 1, &d, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "trailing"));
	/* magic, version, type, length */
	memcpy(tmp, buf, (size_t)n);
	tmp[0] ^= 1;
	ck_assert_int_eq(cl_msg_decode(tmp, (size_t)n, &d, why, sizeof(why)), -1);
	memcpy(tmp, buf, (size_t)n);
	tmp[4] = 2;
	ck_assert_int_eq(cl_msg_decode(tmp, (size_t)n, &d, why, sizeof(why)), -1);
	memcpy(tmp, buf, (size_t)n);
	tmp[5] = 77;
	ck_assert_int_eq(cl_msg_decode(tmp, (size_t)n, &d, why, sizeof(why)), -1);
	memcpy(tmp, buf, (size_t)n);
	put_be32(tmp + 8, 5000);
	ck_assert_int_eq(cl_msg_decode(tmp, (size_t)n, &d, why, sizeof(why)), -1);
	/* name: length byte larger than the rest, control character, empty */
	memcpy(tmp, buf, (size_t)n);
	tmp[CL_MSG_HDR] = 200;
	ck_assert_int_eq(cl_msg_decode(tmp, (size_t)n, &d, why, sizeof(why)), -1);
	memcpy(tmp, buf, (size_t)n);
	tmp[CL_MSG_HDR + 1] = '\n';
	ck_assert_int_eq(cl_msg_decode(tmp, (size_t)n, &d, why, sizeof(why)), -1);
	memcpy(tmp, buf, (size_t)n);
	tmp[CL_MSG_HDR + 1] = '\0';
	ck_assert_int_eq(cl_msg_decode(tmp, (size_t)n, &d, why, sizeof(why)), -1);
	/* role out of range; too many portals */
	size_t body = CL_MSG_HDR + 1 + strlen("alpha");
	memcpy(tmp, buf, (size_t)n);
	tmp[body] = 9;
	ck_assert_int_eq(cl_msg_decode(tmp, (size_t)n, &d, why, sizeof(why)), -1);
	memcpy(tmp, buf, (size_t)n);
	tmp[body + 12] = CL_MAX_PORTALS + 1;
	ck_assert_int_eq(cl_msg_decode(tmp, (size_t)n, &d, why, sizeof(why)), -1);
}
END_TEST

/* The fencing pair: a request names the peer and carries the request id; the
 * answer goes back to the requester with the same id, on=1 (Outdated) or on=0
 * with the reason. Truncated ones are refused. */
START_TEST(test_outdate_messages)
{
	struct cl_msg q = { .type = CL_MSG_OUTDATE_REQUEST, .on = 1, .epoch = 0x12345678 }, a, d;
	char why[128];
	strcpy(q.name, "alpha");
	strcpy(q.target, "beta");
	int n = cl_msg_encode(&q, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(cl_msg_decode(buf, (size_t)n, &d, why, sizeof(why)), 0);
	ck_assert_int_eq(d.type, CL_MSG_OUTDATE_REQUEST);
	ck_assert_str_eq(d.name, "alpha");
	ck_assert_str_eq(d.target, "beta");
	ck_assert_uint_eq(d.epoch, 0x12345678);
	ck_assert_str_eq(cl_msg_type_name(d.type), "OUTDATE_REQUEST");
	for (int cut = CL_MSG_HDR; cut < n; cut++) {
		uint8_t *p = malloc((size_t)cut);
		memcpy(p, buf, (size_t)cut);
		put_be32(p + 8, (uint32_t)cut);
		ck_assert_int_eq(cl_msg_decode(p, (size_t)cut, &d, why, sizeof(why)), -1);
		free(p);
	}
	a = (struct cl_msg){ .type = CL_MSG_OUTDATE_ANSWER, .on = 0, .epoch = 0x12345678 };
	strcpy(a.name, "beta");
	strcpy(a.target, "alpha");
	strcpy(a.text, "beta is primary: it does not outdate itself");
	n = cl_msg_encode(&a, buf, sizeof(buf));
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(cl_msg_decode(buf, (size_t)n, &d, why, sizeof(why)), 0);
	ck_assert_int_eq(d.type, CL_MSG_OUTDATE_ANSWER);
	ck_assert_uint_eq(d.on, 0);
	ck_assert_str_eq(d.target, "alpha");
	ck_assert_str_eq(d.text, "beta is primary: it does not outdate itself");
	ck_assert_str_eq(cl_msg_type_name(d.type), "OUTDATE_ANSWER");
}
END_TEST

START_TEST(test_conns_count_mismatch)
{
	struct cl_conn c[2] = { { 1, 2, 3, 4 }, { 5, 6, 7, 8 } };
	struct cl_msg m = { .type = CL_MSG_CONNS, .nconns = 2, .conns = c }, d;
	char why[128];
	strcpy(m.name, "beta");
	int n = cl_msg_encode(&m, buf, sizeof(buf));
	size_t cnt = CL_MSG_HDR + 1 + 4;
	put_be32(buf + cnt, 3);
	ck_assert_int_eq(cl_msg_decode(buf, (size_t)n, &d, why, sizeof(why)), -1);
	put_be32(buf + cnt, 0xffffffffu);
	ck_assert_int_eq(cl_msg_decode(buf, (size_t)n, &d, why, sizeof(why)), -1);
	put_be32(buf + cnt, 1);
	ck_assert_int_eq(cl_msg_decode(buf, (size_t)n, &d, why, sizeof(why)), -1);
	ck_assert_ptr_null(d.conns);
}
END_TEST

/* Random bytes after a valid header never crash the decoder. */
START_TEST(test_fuzz)
{
	srand(1);
	for (int i = 0; i < 20000; i++) {
		struct cl_msg m = state_msg(), d;
		char why[128];
		int n = cl_msg_encode(&m, buf, sizeof(buf));
		int flips = 1 + rand() % 4;
		for (int f = 0; f < flips; f++)
			buf[CL_MSG_HDR + rand() % (n - CL_MSG_HDR)] = (uint8_t)rand();
		if (cl_msg_decode(buf, (size_t)n, &d, why, sizeof(why)) == 0) {
			ck_assert(d.nportals <= CL_MAX_PORTALS);
			ck_assert(strlen(d.name) < CL_NAME_MAX);
			cl_msg_clear(&d);
		}
	}
}
END_TEST

static Suite *msg_suite(void)
{
	Suite *s = suite_create("cluster_msg");
	TCase *tc = tcase_create("msg");
	tcase_add_test(tc, test_state_roundtrip);
	tcase_add_test(tc, test_conns_roundtrip);
	tcase_add_test(tc, test_ctl_roundtrip);
	tcase_add_test(tc, test_encode_limits);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_conns_count_mismatch);
	tcase_add_test(tc, test_outdate_messages);
	tcase_add_test(tc, test_fuzz);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(msg_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
