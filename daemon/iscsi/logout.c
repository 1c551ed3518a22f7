/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logout (RFC 7143 11.14, 11.15) and the target's Async Message asking an
 * initiator to log out (RFC 7143 11.9, AsyncEvent 1). */
#include "iscsi/iscsi_int.h"
#include <string.h>

static void close_conn_sent(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	iscsi_conn_close(c, "logged out");
}

static void close_session_sent(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	struct iscsi_session *s = c->sess;

	if (s)
		iscsi_session_kill(s, "session logged out");
	else
		iscsi_conn_close(c, "logged out");
}

int iscsi_op_logout(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen)
{
	uint8_t reason = bhs[ISCSI_BHS_FLAGS] & ISCSI_LOGOUT_REASON_MASK;
	uint16_t cid = get_be16(bhs + ISCSI_LOGOUT_CID);
	uint8_t response = ISCSI_LOGOUT_RSP_OK;
	void (*after)(struct iscsi_conn *, struct iscsi_txpdu *) = NULL;
	struct iscsi_session *s = c->sess;
	struct iscsi_txpdu *p;

	if (!iscsi_session_cmdsn_check(c, bhs))
		return 0;
	switch (reason) {
	case ISCSI_LOGOUT_CLOSE_SESSION:
		after = close_session_sent;
		break;
	case ISCSI_LOGOUT_CLOSE_CONN:
		if (cid == c->cid) {
			after = close_conn_sent;
		} else {
			struct iscsi_conn *o = NULL;
			pthread_mutex_lock(&g_iscsi.lock);
			for (o = s ? s->conns : NULL; o; o = o->snext)
				if (o->cid == cid && o != c)
					break;
			pthread_mutex_unlock(&g_iscsi.lock);
			if (o) {
				o->state = ISCSI_CONN_LOGOUT;   /* no session failure */
				iscsi_conn_close(o, "logged out by another connection");
			}
			else
				response = ISCSI_LOGOUT_RSP_NO_CID;
		}
		break;
	case ISCSI_LOGOUT_REMOVE_CONN:
		/* RFC 7143 11.14.1: recovery needs ErrorRecoveryLevel 2 */
		response = ISCSI_LOGOUT_RSP_NO_RECOVERY;
		break;
	default:
		qb_log(LOG_NOTICE, "iscsi: %s: logout reason %u invalid", c->peer, reason);
		iscsi_send_reject(c, bhs, ISCSI_REJECT_INVALID_PDU_FIELD);
		return 0;
	}
	p = iscsi_pdu_get(c);
	if (!p) {
		iscsi_conn_close(c, "out of memory for a logout response");
		return -1;
	}
	p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_LOGOUT_RSP;
	p->bhs[ISCSI_BHS_FLAGS] = ISCSI_FLAG_FINAL;
	p->bhs[ISCSI_RSP_BYTE] = response;
	put_be32(p->bhs + ISCSI_BHS_ITT, get_be32(bhs + ISCSI_BHS_ITT));
	iscsi_pdu_set_sn(c, p->bhs, true);
	if (s && response != ISCSI_LOGOUT_RSP_OK) {
		put_be16(p->bhs + ISCSI_LOGOUT_TIME2WAIT, (uint16_t)s->p.default_time2wait);
		put_be16(p->bhs + ISCSI_LOGOUT_TIME2RETAIN, (uint16_t)s->p.default_time2retain);
	}
	p->sent = after;
	if (after)
		c->state = ISCSI_CONN_LOGOUT;
	qb_log(LOG_DEBUG, "iscsi: %s: logout reason %u cid %u -> response %u", c->peer, reason, cid, response);
	iscsi_pdu_queue(c, p);
	return 0;
}

void iscsi_send_async_logout(struct iscsi_conn *c, uint16_t time2wait)
{
	struct iscsi_txpdu *p = iscsi_pdu_get(c);

	if (!p)
		return;
	p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_ASYNC_MSG;
	p->bhs[ISCSI_BHS_FLAGS] = ISCSI_FLAG_FINAL;
	put_be32(p->bhs + ISCSI_BHS_ITT, ISCSI_RSVD_TAG);
	iscsi_pdu_set_sn(c, p->bhs, true);
	p->bhs[ISCSI_ASYNC_EVENT] = ISCSI_ASYNC_LOGOUT_REQUEST;
	/* RFC 7143 11.9.1: Parameter3 = seconds the initiator has to log out */
	put_be16(p->bhs + ISCSI_ASYNC_PARAM3, time2wait);
	iscsi_pdu_queue(c, p);
}
