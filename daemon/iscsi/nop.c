/* SPDX-License-Identifier: GPL-2.0-or-later */
/* NOP-Out / NOP-In (RFC 7143 11.18, 11.19): echo pings, and target-initiated
 * pings on idle connections that drop a connection which stopped answering. */
#include "iscsi/iscsi_int.h"
#include <string.h>

int iscsi_op_nop_out(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen)
{
	uint32_t itt = get_be32(bhs + ISCSI_BHS_ITT);
	uint32_t ttt = get_be32(bhs + ISCSI_BHS_TTT);
	struct iscsi_txpdu *p;

	if (!iscsi_session_cmdsn_check(c, bhs))
		return 0;
	if (itt == ISCSI_RSVD_TAG) {
		/* RFC 7143 11.18.2: an answer to our NOP-In, or a ping wanting no reply */
		if (ttt != ISCSI_RSVD_TAG && ttt == c->nop_ttt)
			c->nop_outstanding = false;
		return 0;
	}
	if (ttt != ISCSI_RSVD_TAG) {
		/* RFC 7143 11.18.3: an initiator ping carries TTT 0xffffffff */
		iscsi_send_reject(c, bhs, ISCSI_REJECT_INVALID_PDU_FIELD);
		return 0;
	}
	p = iscsi_pdu_get(c);
	if (!p) {
		iscsi_conn_close(c, "out of memory for a NOP-In");
		return -1;
	}
	p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_NOP_IN;
	p->bhs[ISCSI_BHS_FLAGS] = ISCSI_FLAG_FINAL;
	memcpy(p->bhs + ISCSI_BHS_LUN, bhs + ISCSI_BHS_LUN, 8);
	put_be32(p->bhs + ISCSI_BHS_ITT, itt);
	put_be32(p->bhs + ISCSI_BHS_TTT, ISCSI_RSVD_TAG);
	iscsi_pdu_set_sn(c, p->bhs, true);
	if (dlen && data && data == c->rx_own) {
		/* RFC 7143 11.19.1: return the ping data; the segment buffer moves to the PDU */
		uint32_t max = c->p.max_xmit_dsl ? c->p.max_xmit_dsl : 8192;
		p->own = c->rx_own;
		p->own_len = c->rx_own_len;
		c->rx_own = NULL;
		p->data = data;
		p->dlen = dlen < max ? dlen : max;
	}
	iscsi_pdu_queue(c, p);
	return 0;
}

/* Every second: ping an idle connection, drop it when pings go unanswered. */
int iscsi_nop_timer(struct reactor *r, void *arg)
{
	struct iscsi_conn *c = arg;
	uint64_t now = reactor_now_ms();
	struct iscsi_txpdu *p;

	if (c->closing || c->state != ISCSI_CONN_FULL) {
		c->nop_timer = NULL;
		return -1;
	}
	if (c->nop_outstanding) {
		if (c->last_rx_ms >= c->nop_sent_ms) {
			c->nop_outstanding = false;
		} else if (c->nop_timeout > 0 && now - c->nop_sent_ms >= (uint64_t)c->nop_timeout * 1000) {
			qb_log(LOG_WARNING, "iscsi: %s: no answer to NOP-In for %d s: closing connection", c->peer,
			       c->nop_timeout);
			c->nop_timer = NULL;
			iscsi_conn_close(c, "NOP-In timeout");
			return -1;
		}
	}
	if (!c->nop_outstanding && c->nop_interval > 0 && now - c->last_rx_ms >= (uint64_t)c->nop_interval * 1000) {
		p = iscsi_pdu_get(c);
		if (!p)
			return 1000;
		if (++c->nop_ttt == ISCSI_RSVD_TAG)
			c->nop_ttt = 1;
		p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_NOP_IN;
		p->bhs[ISCSI_BHS_FLAGS] = ISCSI_FLAG_FINAL;
		put_be32(p->bhs + ISCSI_BHS_ITT, ISCSI_RSVD_TAG);
		put_be32(p->bhs + ISCSI_BHS_TTT, c->nop_ttt);
		iscsi_pdu_set_sn(c, p->bhs, false);   /* RFC 7143 11.19: StatSN not advanced */
		iscsi_pdu_queue(c, p);
		c->nop_outstanding = true;
		c->nop_sent_ms = now;
	}
	return 1000;
}
