/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of the iSCSI receive path: the pure BHS validation function and
 * the non-blocking PDU state machine fed through a socketpair (truncated PDUs,
 * bad AHS, oversize data segments, unknown opcodes, digest errors), and the
 * bulk receive buffer: many PDUs in one read, with and without digests, byte
 * by byte, data segments split across reads, large segments read in place,
 * PDUs left in the buffer by the budget or the transmit throttle. */
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

/* Commands an initiator has outstanding as the target sees them (the load
 * signal of batching, rx.c): tasks plus unacknowledged responses, in serial
 * arithmetic; more unacknowledged than the CmdSN window allows, or an
 * ExpStatSN from the future, counts as none. */
START_TEST(outstanding_count)
{
	ck_assert_uint_eq(iscsi_outstanding(10, 10, 0, 128), 0);
	ck_assert_uint_eq(iscsi_outstanding(15, 10, 3, 128), 8);
	ck_assert_uint_eq(iscsi_outstanding(5, 0xfffffffeu, 1, 128), 8);         /* StatSN wrapped */
	ck_assert_uint_eq(iscsi_outstanding(10, 12, 2, 128), 2);                 /* acknowledges the future */
	ck_assert_uint_eq(iscsi_outstanding(100000, 0, 4, 128), 4);              /* far behind: a lagging initiator */
	ck_assert_uint_eq(iscsi_outstanding(1128, 1000, 0, 128), 128);           /* the window itself */
	ck_assert_uint_eq(iscsi_outstanding(1129, 1000, 1, 128), 1);             /* one more than it allows */
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
	/* a short read ends a wakeup (the socket looked drained): the second call
	 * stands for the next EPOLLIN and sees what arrived since, or the EOF */
	if (!c->closing)
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

/* ---- bulk receive buffer ---- */

struct wbuf {
	uint8_t *b;
	size_t len, cap;
};

static void wb_put(struct wbuf *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2;
		w->b = realloc(w->b, w->cap);
		ck_assert_ptr_nonnull(w->b);
	}
	memcpy(w->b + w->len, p, n);
	w->len += n;
}

static uint8_t pattern(uint32_t itt, uint32_t i)
{
	return (uint8_t)(i * 7 + itt * 13 + (i >> 8));
}

/* A NOP-Out ping with dsl bytes of pattern data, on the wire as the initiator
 * sends it (pad, digests when negotiated). */
static void put_nop(struct wbuf *w, uint32_t itt, uint32_t dsl, bool hd, bool dd)
{
	static const uint8_t zero[4];
	uint8_t b[ISCSI_BHS_LEN], d[4];
	uint8_t *data = malloc(dsl + 4);
	uint32_t pad = iscsi_pad4(dsl);

	ck_assert_ptr_nonnull(data);
	nop_out(b, itt, dsl);
	wb_put(w, b, sizeof(b));
	if (hd) {
		le32(d, iscsi_crc32c(b, ISCSI_BHS_LEN));
		wb_put(w, d, 4);
	}
	for (uint32_t i = 0; i < dsl; i++)
		data[i] = pattern(itt, i);
	memset(data + dsl, 0, 4);
	if (dsl) {
		wb_put(w, data, dsl);
		wb_put(w, zero, pad);
		if (dd) {
			le32(d, iscsi_crc32c(data, dsl + pad));
			wb_put(w, d, 4);
		}
	}
	free(data);
}

/* Length on the wire of the NOP-In answering put_nop(itt, dsl). */
static size_t nop_in_len(uint32_t dsl, bool hd, bool dd)
{
	return ISCSI_BHS_LEN + (hd ? 4 : 0) + (dsl ? dsl + iscsi_pad4(dsl) + (dd ? 4 : 0) : 0);
}

