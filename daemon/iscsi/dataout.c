/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Write data flow: R2T generation (MaxBurstLength per R2T, MaxOutstandingR2T
 * in flight) and SCSI Data-Out validation, with the payload read straight into
 * the task buffer at its Buffer Offset (RFC 7143 11.7, 11.8). */
#include "iscsi/iscsi_int.h"
#include <string.h>
#include "scsi/scsi_sense.h"
#include "util/stat.h"

/* RFC 7143 11.8: ask for the next MaxBurstLength chunks, up to MaxOutstandingR2T. */
void iscsi_task_send_r2ts(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_session *s = c->sess;
	uint32_t maxout = s->p.max_outstanding_r2t ? s->p.max_outstanding_r2t : 1;
	uint32_t burst = s->p.max_burst_length ? s->p.max_burst_length : 262144;

	if (maxout > ISCSI_MAX_R2T)
		maxout = ISCSI_MAX_R2T;
	while (t->next_r2t_off < t->want && (uint32_t)t->r2t_out < maxout && !c->closing) {
		struct iscsi_r2t *r = NULL;
		struct iscsi_txpdu *p;
		uint32_t len = t->want - t->next_r2t_off;

		for (int i = 0; i < ISCSI_MAX_R2T; i++)
			if (!t->r2t[i].active) {
				r = &t->r2t[i];
				break;
			}
		if (!r)
			break;
		p = iscsi_pdu_get(c);
		if (!p) {
			iscsi_conn_close(c, "out of memory for an R2T");
			return;
		}
		if (len > burst)
			len = burst;
		r->active = true;
		r->offset = t->next_r2t_off;
		r->len = len;
		r->got = 0;
		r->datasn = 0;
		r->r2tsn = t->r2tsn++;
		r->ttt = c->next_ttt++;
		if (r->ttt == ISCSI_RSVD_TAG)
			r->ttt = c->next_ttt++;
		t->next_r2t_off += len;
		t->r2t_out++;
		p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_R2T;
		p->bhs[ISCSI_BHS_FLAGS] = ISCSI_FLAG_FINAL;
		memcpy(p->bhs + ISCSI_BHS_LUN, t->lun_raw, 8);
		put_be32(p->bhs + ISCSI_BHS_ITT, t->itt);
		put_be32(p->bhs + ISCSI_BHS_TTT, r->ttt);
		iscsi_pdu_set_sn(c, p->bhs, false);  /* R2T does not advance StatSN */
		put_be32(p->bhs + ISCSI_BHS_DATASN, r->r2tsn);
		put_be32(p->bhs + ISCSI_BHS_BUFOFF, r->offset);
		put_be32(p->bhs + ISCSI_BHS_RESID, r->len);
		iscsi_pdu_queue(c, p);
	}
}

/* A Data-Out breaking its sequence (DataSN): at ERL 0 the command cannot be
 * recovered (RFC 7143 7.x); reject the PDU and end the command with CHECK
 * CONDITION so the initiator sees the failure instead of a hang: now, or at
 * its CmdSN turn when it waits for it (it takes no more data meanwhile). */
static int fail_sequence(struct iscsi_conn *c, struct iscsi_task *t, const char *why)
{
	const uint8_t *bhs = c->rx_hdr;

	qb_log(LOG_NOTICE, "iscsi: %s: Data-Out ITT 0x%08x DataSN %u: %s: command failed", c->peer, t->itt,
	       get_be32(bhs + ISCSI_BHS_DATASN), why);
	STAT_INC(c->st_errors);
	iscsi_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
	c->rx_discard = true;
	c->rx_task = NULL;
	if (t->in_order) {
		iscsi_task_fail(t, SK_ABORTED_COMMAND, ASC_DATA_PHASE_ERROR);
	} else {
		iscsi_task_fail_later(t, SK_ABORTED_COMMAND, ASC_DATA_PHASE_ERROR);
		t->data_refused = true;
	}
	return 0;
}

static int reject_data(struct iscsi_conn *c, const char *why, uint8_t reason)
{
	const uint8_t *bhs = c->rx_hdr;

	qb_log(LOG_NOTICE, "iscsi: %s: Data-Out ITT 0x%08x TTT 0x%08x offset %u len %u: %s", c->peer,
	       get_be32(bhs + ISCSI_BHS_ITT), get_be32(bhs + ISCSI_BHS_TTT), get_be32(bhs + ISCSI_BHS_BUFOFF),
	       c->rx_dsl, why);
	STAT_INC(c->st_errors);
	iscsi_send_reject(c, bhs, reason);
	c->rx_discard = true;
	c->rx_task = NULL;
	return 0;
}

/* Header of a Data-Out: find the task and the R2T it answers, check the range,
 * and aim the data segment at task->buf + BufferOffset. */
