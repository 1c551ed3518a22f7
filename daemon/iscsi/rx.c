/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Receive side of a connection: the non-blocking PDU state machine (BHS, AHS,
 * header digest, data segment, data digest), header validation and the opcode
 * dispatch table. Partial reads just return and resume on the next wakeup.
 *
 * Reads are bulk: one read() fills the connection's receive buffer (rxb) and
 * the machine parses every complete PDU in it. Headers are copied out of the
 * buffer into c->rx_hdr, data segments into their destination (task buffer at
 * the Buffer Offset, or a segment of their own); the part of a data segment not
 * in the buffer yet is read in place by one readv that also refills the buffer
 * with what follows, so large transfers are not copied. After a large segment
 * the next header is read with a small read (ISCSI_RX_SPILL) so that the next
 * large segment goes in place too. A short read means the socket is drained:
 * the wakeup ends without the extra read that would return EAGAIN. PDUs left
 * in the buffer when the per-wakeup budget (or the transmit throttle) stops
 * parsing are resumed from the reactor's idle hook. */
#include "iscsi/iscsi_int.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include "util/bufpool.h"
#include "util/stat.h"

/* RFC 7143 11.2.1.2: the opcodes an initiator may send. */
const struct iscsi_op iscsi_ops[ISCSI_OP_MAX] = {
	[ISCSI_OP_NOP_OUT] = { .name = "NOP-Out", .handler = iscsi_op_nop_out },
	[ISCSI_OP_SCSI_CMD] = { .name = "SCSI Command", .hdr = iscsi_op_scsi_cmd_hdr, .handler = iscsi_op_scsi_cmd,
				.digest_error = iscsi_op_scsi_cmd_digest_error },
	[ISCSI_OP_TMF_REQ] = { .name = "Task Management", .handler = iscsi_op_tmf },
	[ISCSI_OP_LOGIN_REQ] = { .name = "Login", .handler = iscsi_op_login, .login_ok = true },
	[ISCSI_OP_TEXT_REQ] = { .name = "Text", .handler = iscsi_op_text },
	[ISCSI_OP_DATA_OUT] = { .name = "SCSI Data-Out", .hdr = iscsi_op_data_out_hdr, .handler = iscsi_op_data_out,
				.digest_error = iscsi_op_data_out_digest_error },
	[ISCSI_OP_LOGOUT_REQ] = { .name = "Logout", .handler = iscsi_op_logout },
	[ISCSI_OP_SNACK_REQ] = { .name = "SNACK" },  /* ERL 0: rejected (RFC 7143 11.16) */
};

const char *iscsi_opcode_name(uint8_t op)
{
	static const char *const tnames[ISCSI_OP_MAX] = {
		[ISCSI_OP_NOP_IN] = "NOP-In", [ISCSI_OP_SCSI_RSP] = "SCSI Response",
		[ISCSI_OP_TMF_RSP] = "Task Management Response", [ISCSI_OP_LOGIN_RSP] = "Login Response",
		[ISCSI_OP_TEXT_RSP] = "Text Response", [ISCSI_OP_DATA_IN] = "SCSI Data-In",
		[ISCSI_OP_LOGOUT_RSP] = "Logout Response", [ISCSI_OP_R2T] = "R2T",
		[ISCSI_OP_ASYNC_MSG] = "Async Message", [ISCSI_OP_REJECT] = "Reject",
	};
	op &= ISCSI_OPCODE_MASK;
	if (iscsi_ops[op].name)
		return iscsi_ops[op].name;
	return tnames[op] ? tnames[op] : "unknown";
}