/* Check that in[0..len) is the NOP-In answers to pings itts[i]/dsls[i], in order. */
static void check_nop_ins(const uint8_t *in, size_t len, const uint32_t *itts, const uint32_t *dsls, int n, bool hd,
			  bool dd)
{
	size_t off = 0;

	for (int i = 0; i < n; i++) {
		const uint8_t *b = in + off;
		uint32_t dsl;

		ck_assert_uint_le(off + ISCSI_BHS_LEN, len);
		ck_assert_uint_eq(iscsi_bhs_opcode(b), ISCSI_OP_NOP_IN);
		ck_assert_uint_eq(get_be32(b + ISCSI_BHS_ITT), itts[i]);
		dsl = iscsi_bhs_dsl(b);
		ck_assert_uint_eq(dsl, dsls[i]);
		off += ISCSI_BHS_LEN;
		if (hd) {
			uint32_t crc = iscsi_crc32c(b, ISCSI_BHS_LEN);
			ck_assert_uint_eq(in[off] | in[off + 1] << 8 | in[off + 2] << 16 | (uint32_t)in[off + 3] << 24, crc);
			off += 4;
		}
		for (uint32_t j = 0; j < dsl; j++)
			if (in[off + j] != pattern(itts[i], j))
				ck_abort_msg("NOP-In ITT %u: data byte %u is 0x%02x, sent 0x%02x", itts[i], j, in[off + j],
					     pattern(itts[i], j));
		if (dsl) {
			off += dsl + iscsi_pad4(dsl);
			if (dd) {
				uint32_t crc = iscsi_crc32c(in + off - dsl - iscsi_pad4(dsl), dsl + iscsi_pad4(dsl));
				ck_assert_uint_eq(in[off] | in[off + 1] << 8 | in[off + 2] << 16 | (uint32_t)in[off + 3] << 24,
						  crc);
				off += 4;
			}
		}
	}
	ck_assert_uint_eq(off, len);
}

/* Send out[0..len) in pieces of `chunk` bytes, letting the connection read after
 * each piece, and collect its answers until `want` bytes came back (or nothing
 * moves any more). Returns the bytes received into in (room for want + 64). */
static size_t exchange(const uint8_t *out, size_t len, size_t chunk, uint8_t *in, size_t want)
{
	size_t sent = 0, got = 0;
	int idle = 0;

	while ((sent < len || got < want) && idle < 100) {
		bool progress = false;
		ssize_t n;

		if (sent < len) {
			n = write(peer, out + sent, len - sent < chunk ? len - sent : chunk);
			if (n > 0) {
				sent += (size_t)n;
				progress = true;
			}
		}
		ck_assert_ptr_nonnull(c);
		iscsi_conn_readable(c);
		ck_assert(!c->closing);
		reactor_poll_once(r, 0);
		while ((n = read(peer, in + got, want + 64 - got)) > 0) {
			got += (size_t)n;
			progress = true;
		}
		idle = progress ? 0 : idle + 1;
	}
	ck_assert_uint_eq(sent, len);
	return got;
}

static void big_segments(void)
{
	c->p.max_recv_dsl = 1u << 20;
	c->p.max_xmit_dsl = 1u << 20;   /* the ping data comes back whole */
}

/* Several pings (empty, small, padded, one over a page) in one write, for each
 * digest combination: one wakeup answers them all, in order. */
/* ExpStatSN of every PDU moves the connection's acknowledgement forward, up
 * to what was sent; a stale one, or one ahead of StatSN, is ignored. */
START_TEST(rx_tracks_exp_stat_sn)
{
	static const struct { uint32_t exp, want; } steps[] = {
		{ 95, 95 },             /* forward */
		{ 93, 95 },             /* stale: ignored */
		{ 0x80000000u, 95 },    /* ahead of anything sent: ignored */
		{ 0, 95 },              /* far back: ignored */
	};
	uint8_t b[ISCSI_BHS_LEN], in[ISCSI_BHS_LEN];

	c->stat_sn = 100;
	c->exp_stat_sn = 90;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		nop_out(b, (uint32_t)(7 + i), 0);
		put_be32(b + ISCSI_BHS_EXPSTATSN, steps[i].exp);
		send_all(b, sizeof(b));
		ck_assert(!pump());
		ck_assert_int_eq(recv_pdu(in, NULL, 0, false, false), ISCSI_OP_NOP_IN);
		ck_assert_uint_eq(c->exp_stat_sn, steps[i].want);
	}
	/* everything sent acknowledged: StatSN itself is a valid ExpStatSN */
	nop_out(b, 20, 0);
	put_be32(b + ISCSI_BHS_EXPSTATSN, c->stat_sn);
	send_all(b, sizeof(b));
	ck_assert(!pump());
	ck_assert_int_eq(recv_pdu(in, NULL, 0, false, false), ISCSI_OP_NOP_IN);
	ck_assert_uint_eq(c->exp_stat_sn, c->stat_sn - 1);      /* the NOP-In just sent is not acknowledged */
	ck_assert_uint_eq(iscsi_outstanding(c->stat_sn, c->exp_stat_sn, 0, 128), 1);
}
END_TEST