int iscsi_op_data_out_hdr(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	uint32_t itt = get_be32(bhs + ISCSI_BHS_ITT);
	uint32_t ttt = get_be32(bhs + ISCSI_BHS_TTT);
	uint32_t off = get_be32(bhs + ISCSI_BHS_BUFOFF);
	uint32_t len = c->rx_dsl;
	struct iscsi_task *t;
	struct iscsi_session *s = c->sess;

	if (!s)
		return reject_data(c, "no session", ISCSI_REJECT_PROTOCOL_ERROR);
	t = iscsi_task_find(c, itt);
	if (!t || t->dead || t->data_refused || t->scsi.dir != SCSI_DIR_WRITE ||
	    (t->state != ISCSI_TASK_PENDING && t->state != ISCSI_TASK_DATA))
		return reject_data(c, "no write task waiting for data with this ITT", ISCSI_REJECT_INVALID_PDU_FIELD);
	if (!t->scsi.buf)
		return reject_data(c, "task has no buffer", ISCSI_REJECT_INVALID_PDU_FIELD);
	if (len == 0) {
		t->refs++;          /* released in iscsi_op_data_out (or at close / discard) */
		c->rx_task = t;
		c->rx_data = NULL;
		return 0;
	}
	/* RFC 7143 11.7.6: Buffer Offset + length inside the expected transfer */
	if ((uint64_t)off + len > t->want)
		return reject_data(c, "data beyond the expected transfer length", ISCSI_REJECT_INVALID_PDU_FIELD);
	if (ttt == ISCSI_RSVD_TAG) {
		/* unsolicited: RFC 7143 13.10/13.14, inside the first burst */
		uint32_t fb = s->p.first_burst_length < t->want ? s->p.first_burst_length : t->want;
		if (s->p.initial_r2t || (uint64_t)off + len > fb || len > t->unsol_left)
			return reject_data(c, "unsolicited data not allowed here", ISCSI_REJECT_PROTOCOL_ERROR);
		/* in order within its own sequence: it goes on where the immediate
		 * data and the unsolicited PDUs so far ended (R2T data taken
		 * meanwhile, DataSequenceInOrder=No, is another sequence) */
		if (s->p.data_pdu_in_order && off != fb - t->unsol_left)
			return reject_data(c, "unsolicited data out of order", ISCSI_REJECT_PROTOCOL_ERROR);
		/* RFC 7143 11.7.5: DataSN counts the PDUs of the sequence from 0 */
		if (get_be32(bhs + ISCSI_BHS_DATASN) != t->data_sn_expect)
			return fail_sequence(c, t, "DataSN out of sequence");
		t->data_sn_expect++;
	} else {
		struct iscsi_r2t *r = NULL;
		for (int i = 0; i < ISCSI_MAX_R2T; i++)
			if (t->r2t[i].active && t->r2t[i].ttt == ttt) {
				r = &t->r2t[i];
				break;
			}
		if (!r)
			return reject_data(c, "TTT matches no outstanding R2T", ISCSI_REJECT_INVALID_PDU_FIELD);
		if (off < r->offset || (uint64_t)off + len > (uint64_t)r->offset + r->len)
			return reject_data(c, "data outside the R2T range", ISCSI_REJECT_INVALID_PDU_FIELD);
		if (len > r->len - r->got)
			return reject_data(c, "more data than the R2T asked for", ISCSI_REJECT_INVALID_PDU_FIELD);
		if (s->p.data_pdu_in_order && off != r->offset + r->got)
			return reject_data(c, "Data-Out PDUs out of order", ISCSI_REJECT_PROTOCOL_ERROR);
		if (get_be32(bhs + ISCSI_BHS_DATASN) != r->datasn)
			return fail_sequence(c, t, "DataSN out of sequence");
		r->datasn++;
	}
	/* The data segment may take several wakeups to arrive; an abort meanwhile
	 * (a TMF on another connection, a reset or PREEMPT AND ABORT from another
	 * initiator) must not free the buffer it lands in. */
	t->refs++;
	c->rx_task = t;
	c->rx_data = t->scsi.buf + off;
	return 0;
}

int iscsi_op_data_out(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen)
{
	struct iscsi_task *t = c->rx_task;
	uint32_t ttt = get_be32(bhs + ISCSI_BHS_TTT);

	c->rx_task = NULL;
	if (!t)
		return 0;
	bool aborted = t->dead || (t->state != ISCSI_TASK_PENDING && t->state != ISCSI_TASK_DATA);

	/* drop the segment's reference: an aborted task may go with it; a live
	 * one keeps its own reference while PENDING / DATA */
	iscsi_task_put(t);
	if (aborted)
		return 0;
	t->got += dlen;
	if (ttt == ISCSI_RSVD_TAG) {
		t->unsol_left -= dlen;
		if (bhs[ISCSI_BHS_FLAGS] & ISCSI_FLAG_FINAL)
			t->unsol_left = 0;   /* end of the unsolicited sequence */
	} else {
		for (int i = 0; i < ISCSI_MAX_R2T; i++) {
			struct iscsi_r2t *r = &t->r2t[i];
			if (r->active && r->ttt == ttt) {
				r->got += dlen;
				if (r->got >= r->len) {
					r->active = false;
					t->r2t_out--;
				}
				break;
			}
		}
	}
	if (!t->in_order)
		return 0;           /* executes when its CmdSN turn comes */
	if (t->got >= t->want) {
		iscsi_task_exec(t);
		return 0;
	}
	iscsi_task_send_r2ts(t);
	return 0;
}

/* A Data-Out whose data digest is wrong (rejected already, RFC 7143 7.8): its
 * bytes are lost, but they count as received, so the sequence goes on as the
 * initiator sends it (next in-order offset, F bit, R2T done). At ERL 0 there
 * is no recovery R2T: once all its data is in, the command is answered CHECK
 * CONDITION, ABORTED COMMAND, PROTOCOL SERVICE CRC ERROR (RFC 7143 11.4.7.2). */
int iscsi_op_data_out_digest_error(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen)
{
	(void)data;
	if (c->rx_task)
		iscsi_task_fail_later(c->rx_task, SK_ABORTED_COMMAND, ASC_PROTOCOL_SERVICE_CRC_ERROR);
	return iscsi_op_data_out(c, bhs, NULL, dlen);
}