enum iscsi_bhs_verdict iscsi_pdu_check_bhs(const uint8_t *bhs, bool full_feature, uint32_t max_recv_dsl,
					   uint8_t *reason, const char **why)
{
	uint8_t op = iscsi_bhs_opcode(bhs);
	uint32_t dsl = iscsi_bhs_dsl(bhs);
	const char *dummy;

	if (!why)
		why = &dummy;
	*reason = 0;
	/* RFC 7143 6.3: only Login PDUs before the login phase ended; anything else is
	 * a protocol error and the target closes the connection. */
	if (!full_feature) {
		if (op != ISCSI_OP_LOGIN_REQ) {
			*why = "non-login PDU during login";
			return ISCSI_BHS_DROP;
		}
		if (iscsi_bhs_ahs_len(bhs)) {
			*why = "AHS in a login PDU";
			return ISCSI_BHS_DROP;
		}
		if (dsl > ISCSI_LOGIN_DSL) {  /* RFC 7143 13.12: 8192 during login */
			*why = "login data segment exceeds 8192";
			return ISCSI_BHS_DROP;
		}
		return ISCSI_BHS_OK;
	}
	/* RFC 7143 13.12: a data segment longer than MaxRecvDataSegmentLength is a
	 * protocol error; we close the connection rather than read it. */
	if (dsl > max_recv_dsl) {
		*why = "DataSegmentLength exceeds MaxRecvDataSegmentLength";
		return ISCSI_BHS_DROP;
	}
	if (!iscsi_ops[op].handler) {
		*why = op == ISCSI_OP_SNACK_REQ ? "SNACK not supported at ErrorRecoveryLevel 0" : "unknown opcode";
		*reason = ISCSI_REJECT_CMD_NOT_SUPPORTED;  /* RFC 7143 11.17.1 */
		return ISCSI_BHS_REJECT;
	}
	if (op == ISCSI_OP_LOGIN_REQ) {
		*why = "login PDU in full feature phase";
		*reason = ISCSI_REJECT_PROTOCOL_ERROR;
		return ISCSI_BHS_REJECT;
	}
	/* Only SCSI commands carry AHS (extended CDB, bidi read length: RFC 7143 11.3.1). */
	if (iscsi_bhs_ahs_len(bhs) && op != ISCSI_OP_SCSI_CMD) {
		*why = "AHS on a PDU that takes none";
		*reason = ISCSI_REJECT_INVALID_PDU_FIELD;
		return ISCSI_BHS_REJECT;
	}
	switch (op) {
	case ISCSI_OP_TMF_REQ:
	case ISCSI_OP_LOGOUT_REQ:
		/* RFC 7143 11.5, 11.14: no data segment */
		if (dsl) {
			*why = "data segment on TMF/Logout";
			*reason = ISCSI_REJECT_INVALID_PDU_FIELD;
			return ISCSI_BHS_REJECT;
		}
		if (!(bhs[ISCSI_BHS_FLAGS] & ISCSI_FLAG_FINAL)) {
			*why = "F bit clear on TMF/Logout";
			*reason = ISCSI_REJECT_INVALID_PDU_FIELD;
			return ISCSI_BHS_REJECT;
		}
		break;
	case ISCSI_OP_SCSI_CMD:
		/* RFC 7143 11.3.1: W and R both set = bidirectional, which we do not do */
		if ((bhs[ISCSI_BHS_FLAGS] & (ISCSI_CMD_READ | ISCSI_CMD_WRITE)) == (ISCSI_CMD_READ | ISCSI_CMD_WRITE)) {
			*why = "bidirectional command";
			*reason = ISCSI_REJECT_CMD_NOT_SUPPORTED;
			return ISCSI_BHS_REJECT;
		}
		if (dsl && !(bhs[ISCSI_BHS_FLAGS] & ISCSI_CMD_WRITE)) {
			*why = "immediate data on a command without W bit";
			*reason = ISCSI_REJECT_PROTOCOL_ERROR;
			return ISCSI_BHS_REJECT;
		}
		break;
	case ISCSI_OP_NOP_OUT:
		/* RFC 7143 11.18: ITT 0xffffffff requires the I bit */
		if (get_be32(bhs + ISCSI_BHS_ITT) == ISCSI_RSVD_TAG && !iscsi_bhs_immediate(bhs)) {
			*why = "NOP-Out with reserved ITT but without I bit";
			*reason = ISCSI_REJECT_PROTOCOL_ERROR;
			return ISCSI_BHS_REJECT;
		}
		break;
	default:
		break;
	}
	return ISCSI_BHS_OK;
}