START_TEST(rx_many_pdus_one_read)
{
	static const uint32_t dsls[] = { 0, 5, 48, 4096, 3, 0, 4097, 1, 8192, 0 };
	uint32_t itts[10];
	const int n = 10;

	for (int mode = 0; mode < 4; mode++) {
		bool hd = mode & 1, dd = mode & 2;
		struct wbuf w = { 0 };
		size_t want = 0, got;
		uint8_t *in;

		c->p.header_digest = hd;
		c->p.data_digest = dd;
		for (int i = 0; i < n; i++) {
			itts[i] = (uint32_t)(100 * mode + i);
			put_nop(&w, itts[i], dsls[i], hd, dd);
			want += nop_in_len(dsls[i], hd, dd);
		}
		in = malloc(want + 64);
		send_all(w.b, w.len);
		iscsi_conn_readable(c);           /* one wakeup, one read */
		ck_assert(!c->closing);
		ck_assert_int_eq(c->rx_state, ISCSI_RX_HDR);
		ck_assert_uint_eq(c->rxb_head, c->rxb_tail);
		got = exchange(NULL, 0, 1, in, want);
		ck_assert_uint_eq(got, want);
		check_nop_ins(in, got, itts, dsls, n, hd, dd);
		free(in);
		free(w.b);
	}
}
END_TEST

/* The same kind of stream, one byte per read (every state resumes in the
 * middle of every piece), and in odd pieces that split headers, digests and
 * data segments across reads. */
START_TEST(rx_byte_by_byte_and_split)
{
	static const uint32_t dsls[] = { 5, 0, 1000, 4, 3 };
	static const size_t chunks[] = { 1, 3, 47, 49, 1000 };
	uint32_t itts[5];
	const int n = 5;

	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		for (int mode = 0; mode < 4; mode++) {
			bool hd = mode & 1, dd = mode & 2;
			struct wbuf w = { 0 };
			size_t want = 0, got;
			uint8_t *in;

			c->p.header_digest = hd;
			c->p.data_digest = dd;
			for (int i = 0; i < n; i++) {
				itts[i] = (uint32_t)(1000 * k + 10 * mode + i);
				put_nop(&w, itts[i], dsls[i], hd, dd);
				want += nop_in_len(dsls[i], hd, dd);
			}
			in = malloc(want + 64);
			got = exchange(w.b, w.len, chunks[k], in, want);
			ck_assert_uint_eq(got, want);
			check_nop_ins(in, got, itts, dsls, n, hd, dd);
			ck_assert_int_eq(c->rx_state, ISCSI_RX_HDR);
			free(in);
			free(w.b);
		}
	}
}
END_TEST

/* A data segment whose first part came with its header and whose rest comes
 * later: the rest is read in place. */
START_TEST(rx_data_split_across_reads)
{
	struct wbuf w = { 0 };
	uint32_t itt = 7, dsl = 6000;
	uint8_t in[8192];
	size_t want = nop_in_len(dsl, true, true), got;

	c->p.header_digest = true;
	c->p.data_digest = true;
	put_nop(&w, itt, dsl, true, true);
	send_all(w.b, ISCSI_BHS_LEN + 4 + 1000);
	iscsi_conn_readable(c);
	ck_assert_int_eq(c->rx_state, ISCSI_RX_DATA);
	ck_assert_uint_eq(c->rx_off, 1000);
	ck_assert_uint_eq(c->rxb_head, c->rxb_tail);
	send_all(w.b + ISCSI_BHS_LEN + 4 + 1000, 3000);
	iscsi_conn_readable(c);
	ck_assert_uint_eq(c->rx_off, 4000);
	got = exchange(w.b + ISCSI_BHS_LEN + 4 + 4000, w.len - (ISCSI_BHS_LEN + 4 + 4000), 4096, in, want);
	ck_assert_uint_eq(got, want);
	check_nop_ins(in, got, &itt, &dsl, 1, true, true);
	free(w.b);
}
END_TEST

/* Large data segments (over ISCSI_RX_DIRECT_MIN) between small PDUs, with and
 * without digests, in one burst and in pieces: content and order intact, and a
 * corrupted large segment is still caught by its data digest. */
