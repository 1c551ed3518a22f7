/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Command completion: Data-In PDUs sent straight from the task buffer (at most
 * MaxRecvDataSegmentLength each, F bit per MaxBurstLength sequence), phase
 * collapse of GOOD status into the last Data-In, otherwise a SCSI Response
 * with sense data and residuals (RFC 7143 11.4, 11.7). */
#include "iscsi/iscsi_int.h"
#include <string.h>
#include "util/bufpool.h"
#include "util/stat.h"

/* RFC 7143 11.4.5: residuals against the Expected Data Transfer Length. */
static uint8_t residual(const struct iscsi_task *t, uint32_t *count)
{
	const struct scsi_task *st = &t->scsi;
	uint32_t edtl = t->edtl;

	*count = 0;
	if (st->xfer_len > edtl) {
		*count = st->xfer_len - edtl;
		return ISCSI_RSP_OVERFLOW;
	}
	if (st->dir == SCSI_DIR_READ) {
		uint32_t done = st->data_len < edtl ? st->data_len : edtl;
		if (done < edtl) {
			*count = edtl - done;
			return ISCSI_RSP_UNDERFLOW;
		}
	} else if (st->dir == SCSI_DIR_WRITE || edtl) {
		if (st->xfer_len < edtl) {
			*count = edtl - st->xfer_len;
			return ISCSI_RSP_UNDERFLOW;
		}
	}
	return 0;
}

void iscsi_send_scsi_rsp(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_txpdu *p = iscsi_pdu_get(c);
	uint32_t resid;
	uint8_t rflags;

	if (!p) {
		iscsi_conn_close(c, "out of memory for a SCSI response");
		return;
	}
	rflags = residual(t, &resid);
	p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_SCSI_RSP;
	p->bhs[ISCSI_BHS_FLAGS] = ISCSI_FLAG_FINAL | rflags;
	p->bhs[ISCSI_RSP_BYTE] = ISCSI_RESPONSE_COMPLETED;
	p->bhs[ISCSI_RSP_STATUS] = t->scsi.status;
	put_be32(p->bhs + ISCSI_BHS_ITT, t->itt);
	iscsi_pdu_set_sn(c, p->bhs, true);
	/* RFC 7143 11.4.8: R2Ts + Data-Ins sent for this command */
	put_be32(p->bhs + ISCSI_BHS_DATASN, t->scsi.dir == SCSI_DIR_WRITE ? t->r2tsn : t->datasn);
	put_be32(p->bhs + ISCSI_BHS_RESID, resid);
	if (t->scsi.sense_len) {
		/* RFC 7143 11.4.7.2: SenseLength (2 bytes) followed by the sense data */
		uint32_t len = 2u + t->scsi.sense_len;
		p->own = buf_alloc(len);
		if (p->own) {
			p->own_len = len;
			put_be16(p->own, t->scsi.sense_len);
			memcpy(p->own + 2, t->scsi.sense, t->scsi.sense_len);
			p->data = p->own;
			p->dlen = len;
		}
	}
	iscsi_pdu_queue(c, p);
}

/* Queue Data-In PDUs for [0, len) of the task buffer; the last one carries the
 * status when collapse is true. Each PDU holds a task reference until sent. */
static void send_datain(struct iscsi_task *t, uint32_t len, bool collapse)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_session *s = c->sess;
	uint32_t mdsl = c->p.max_xmit_dsl ? c->p.max_xmit_dsl : 8192;
	uint32_t burst = s->p.max_burst_length ? s->p.max_burst_length : 262144;
	uint32_t off = 0, in_burst = 0;

	while (off < len) {
		struct iscsi_txpdu *p = iscsi_pdu_get(c);
		uint32_t seg = len - off;
		bool last, eob;

		if (!p) {
			iscsi_conn_close(c, "out of memory for Data-In");
			return;
		}
		if (seg > mdsl)
			seg = mdsl;
		if (seg > burst - in_burst)
			seg = burst - in_burst;
		last = off + seg == len;
		in_burst += seg;
		eob = last || in_burst == burst;
		p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_DATA_IN;
		p->bhs[ISCSI_BHS_FLAGS] = eob ? ISCSI_FLAG_FINAL : 0;
		memcpy(p->bhs + ISCSI_BHS_LUN, t->lun_raw, 8);
		put_be32(p->bhs + ISCSI_BHS_ITT, t->itt);
		put_be32(p->bhs + ISCSI_BHS_TTT, ISCSI_RSVD_TAG);
		if (last && collapse) {
			uint32_t resid;
			uint8_t rflags = residual(t, &resid);
			/* RFC 7143 11.7.4: S bit (F too); status in byte 3 */
			p->bhs[ISCSI_BHS_FLAGS] |= ISCSI_DATAIN_STATUS | rflags;
			p->bhs[ISCSI_RSP_STATUS] = t->scsi.status;
			iscsi_pdu_set_sn(c, p->bhs, true);
			put_be32(p->bhs + ISCSI_BHS_RESID, resid);
		} else {
			iscsi_pdu_set_sn(c, p->bhs, false);
			put_be32(p->bhs + ISCSI_BHS_STATSN, 0);
		}
		put_be32(p->bhs + ISCSI_BHS_DATASN, t->datasn++);
		put_be32(p->bhs + ISCSI_BHS_BUFOFF, off);
		p->data = t->scsi.buf + off;
		p->dlen = seg;
		p->task = t;
		t->refs++;
		iscsi_pdu_queue(c, p);
		if (eob)
			in_burst = 0;
		off += seg;
	}
}

/* scsi_task.complete: called once per executed task, on the connection's
 * reactor, possibly inside scsi_task_exec(). */
void iscsi_task_complete(struct scsi_task *st)
{
	struct iscsi_task *t = st->transport_ctx;
	struct iscsi_conn *c = t->conn;
	uint32_t len = 0;
	bool collapse;

	if (t->pr_wait) {
		/* the PR OUT left the backend; a TMF or another PREEMPT AND ABORT
		 * of this nexus' key that aborts it from now on does not wait for
		 * it (tmf_abort_task), nor do those that did so already: two such
		 * PR OUTs would each wait for the other for ever */
		t->pr_backend_done = true;
		if (t->tmf_waits)
			iscsi_tmf_task_gone(t);
		iscsi_tmf_pr_done(t);       /* runs this again once the aborts ended */
		return;
	}
	if (t->dead || c->closing) {
		/* aborted or connection gone: completes into nothing (RFC 7143 7.x) */
		if (t->tmf_waits)
			iscsi_tmf_task_gone(t);
		if (!c->closing)
			iscsi_session_cmd_done(t);
		iscsi_task_put(t);
		return;
	}
	t->state = ISCSI_TASK_DONE;
	iscsi_task_unhash(t);
	iscsi_session_cmd_done(t);
	if (st->dir == SCSI_DIR_READ && st->buf) {
		len = st->data_len < t->edtl ? st->data_len : t->edtl;
		STAT_ADD(c->st_read_bytes, len);
	}
	if (st->status != SCSI_STATUS_GOOD)
		STAT_INC(c->st_errors);
	collapse = st->status == SCSI_STATUS_GOOD && !st->sense_len;
	if (len)
		send_datain(t, len, collapse);
	if (!len || !collapse)
		iscsi_send_scsi_rsp(t);
	iscsi_task_put(t);
}