static void rx_reset(struct iscsi_conn *c)
{
	if (c->rx_own) {
		buf_free(c->rx_own, c->rx_own_len);
		c->rx_own = NULL;
	}
	c->rx_state = ISCSI_RX_HDR;
	c->rx_off = 0;
	c->rx_data = NULL;
	c->rx_discard = false;
	c->rx_task = NULL;
	c->rx_reject_reason = 0;
}

/* ---- the receive buffer and the socket ---- */

static inline uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* Result of a read()/readv() of `asked` bytes: 1 data (a short read marks the
 * socket drained), 0 drained (EAGAIN), 2 interrupted, -1 connection closed. */
static int rx_io_result(struct iscsi_conn *c, ssize_t n, size_t asked)
{
	if (n > 0) {
		if ((size_t)n < asked)
			c->rx_drained = true;
		return 1;
	}
	if (n == 0) {
		iscsi_conn_close(c, "peer closed the connection");
		return -1;
	}
	if (errno == EINTR)
		return 2;
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->rx_drained = true;
		return 0;
	}
	qb_log(LOG_INFO, "iscsi: %s: read: %s", c->peer, strerror(errno));
	iscsi_conn_close(c, "read error");
	return -1;
}

/* Refill the (fully parsed) buffer with up to `want` bytes. Returns 1 when
 * bytes came, 0 when the socket is drained, -1 when the connection is gone. */
static int rxb_fill(struct iscsi_conn *c, uint32_t want)
{
	if (c->rx_drained)
		return 0;
	c->rxb_head = c->rxb_tail = 0;
	for (;;) {
		ssize_t n = read(c->fd, c->rxb, want);
		int r = rx_io_result(c, n, want);
		if (r == 2)
			continue;
		if (r == 1)
			c->rxb_tail = (uint32_t)n;
		return r;
	}
}

/* Size of the next read at a header: small right after a large data segment
 * (the next one probably is large too and should land in place). */
static uint32_t rx_hdr_read_size(const struct iscsi_conn *c)
{
	return c->rx_big ? ISCSI_RX_SPILL : ISCSI_RXBUF_SIZE;
}

/* Copy header bytes buf[c->rx_off .. len) out of the receive buffer, reading
 * more when it runs dry. Returns 1 when complete, 0 when the socket is drained,
 * -1 when the connection is gone. */
static int rx_gather(struct iscsi_conn *c, uint8_t *buf, uint32_t len)
{
	while (c->rx_off < len) {
		uint32_t n = min_u32(c->rxb_tail - c->rxb_head, len - c->rx_off);
		int r;

		if (n) {
			memcpy(buf + c->rx_off, c->rxb + c->rxb_head, n);
			c->rxb_head += n;
			c->rx_off += n;
			continue;
		}
		r = rxb_fill(c, rx_hdr_read_size(c));
		if (r <= 0)
			return r;
	}
	return 1;
}

/* The rest of the data segment (from c->rx_off), its pad and data digest with
 * one readv straight into place; what the socket holds beyond the PDU goes into
 * the (empty) receive buffer in the same call. Needs rx_data and rx_off < dsl. */
