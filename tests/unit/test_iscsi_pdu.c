/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the iSCSI receive path: the pure BHS validation function and
 * the non-blocking PDU state machine fed through a socketpair (truncated PDUs,
 * bad AHS, oversize data segments, unknown opcodes, digest errors). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include "iscsi/iscsi_int.h"

static void bhs_init(uint8_t *b, uint8_t op, bool imm)
{
	memset(b, 0, ISCSI_BHS_LEN);
	b[ISCSI_BHS_OPCODE] = op | (imm ? ISCSI_OP_IMMEDIATE : 0);
	b[ISCSI_BHS_FLAGS] = ISCSI_FLAG_FINAL;
}

static enum iscsi_bhs_verdict check(const uint8_t *b, bool ffp, uint32_t mdsl, uint8_t *reason)
{
	return iscsi_pdu_check_bhs(b, ffp, mdsl, reason, NULL);
}

START_TEST(bhs_valid_commands)
{
	uint8_t b[ISCSI_BHS_LEN], reason;

	bhs_init(b, ISCSI_OP_SCSI_CMD, false);
	b[ISCSI_BHS_FLAGS] |= ISCSI_CMD_WRITE;
	iscsi_bhs_set_dsl(b, 4096);
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_OK);
	bhs_init(b, ISCSI_OP_NOP_OUT, true);
	put_be32(b + ISCSI_BHS_ITT, ISCSI_RSVD_TAG);
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_OK);
	bhs_init(b, ISCSI_OP_LOGIN_REQ, true);
	iscsi_bhs_set_dsl(b, 8192);
	ck_assert_int_eq(check(b, false, 8192, &reason), ISCSI_BHS_OK);
	bhs_init(b, ISCSI_OP_DATA_OUT, false);
	iscsi_bhs_set_dsl(b, 262144);
	ck_assert_int_eq(check(b, true, 262144, &reason), ISCSI_BHS_OK);
}
END_TEST

START_TEST(bhs_invalid)
{
	uint8_t b[ISCSI_BHS_LEN], reason;

	/* unknown opcode: Reject "command not supported" (RFC 7143 11.17.1) */
	bhs_init(b, 0x1f, false);
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_REJECT);
	ck_assert_int_eq(reason, ISCSI_REJECT_CMD_NOT_SUPPORTED);
	/* SNACK at ERL 0 */
	bhs_init(b, ISCSI_OP_SNACK_REQ, false);
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_REJECT);
	/* DataSegmentLength over MaxRecvDataSegmentLength: protocol error, drop */
	bhs_init(b, ISCSI_OP_DATA_OUT, false);
	iscsi_bhs_set_dsl(b, 8193);
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_DROP);
	/* login PDU longer than 8192 during login */
	bhs_init(b, ISCSI_OP_LOGIN_REQ, true);
	iscsi_bhs_set_dsl(b, 8196);
	ck_assert_int_eq(check(b, false, 1 << 20, &reason), ISCSI_BHS_DROP);
	/* a command before full feature phase: drop */
	bhs_init(b, ISCSI_OP_SCSI_CMD, false);
	ck_assert_int_eq(check(b, false, 8192, &reason), ISCSI_BHS_DROP);
	/* login in full feature phase: Reject protocol error */
	bhs_init(b, ISCSI_OP_LOGIN_REQ, true);
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_REJECT);
	ck_assert_int_eq(reason, ISCSI_REJECT_PROTOCOL_ERROR);
	/* AHS on a NOP-Out */
	bhs_init(b, ISCSI_OP_NOP_OUT, true);
	b[ISCSI_BHS_TOTAHS] = 1;
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_REJECT);
	ck_assert_int_eq(reason, ISCSI_REJECT_INVALID_PDU_FIELD);
	/* bidirectional command */
	bhs_init(b, ISCSI_OP_SCSI_CMD, false);
	b[ISCSI_BHS_FLAGS] |= ISCSI_CMD_READ | ISCSI_CMD_WRITE;
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_REJECT);
	/* immediate data without W bit */
	bhs_init(b, ISCSI_OP_SCSI_CMD, false);
	b[ISCSI_BHS_FLAGS] |= ISCSI_CMD_READ;
	iscsi_bhs_set_dsl(b, 512);
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_REJECT);
	/* NOP-Out with reserved ITT needs the I bit */
	bhs_init(b, ISCSI_OP_NOP_OUT, false);
	put_be32(b + ISCSI_BHS_ITT, ISCSI_RSVD_TAG);
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_REJECT);
	/* TMF with a data segment */
	bhs_init(b, ISCSI_OP_TMF_REQ, true);
	b[ISCSI_BHS_FLAGS] = ISCSI_FLAG_FINAL | ISCSI_TMF_ABORT_TASK;
	iscsi_bhs_set_dsl(b, 4);
	ck_assert_int_eq(check(b, true, 8192, &reason), ISCSI_BHS_REJECT);
}
END_TEST