START_TEST(rx_large_segments)
{
	static const uint32_t dsls[] = { 8, 200000, 0, 65536, 70001, 12, 262144, 0 };
	static const size_t chunks[] = { 1u << 20, 65536, 4099 };
	uint32_t itts[8];
	const int n = 8;

	big_segments();
	for (size_t k = 0; k < sizeof(chunks) / sizeof(chunks[0]); k++) {
		for (int mode = 0; mode < 4; mode += 3) {
			bool hd = mode & 1, dd = mode & 2;
			struct wbuf w = { 0 };
			size_t want = 0, got;
			uint8_t *in;

			c->p.header_digest = hd;
			c->p.data_digest = dd;
			for (int i = 0; i < n; i++) {
				itts[i] = (uint32_t)(1000 * k + 10 * mode + i);
				put_nop(&w, itts[i], dsls[i], hd, dd);
				want += nop_in_len(dsls[i], hd, dd);
			}
			in = malloc(want + 64);
			got = exchange(w.b, w.len, chunks[k], in, want);
			ck_assert_uint_eq(got, want);
			check_nop_ins(in, got, itts, dsls, n, hd, dd);
			free(in);
			free(w.b);
		}
	}
	{
		/* a flipped byte deep inside a large segment: Reject 0x02, still in sync */
		struct wbuf w = { 0 };
		uint8_t *in;
		size_t got, want;
		uint32_t itt = 99, dsl = 0;

		c->p.header_digest = true;
		c->p.data_digest = true;
		put_nop(&w, 98, 150000, true, true);
		w.b[ISCSI_BHS_LEN + 4 + 140000] ^= 0x40;
		put_nop(&w, itt, dsl, true, true);
		want = ISCSI_BHS_LEN + 4 + ISCSI_BHS_LEN + 4 + nop_in_len(0, true, true);
		in = malloc(want + 64);
		got = exchange(w.b, w.len, 32768, in, want);
		ck_assert_uint_eq(got, want);
		ck_assert_uint_eq(iscsi_bhs_opcode(in), ISCSI_OP_REJECT);
		ck_assert_uint_eq(in[ISCSI_REJECT_REASON], ISCSI_REJECT_DATA_DIGEST);
		ck_assert_uint_eq(get_be32(in + ISCSI_BHS_LEN + 4 + ISCSI_BHS_ITT), 98);
		check_nop_ins(in + ISCSI_BHS_LEN + 4 + ISCSI_BHS_LEN + 4, nop_in_len(0, true, true), &itt, &dsl, 1, true,
			      true);
		free(in);
		free(w.b);
	}
}
END_TEST

/* More PDUs in the buffer than one wakeup may parse: the rest is parsed from
 * the idle hook although the socket holds nothing more. */
START_TEST(rx_budget_leftover_resumes)
{
	enum { N = 3 * ISCSI_RX_BUDGET + 5 };
	struct wbuf w = { 0 };
	uint32_t itts[N], dsls[N];
	size_t want = 0, got = 0;
	uint8_t *in;

	for (int i = 0; i < N; i++) {
		itts[i] = (uint32_t)i + 1;
		dsls[i] = (uint32_t)(i % 3) * 4;
		put_nop(&w, itts[i], dsls[i], false, false);
		want += nop_in_len(dsls[i], false, false);
	}
	in = malloc(want + 64);
	send_all(w.b, w.len);
	iscsi_conn_readable(c);
	ck_assert(c->rx_listed);
	ck_assert_uint_lt(c->rxb_head, c->rxb_tail);
	ck_assert_uint_eq(c->st_pdus_in, ISCSI_RX_BUDGET);
	/* only the reactor from here on: no more bytes on the socket */
	for (int i = 0; i < 20 && got < want; i++) {
		ssize_t n;
		reactor_poll_once(r, 10);
		while ((n = read(peer, in + got, want + 64 - got)) > 0)
			got += (size_t)n;
	}
	ck_assert_uint_eq(got, want);
	check_nop_ins(in, got, itts, dsls, N, false, false);
	ck_assert(!c->rx_listed);
	free(in);
	free(w.b);
}
END_TEST

/* The transmit throttle stops parsing with PDUs in the buffer: they are parsed
 * once the peer collected the answers. */
START_TEST(rx_throttle_leftover_resumes)
{
	enum { N = 40 };
	struct wbuf w = { 0 };
	uint32_t itts[N], dsls[N];
	size_t want = 0, got = 0;
	uint8_t *in;

	c->lim_tx_backlog = 1;          /* pause after every answer */
	for (int i = 0; i < N; i++) {
		itts[i] = (uint32_t)i + 500;
		dsls[i] = 16;
		put_nop(&w, itts[i], dsls[i], false, false);
		want += nop_in_len(dsls[i], false, false);
	}
	in = malloc(want + 64);
	send_all(w.b, w.len);
	iscsi_conn_readable(c);
	ck_assert(c->rx_paused);
	ck_assert(c->rx_listed);
	for (int i = 0; i < 10 * N && got < want; i++) {
		ssize_t n;
		reactor_poll_once(r, 10);
		while ((n = read(peer, in + got, want + 64 - got)) > 0)
			got += (size_t)n;
	}
	ck_assert_uint_eq(got, want);
	check_nop_ins(in, got, itts, dsls, N, false, false);
	free(in);
	free(w.b);
}
END_TEST