static int rx_read_direct(struct iscsi_conn *c, uint32_t end_pad, uint32_t total)
{
	struct iovec iov[4];
	uint32_t direct = total - c->rx_off;
	uint32_t spill = c->rx_big ? ISCSI_RX_SPILL : ISCSI_RXBUF_SIZE;
	int n = 0;

	iov[n].iov_base = c->rx_data + c->rx_off;
	iov[n++].iov_len = c->rx_dsl - c->rx_off;
	if (c->rx_pad) {
		iov[n].iov_base = c->rx_padbuf;
		iov[n++].iov_len = c->rx_pad;
	}
	if (total > end_pad) {
		iov[n].iov_base = c->rx_digest;
		iov[n++].iov_len = total - end_pad;
	}
	iov[n].iov_base = c->rxb;
	iov[n++].iov_len = spill;
	c->rxb_head = c->rxb_tail = 0;
	for (;;) {
		ssize_t got = readv(c->fd, iov, n);
		int r = rx_io_result(c, got, (size_t)direct + spill);
		if (r == 2)
			continue;
		if (r == 1) {
			if ((uint32_t)got <= direct) {
				c->rx_off += (uint32_t)got;
			} else {
				c->rx_off = total;
				c->rxb_tail = (uint32_t)got - direct;
			}
		}
		return r;
	}
}

/* Data segment + pad + data digest: what the buffer holds is copied into place
 * (the data segment into rx_data, or nowhere when it is discarded: the receive
 * buffer is the bit bucket), the rest is read in place. Returns 1 when the PDU
 * is complete, 0 when the socket is drained, -1 when the connection is gone. */
static int rx_fill_data(struct iscsi_conn *c)
{
	/* RFC 7143 11.1: a PDU without a data segment carries no data digest */
	uint32_t dig = c->p.data_digest && c->rx_dsl ? ISCSI_DIGEST_LEN : 0;
	uint32_t end_pad = c->rx_dsl + c->rx_pad;
	uint32_t total = end_pad + dig;

	while (c->rx_off < total) {
		uint32_t avail = c->rxb_tail - c->rxb_head;
		const uint8_t *src = c->rxb + c->rxb_head;
		uint32_t n;
		int r;

		if (avail) {
			if (c->rx_off < c->rx_dsl) {
				n = min_u32(avail, c->rx_dsl - c->rx_off);
				if (c->rx_data)
					memcpy(c->rx_data + c->rx_off, src, n);
			} else if (c->rx_off < end_pad) {
				n = min_u32(avail, end_pad - c->rx_off);
				memcpy(c->rx_padbuf + (c->rx_off - c->rx_dsl), src, n);
			} else {
				n = min_u32(avail, total - c->rx_off);
				memcpy(c->rx_digest + (c->rx_off - end_pad), src, n);
			}
			c->rxb_head += n;
			c->rx_off += n;
			continue;
		}
		if (c->rx_data && c->rx_off < c->rx_dsl)
			r = c->rx_drained ? 0 : rx_read_direct(c, end_pad, total);
		else
			r = rxb_fill(c, ISCSI_RXBUF_SIZE);
		if (r <= 0)
			return r;
	}
	return 1;
}

/* ---- resuming buffered PDUs from the idle hook ---- */

static void rx_unlist(struct iscsi_reactor *ir, struct iscsi_conn *c)
{
	if (!c->rx_listed)
		return;
	if (c->rx_prev)
		c->rx_prev->rx_next = c->rx_next;
	else
		ir->rx_head = c->rx_next;
	if (c->rx_next)
		c->rx_next->rx_prev = c->rx_prev;
	else
		ir->rx_tail = c->rx_prev;
	c->rx_next = c->rx_prev = NULL;
	c->rx_listed = false;
}

static void rx_list(struct iscsi_reactor *ir, struct iscsi_conn *c)
{
	if (c->rx_listed)
		return;
	c->rx_stamp = ir->rx_pass;
	c->rx_next = NULL;
	c->rx_prev = ir->rx_tail;
	if (ir->rx_tail)
		ir->rx_tail->rx_next = c;
	else
		ir->rx_head = c;
	ir->rx_tail = c;
	c->rx_listed = true;
}