START_TEST(proto_helpers)
{
	uint8_t b[ISCSI_BHS_LEN];

	bhs_init(b, ISCSI_OP_SCSI_CMD, true);
	iscsi_bhs_set_dsl(b, 0x123456);
	b[ISCSI_BHS_TOTAHS] = 3;
	ck_assert_uint_eq(iscsi_bhs_opcode(b), ISCSI_OP_SCSI_CMD);
	ck_assert(iscsi_bhs_immediate(b));
	ck_assert_uint_eq(iscsi_bhs_dsl(b), 0x123456);
	ck_assert_uint_eq(iscsi_bhs_ahs_len(b), 12);
	ck_assert_uint_eq(iscsi_pad4(5), 3);
	ck_assert_uint_eq(iscsi_pad4(8), 0);
	ck_assert(iscsi_sn_lt(0xfffffff0u, 5));
	ck_assert(iscsi_sn_gt(5, 0xfffffff0u));
	ck_assert(!iscsi_sn_gt(5, 5));
	ck_assert_str_eq(iscsi_opcode_name(ISCSI_OP_R2T), "R2T");
}
END_TEST

/* ---- state machine over a socketpair ---- */
static struct reactor *r;
static struct iscsi_conn *c;
static int peer;

static void setup(void)
{
	int sv[2];

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	peer = sv[1];
	r = reactor_create("test");
	ck_assert_ptr_nonnull(r);
	c = iscsi_conn_create(sv[0], 1, "test-peer", "127.0.0.1");
	ck_assert_ptr_nonnull(c);
	reactor_post(r, iscsi_conn_attach, c);
	reactor_poll_once(r, 100);
	ck_assert_ptr_eq(c->r, r);
	c->state = ISCSI_CONN_FULL;
	c->p.max_recv_dsl = 8192;
	c->p.max_xmit_dsl = 8192;
}

static void teardown(void)
{
	if (c && !c->closing)
		iscsi_conn_close(c, "test over");
	for (int i = 0; i < 5; i++)
		reactor_poll_once(r, 0);
	reactor_destroy(r);
	close(peer);
	c = NULL;
}

static void send_all(const void *buf, size_t len)
{
	ck_assert_int_eq(write(peer, buf, len), (ssize_t)len);
}

/* Let the connection read, then run the idle hook (flush). Returns true when
 * the connection closed (it is then freed by the reactor and c is cleared). */
static bool pump(void)
{
	bool closed;

	iscsi_conn_readable(c);
	closed = c->closing;
	reactor_poll_once(r, 0);
	if (closed)
		c = NULL;
	return closed;
}