/* PDUs followed by EOF in the same read: all answered, then the close. */
START_TEST(rx_pdus_then_eof)
{
	struct wbuf w = { 0 };
	uint32_t itts[3] = { 1, 2, 3 }, dsls[3] = { 0, 10, 0 };
	uint8_t in[512];
	size_t want = 0, got = 0;
	ssize_t n;

	for (int i = 0; i < 3; i++) {
		put_nop(&w, itts[i], dsls[i], false, false);
		want += nop_in_len(dsls[i], false, false);
	}
	send_all(w.b, w.len);
	shutdown(peer, SHUT_WR);
	ck_assert(pump());
	while ((n = read(peer, in + got, sizeof(in) - got)) > 0)
		got += (size_t)n;
	/* the answers were queued before the close; a closing connection drops its
	 * queue, so what matters is that nothing broke: 0 or all of them */
	if (got) {
		ck_assert_uint_eq(got, want);
		check_nop_ins(in, got, itts, dsls, 3, false, false);
	}
	free(w.b);
}
END_TEST

/* ABORT TASK of a task the target does not have (RFC 7143 11.6.1 b, c). */
START_TEST(tmf_abort_unknown_task)
{
	/* window ExpCmdSN 100 .. MaxCmdSN 131, the TMF carries CmdSN 110 */
	ck_assert_uint_eq(iscsi_tmf_abort_unknown(105, 110, 100, 131), ISCSI_TMF_RSP_COMPLETE); /* not received yet */
	ck_assert_uint_eq(iscsi_tmf_abort_unknown(100, 110, 100, 131), ISCSI_TMF_RSP_COMPLETE);
	ck_assert_uint_eq(iscsi_tmf_abort_unknown(99, 110, 100, 131), ISCSI_TMF_RSP_NO_TASK);   /* answered already */
	ck_assert_uint_eq(iscsi_tmf_abort_unknown(50, 110, 100, 131), ISCSI_TMF_RSP_NO_TASK);
	ck_assert_uint_eq(iscsi_tmf_abort_unknown(110, 110, 100, 131), ISCSI_TMF_RSP_NO_TASK);  /* not older than the TMF */
	ck_assert_uint_eq(iscsi_tmf_abort_unknown(120, 110, 100, 131), ISCSI_TMF_RSP_NO_TASK);
	ck_assert_uint_eq(iscsi_tmf_abort_unknown(200, 250, 100, 131), ISCSI_TMF_RSP_NO_TASK);  /* beyond MaxCmdSN */
	/* an immediate TMF carries CmdSN = ExpCmdSN: nothing is older and in the window */
	ck_assert_uint_eq(iscsi_tmf_abort_unknown(99, 100, 100, 131), ISCSI_TMF_RSP_NO_TASK);
	/* serial number arithmetic across the wrap */
	ck_assert_uint_eq(iscsi_tmf_abort_unknown(0xfffffffeu, 3, 0xfffffff0u, 20), ISCSI_TMF_RSP_COMPLETE);
	ck_assert_uint_eq(iscsi_tmf_abort_unknown(0xffffffefu, 3, 0xfffffff0u, 20), ISCSI_TMF_RSP_NO_TASK);
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
	tcase_add_test(tc, outstanding_count);
	tcase_add_test(tc, tmf_abort_unknown_task);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(rx, setup, teardown);
	tcase_add_test(rx, rx_truncated_then_complete);
	tcase_add_test(rx, rx_tracks_exp_stat_sn);
	tcase_add_test(rx, rx_bad_opcode_rejected);
	tcase_add_test(rx, rx_bad_ahs_rejected_stays_in_sync);
	tcase_add_test(rx, rx_oversize_dsl_drops);
	tcase_add_test(rx, rx_command_during_login_drops);
	tcase_add_test(rx, rx_header_digest);
	tcase_add_test(rx, rx_data_digest);
	tcase_add_test(rx, rx_peer_close);
	tcase_add_test(rx, rx_garbage_never_crashes);
	tcase_add_test(rx, rx_many_pdus_one_read);
	tcase_add_test(rx, rx_byte_by_byte_and_split);
	tcase_add_test(rx, rx_data_split_across_reads);
	tcase_add_test(rx, rx_large_segments);
	tcase_add_test(rx, rx_budget_leftover_resumes);
	tcase_add_test(rx, rx_throttle_leftover_resumes);
	tcase_add_test(rx, rx_pdus_then_eof);
	tcase_set_timeout(rx, 60);
	suite_add_tcase(s, rx);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