/* After parsing stopped: list the connection when PDUs wait in its buffer. */
static void rx_update_pending(struct iscsi_conn *c)
{
	struct iscsi_reactor *ir;
	bool want = !c->closing && !c->migrating && c->rxb && c->rxb_head < c->rxb_tail;

	if (want == c->rx_listed)
		return;
	ir = iscsi_reactor_get(c->r);
	if (!ir)
		return;
	if (want)
		rx_list(ir, c);
	else
		rx_unlist(ir, c);
}

void iscsi_rx_kick(struct iscsi_conn *c)
{
	rx_update_pending(c);
}

void iscsi_rx_release(struct iscsi_conn *c)
{
	if (c->rx_listed) {
		struct iscsi_reactor *ir = iscsi_reactor_get(c->r);
		if (ir)
			rx_unlist(ir, c);
	}
	if (c->rxb) {
		buf_free(c->rxb, ISCSI_RXBUF_SIZE);
		c->rxb = NULL;
	}
	c->rxb_head = c->rxb_tail = 0;
}

void iscsi_rx_run_pending(struct iscsi_reactor *ir)
{
	uint32_t pass = ++ir->rx_pass;
	struct iscsi_conn *c;

	/* each connection listed before this pass gets one more budget; those
	 * relisted now wait for the next pass (after an epoll round) */
	while ((c = ir->rx_head) && c->rx_stamp != pass) {
		rx_unlist(ir, c);
		if (c->rx_paused) {
			rx_list(ir, c);      /* until the peer collects its responses */
			continue;
		}
		iscsi_conn_readable(c);
		if (c->migrating) {
			/* as conn_event does: nothing on this thread touches c after the post */
			reactor_post(c->migrate_to, c->migrate_fn, c->migrate_arg);
		}
	}
}

static void rx_wake_noop(void *arg)
{
	(void)arg;
}

void iscsi_rx_wake_pending(struct iscsi_reactor *ir)
{
	/* the socket may be empty: do not sleep in epoll_wait while parsing can go on */
	for (struct iscsi_conn *c = ir->rx_head; c; c = c->rx_next)
		if (!c->rx_paused) {
			reactor_post(ir->r, rx_wake_noop, NULL);
			return;
		}
}

/* ---- PDU assembly ---- */

/* Header complete (and its digest checked): validate, decide where the data goes. */
static int rx_header_done(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	uint8_t op = iscsi_bhs_opcode(bhs), reason;
	const char *why = NULL;
	bool ffp = c->state != ISCSI_CONN_LOGIN;
	enum iscsi_bhs_verdict v;

	c->rx_dsl = iscsi_bhs_dsl(bhs);
	c->rx_pad = iscsi_pad4(c->rx_dsl);
	c->rx_data = NULL;
	c->rx_big = c->rx_dsl >= ISCSI_RX_DIRECT_MIN;
	v = iscsi_pdu_check_bhs(bhs, ffp, ffp ? c->p.max_recv_dsl : ISCSI_LOGIN_DSL, &reason, &why);
	if (v == ISCSI_BHS_DROP) {
		qb_log(LOG_WARNING, "iscsi: %s: %s (opcode 0x%02x, DSL %u): closing connection", c->peer, why, op,
		       c->rx_dsl);
		STAT_INC(c->st_errors);
		iscsi_conn_close(c, why);
		return -1;
	}
	if (v == ISCSI_BHS_REJECT) {
		qb_log(LOG_NOTICE, "iscsi: %s: %s (opcode 0x%02x): Reject reason 0x%02x", c->peer, why, op, reason);
		STAT_INC(c->st_errors);
		iscsi_send_reject(c, bhs, reason);
		c->rx_discard = true;
		return 0;
	}
	if (iscsi_ops[op].hdr) {
		if (iscsi_ops[op].hdr(c) < 0)
			return -1;
		if (c->rx_discard)
			c->rx_data = NULL;
		return 0;
	}
	if (c->rx_dsl) {
		c->rx_own_len = c->rx_dsl;
		c->rx_own = buf_alloc(c->rx_dsl);
		if (!c->rx_own) {
			iscsi_conn_close(c, "out of memory for a data segment");
			return -1;
		}
		c->rx_data = c->rx_own;
	}
	return 0;
}