/* Read one PDU header (plus data) from the target side; returns opcode or -1. */
static int recv_pdu(uint8_t *bhs, uint8_t *data, size_t datamax, bool hd, bool dd)
{
	struct pollfd pfd = { .fd = peer, .events = POLLIN };
	size_t got = 0, want = ISCSI_BHS_LEN + (hd ? 4 : 0);
	uint8_t buf[ISCSI_BHS_LEN + 4 + 4096 + 8];
	uint32_t dsl;

	while (got < want) {
		if (poll(&pfd, 1, 500) <= 0)
			return -1;
		ssize_t n = read(peer, buf + got, want - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		if (got == ISCSI_BHS_LEN + (hd ? 4u : 0u) && want == got) {
			dsl = iscsi_bhs_dsl(buf);
			if (dsl)
				want += dsl + iscsi_pad4(dsl) + (dd ? 4 : 0);
		}
	}
	memcpy(bhs, buf, ISCSI_BHS_LEN);
	dsl = iscsi_bhs_dsl(buf);
	if (data && dsl)
		memcpy(data, buf + ISCSI_BHS_LEN + (hd ? 4 : 0), dsl < datamax ? dsl : datamax);
	return iscsi_bhs_opcode(bhs);
}

static void nop_out(uint8_t *b, uint32_t itt, uint32_t dsl)
{
	bhs_init(b, ISCSI_OP_NOP_OUT, true);
	put_be32(b + ISCSI_BHS_ITT, itt);
	put_be32(b + ISCSI_BHS_TTT, ISCSI_RSVD_TAG);
	iscsi_bhs_set_dsl(b, dsl);
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

START_TEST(rx_truncated_then_complete)
{
	uint8_t b[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN], data[16];

	nop_out(b, 0x1234, 5);
	send_all(b, 20);
	ck_assert(!pump());
	ck_assert_int_eq(c->rx_state, ISCSI_RX_HDR);
	ck_assert_uint_eq(c->rx_off, 20);
	send_all(b + 20, ISCSI_BHS_LEN - 20);
	send_all("he", 2);
	ck_assert(!pump());
	ck_assert_int_eq(c->rx_state, ISCSI_RX_DATA);
	send_all("llo\0\0\0", 6);   /* rest of data + 3 pad bytes */
	ck_assert(!pump());
	ck_assert_int_eq(recv_pdu(rsp, data, sizeof(data), false, false), ISCSI_OP_NOP_IN);
	ck_assert_uint_eq(get_be32(rsp + ISCSI_BHS_ITT), 0x1234);
	ck_assert_uint_eq(iscsi_bhs_dsl(rsp), 5);
	ck_assert_mem_eq(data, "hello", 5);
}
END_TEST

START_TEST(rx_bad_opcode_rejected)
{
	uint8_t b[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN], data[ISCSI_BHS_LEN];

	bhs_init(b, 0x1e, false);
	put_be32(b + ISCSI_BHS_ITT, 77);
	iscsi_bhs_set_dsl(b, 3);
	send_all(b, sizeof(b));
	send_all("abc\0", 4);
	ck_assert(!pump());
	ck_assert_int_eq(recv_pdu(rsp, data, sizeof(data), false, false), ISCSI_OP_REJECT);
	ck_assert_uint_eq(rsp[ISCSI_REJECT_REASON], ISCSI_REJECT_CMD_NOT_SUPPORTED);
	ck_assert_uint_eq(get_be32(rsp + ISCSI_BHS_ITT), ISCSI_RSVD_TAG);
	ck_assert_mem_eq(data, b, ISCSI_BHS_LEN);
	/* still in sync: a ping works */
	nop_out(b, 9, 0);
	send_all(b, sizeof(b));
	pump();
	ck_assert_int_eq(recv_pdu(rsp, NULL, 0, false, false), ISCSI_OP_NOP_IN);
	ck_assert_uint_eq(get_be32(rsp + ISCSI_BHS_ITT), 9);
}
END_TEST

START_TEST(rx_bad_ahs_rejected_stays_in_sync)
{
	uint8_t b[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN], ahs[8] = { 0 };

	nop_out(b, 5, 0);
	b[ISCSI_BHS_TOTAHS] = 2;
	send_all(b, sizeof(b));
	send_all(ahs, sizeof(ahs));
	ck_assert(!pump());
	ck_assert_int_eq(recv_pdu(rsp, NULL, 0, false, false), ISCSI_OP_REJECT);
	ck_assert_uint_eq(rsp[ISCSI_REJECT_REASON], ISCSI_REJECT_INVALID_PDU_FIELD);
	nop_out(b, 6, 0);
	send_all(b, sizeof(b));
	pump();
	ck_assert_int_eq(recv_pdu(rsp, NULL, 0, false, false), ISCSI_OP_NOP_IN);
	ck_assert_uint_eq(get_be32(rsp + ISCSI_BHS_ITT), 6);
}
END_TEST

START_TEST(rx_oversize_dsl_drops)
{
	uint8_t b[ISCSI_BHS_LEN];

	nop_out(b, 5, 8192 + 4);
	send_all(b, sizeof(b));
	ck_assert(pump());
}
END_TEST

START_TEST(rx_command_during_login_drops)
{
	uint8_t b[ISCSI_BHS_LEN];

	c->state = ISCSI_CONN_LOGIN;
	bhs_init(b, ISCSI_OP_SCSI_CMD, false);
	send_all(b, sizeof(b));
	ck_assert(pump());
}
END_TEST

START_TEST(rx_header_digest)
{
	uint8_t b[ISCSI_BHS_LEN + 4], rsp[ISCSI_BHS_LEN];

	c->p.header_digest = true;
	nop_out(b, 11, 0);
	le32(b + ISCSI_BHS_LEN, iscsi_crc32c(b, ISCSI_BHS_LEN));
	send_all(b, sizeof(b));
	ck_assert(!pump());
	ck_assert_int_eq(recv_pdu(rsp, NULL, 0, true, false), ISCSI_OP_NOP_IN);
	ck_assert_uint_eq(get_be32(rsp + ISCSI_BHS_ITT), 11);
	/* wrong digest: the PDU boundary is lost, the connection goes */
	nop_out(b, 12, 0);
	le32(b + ISCSI_BHS_LEN, iscsi_crc32c(b, ISCSI_BHS_LEN) ^ 1);
	send_all(b, sizeof(b));
	ck_assert(pump());
}
END_TEST

START_TEST(rx_data_digest)
{
	uint8_t b[ISCSI_BHS_LEN], rsp[ISCSI_BHS_LEN], d[8], data[64];

	c->p.data_digest = true;
	nop_out(b, 21, 4);
	memcpy(d, "ping", 4);
	le32(d + 4, iscsi_crc32c("ping", 4));
	send_all(b, sizeof(b));
	send_all(d, sizeof(d));
	ck_assert(!pump());
	ck_assert_int_eq(recv_pdu(rsp, data, sizeof(data), false, true), ISCSI_OP_NOP_IN);
	ck_assert_mem_eq(data, "ping", 4);
	/* corrupted payload: Reject 0x02, connection stays */
	nop_out(b, 22, 4);
	d[0] = 'P';
	send_all(b, sizeof(b));
	send_all(d, sizeof(d));
	ck_assert(!pump());
	ck_assert_int_eq(recv_pdu(rsp, data, sizeof(data), false, true), ISCSI_OP_REJECT);
	ck_assert_uint_eq(rsp[ISCSI_REJECT_REASON], ISCSI_REJECT_DATA_DIGEST);
	ck_assert_uint_eq(get_be32(data + ISCSI_BHS_ITT), 22);
}
END_TEST

START_TEST(rx_peer_close)
{
	uint8_t b[ISCSI_BHS_LEN];

	nop_out(b, 1, 0);
	send_all(b, 10);
	shutdown(peer, SHUT_WR);
	ck_assert(pump());
}
END_TEST

START_TEST(rx_garbage_never_crashes)
{
	uint8_t buf[4096];
	unsigned seed = 12345;

	/* random bytes in full feature phase: rejects or a drop, nothing worse */
	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
	for (size_t off = 0; off < sizeof(buf) && c; off += 512) {
		send_all(buf + off, 512);
		pump();
		/* drain whatever came back */
		uint8_t sink[8192];
		while (read(peer, sink, sizeof(sink)) > 0)
			;
	}
	ck_assert(1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("iscsi_pdu");
	TCase *tc = tcase_create("bhs");
	TCase *rx = tcase_create("rx");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, bhs_valid_commands);
	tcase_add_test(tc, bhs_invalid);
	tcase_add_test(tc, proto_helpers);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(rx, setup, teardown);
	tcase_add_test(rx, rx_truncated_then_complete);
	tcase_add_test(rx, rx_bad_opcode_rejected);
	tcase_add_test(rx, rx_bad_ahs_rejected_stays_in_sync);
	tcase_add_test(rx, rx_oversize_dsl_drops);
	tcase_add_test(rx, rx_command_during_login_drops);
	tcase_add_test(rx, rx_header_digest);
	tcase_add_test(rx, rx_data_digest);
	tcase_add_test(rx, rx_peer_close);
	tcase_add_test(rx, rx_garbage_never_crashes);
	suite_add_tcase(s, rx);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