static uint32_t rx_data_crc(struct iscsi_conn *c)
{
	uint32_t crc = iscsi_crc32c_update(ISCSI_CRC32C_INIT, c->rx_data, c->rx_dsl);
	if (c->rx_pad)
		crc = iscsi_crc32c_update(crc, c->rx_padbuf, c->rx_pad);
	return iscsi_crc32c_final(crc);
}

uint32_t iscsi_outstanding(uint32_t stat_sn, uint32_t exp_stat_sn, uint32_t ntasks, uint32_t window)
{
	uint32_t unacked = stat_sn - exp_stat_sn;       /* serial arithmetic (RFC 1982) */

	if (unacked > window)
		unacked = 0;
	return ntasks + unacked;
}

/* RFC 7143: every PDU of the initiator carries ExpStatSN, its acknowledgement
 * of the responses up to ExpStatSN - 1 (StatSN). Only a forward move up to
 * what was sent is taken. */
static void rx_note_exp_stat_sn(struct iscsi_conn *c, const uint8_t *bhs)
{
	uint32_t e = get_be32(bhs + ISCSI_BHS_EXPSTATSN);

	if (iscsi_sn_gt(e, c->exp_stat_sn) && !iscsi_sn_lt(c->stat_sn, e))
		c->exp_stat_sn = e;
}

/* A command arrived: with a deep pipeline (the initiator keeps many commands
 * outstanding and sends more), the reactor pauses before its next wait and
 * takes what arrives meanwhile as one batch (reactor_batch_hint). At a low
 * queue depth nothing waits: a lone command is answered at once. Only small
 * transfers ask for it: their cost is per command (wakeups, system calls,
 * packets), which batching divides; a large one's is its data, and a pause
 * only delays it (128K writes at QD32: 10% fewer IOPS with the pause). */
#define ISCSI_COALESCE_MAX_XFER (32u << 10)
static void rx_note_load(struct iscsi_conn *c, const uint8_t *bhs)
{
	if (c->coalesce_us && c->sess && get_be32(bhs + ISCSI_BHS_EDTL) <= ISCSI_COALESCE_MAX_XFER &&
	    iscsi_outstanding(c->stat_sn, c->exp_stat_sn, (uint32_t)c->ntasks, c->sess->window) >= c->coalesce_depth)
		reactor_batch_hint(c->r, c->coalesce_us);
}

/* Whole PDU is in: check the data digest and dispatch. */
static int rx_pdu_done(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	uint8_t op = iscsi_bhs_opcode(bhs);
	iscsi_pdu_fn fn = iscsi_ops[op].handler;
	int rc = 0;

	STAT_INC(c->st_pdus_in);
	c->last_rx_ms = reactor_now_ms();
	if (c->rx_discard) {
		/* rejected at header time, or its data went nowhere */
		if (c->rx_task) {
			iscsi_task_put(c->rx_task);
			c->rx_task = NULL;
		}
		rx_reset(c);
		return 0;
	}
	if (c->p.data_digest && c->rx_dsl && c->rx_data) {
		uint32_t want = rx_data_crc(c);
		uint32_t got = (uint32_t)c->rx_digest[0] | (uint32_t)c->rx_digest[1] << 8 |
			       (uint32_t)c->rx_digest[2] << 16 | (uint32_t)c->rx_digest[3] << 24;
		if (want != got) {
			/* RFC 7143 7.8.1: data digest error -> discard the PDU, Reject 0x02;
			 * the opcode's digest_error ends what its header started */
			qb_log(LOG_WARNING, "iscsi: %s: data digest error on %s (ITT 0x%08x)", c->peer,
			       iscsi_opcode_name(op), get_be32(bhs + ISCSI_BHS_ITT));
			STAT_INC(c->st_errors);
			iscsi_send_reject(c, bhs, ISCSI_REJECT_DATA_DIGEST);
			fn = iscsi_ops[op].digest_error;
		}
	}
	if (c->state == ISCSI_CONN_FULL)
		rx_note_exp_stat_sn(c, bhs);
	if (fn)
		rc = fn(c, bhs, c->rx_data, c->rx_dsl);
	if (!c->closing) {
		if (op == ISCSI_OP_SCSI_CMD)
			rx_note_load(c, bhs);
		rx_reset(c);
	}
	return rc;
}

/* Parse PDUs until the budget is spent or the socket is drained. */
static void rx_parse(struct iscsi_conn *c)
{
	int budget = ISCSI_RX_BUDGET;
	uint32_t bytes = 0;
	int r;

	while (!c->closing && !c->migrating && budget > 0) {
		switch (c->rx_state) {
		case ISCSI_RX_HDR:
			if (c->rx_off == 0 && iscsi_conn_rx_throttle(c))
				return;
			r = rx_gather(c, c->rx_hdr, ISCSI_BHS_LEN);
			if (r <= 0)
				return;
			c->rx_ahs = iscsi_bhs_ahs_len(c->rx_hdr);
			c->rx_off = 0;
			c->rx_state = c->rx_ahs ? ISCSI_RX_AHS : ISCSI_RX_HDR_DIGEST;
			break;
		case ISCSI_RX_AHS:
			r = rx_gather(c, c->rx_hdr + ISCSI_BHS_LEN, c->rx_ahs);
			if (r <= 0)
				return;
			c->rx_off = 0;
			c->rx_state = ISCSI_RX_HDR_DIGEST;
			break;
		case ISCSI_RX_HDR_DIGEST:
			if (c->p.header_digest) {
				uint32_t want, got;
				r = rx_gather(c, c->rx_digest, ISCSI_DIGEST_LEN);
				if (r <= 0)
					return;
				want = iscsi_crc32c(c->rx_hdr, ISCSI_BHS_LEN + c->rx_ahs);
				got = (uint32_t)c->rx_digest[0] | (uint32_t)c->rx_digest[1] << 8 |
				      (uint32_t)c->rx_digest[2] << 16 | (uint32_t)c->rx_digest[3] << 24;
				if (want != got) {
					/* RFC 7143 7.8.1: a header digest error leaves the
					 * PDU boundary unknown: at ERL 0 the connection goes. */
					qb_log(LOG_WARNING, "iscsi: %s: header digest error: closing connection",
					       c->peer);
					STAT_INC(c->st_errors);
					iscsi_conn_close(c, "header digest error");
					return;
				}
			}
			c->rx_off = 0;
			if (rx_header_done(c) < 0)
				return;
			c->rx_state = ISCSI_RX_DATA;
			break;
		case ISCSI_RX_DATA:
		case ISCSI_RX_DATA_DIGEST:
			r = rx_fill_data(c);
			if (r <= 0)
				return;
			budget--;
			bytes += c->rx_dsl;
			if (rx_pdu_done(c) < 0)
				return;
			/* a queue depth of large writes must not be read in one turn
			 * before the first of them reaches the backend (the idle hooks
			 * submit): the turn ends, the rest resumes next turn */
			if (bytes >= ISCSI_RX_BYTE_BUDGET)
				return;
			break;
		}
	}
}

void iscsi_conn_readable(struct iscsi_conn *c)
{
	if (c->closing || c->migrating)
		return;
	if (!c->rxb) {
		/* the first wakeup of the connection */
		c->rxb = buf_alloc(ISCSI_RXBUF_SIZE);
		if (!c->rxb) {
			iscsi_conn_close(c, "out of memory for the receive buffer");
			return;
		}
		c->rxb_head = c->rxb_tail = 0;
	}
	c->rx_drained = false;
	rx_parse(c);
	rx_update_pending(c);
}
