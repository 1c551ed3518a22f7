/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SCSI Command PDUs (RFC 7143 11.3): per-connection task structs from a free
 * list, the ITT hash, immediate data landing in the task buffer, CmdSN-ordered
 * delivery and hand-off to the SCSI layer. */
#include "iscsi/iscsi_int.h"
#include <stdlib.h>
#include <string.h>
#include "util/bufpool.h"
#include "util/stat.h"

static unsigned itt_hash(uint32_t itt) { return (itt ^ (itt >> 8) ^ (itt >> 16)) & (ISCSI_TASK_HASH - 1); }

struct iscsi_task *iscsi_task_get(struct iscsi_conn *c)
{
	struct iscsi_task *t = c->task_free;

	if (t)
		c->task_free = t->snext;
	else if (!(t = malloc(sizeof(*t))))
		return NULL;
	memset(t, 0, sizeof(*t));
	t->conn = c;
	t->refs = 1;
	t->state = ISCSI_TASK_PENDING;
	t->cnext = c->active;
	if (c->active)
		c->active->cprev = t;
	c->active = t;
	c->ntasks++;
	return t;
}

static void task_hash(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	unsigned h = itt_hash(t->itt);

	t->hnext = c->hash[h];
	c->hash[h] = t;
}

void iscsi_task_unhash(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;
	struct iscsi_task **pp;

	for (pp = &c->hash[itt_hash(t->itt)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == t) {
			*pp = t->hnext;
			t->hnext = NULL;
			return;
		}
	}
}

struct iscsi_task *iscsi_task_find(struct iscsi_conn *c, uint32_t itt)
{
	for (struct iscsi_task *t = c->hash[itt_hash(itt)]; t; t = t->hnext)
		if (t->itt == itt)
			return t;
	return NULL;
}

/* Drop one reference; the last one returns the buffer and the struct. */
void iscsi_task_put(struct iscsi_task *t)
{
	struct iscsi_conn *c = t->conn;

	if (--t->refs > 0)
		return;
	iscsi_task_unhash(t);
	if (t->scsi.buf) {
		buf_free(t->scsi.buf, t->scsi.buf_len);
		c->task_mem -= t->scsi.buf_len;
	}
	t->scsi.buf = NULL;
	if (t->cprev)
		t->cprev->cnext = t->cnext;
	else
		c->active = t->cnext;
	if (t->cnext)
		t->cnext->cprev = t->cprev;
	t->state = ISCSI_TASK_FREE;
	t->snext = c->task_free;
	c->task_free = t;
	c->ntasks--;
	if (c->closing && !c->ntasks)
		iscsi_conn_maybe_free(c);
}

void iscsi_task_free_all(struct iscsi_conn *c)
{
	struct iscsi_task *t, *n;

	for (t = c->task_free; t; t = n) {
		n = t->snext;
		free(t);
	}
	c->task_free = NULL;
}

/* The connection is going away (or an ABORT at ERL 0): no response ever. */
void iscsi_task_abort(struct iscsi_task *t)
{
	bool was_dead = t->dead, queued = false;

	t->dead = true;
	t->scsi.aborted = true;
	iscsi_task_unhash(t);
	switch (t->state) {
	case ISCSI_TASK_PENDING:
		if (t->conn->sess) {
			/* take it out of the CmdSN queue (a TMF may have left it there dead) */
			struct iscsi_task **pp;
			for (pp = &t->conn->sess->pending; *pp; pp = &(*pp)->snext)
				if (*pp == t) {
					*pp = t->snext;
					queued = true;
					break;
				}
		}
		if (queued || !was_dead)
			iscsi_task_put(t);
		break;
	case ISCSI_TASK_DATA:
		if (!was_dead)
			iscsi_task_put(t);
		break;
	default:
		/* EXEC: the SCSI layer still owns it; iscsi_task_complete drops the ref */
		break;
	}
}

/* Fail before execution with CHECK CONDITION (sense built by the SCSI layer). */
void iscsi_task_fail(struct iscsi_task *t, uint8_t sk, uint8_t asc, uint8_t ascq)
{
	scsi_task_set_status(&t->scsi, SCSI_STATUS_CHECK_CONDITION, sk, asc, ascq);
	t->scsi.data_len = 0;
	t->state = ISCSI_TASK_EXEC;
	t->exec_started = true;
	iscsi_task_complete(&t->scsi);
}

void iscsi_task_fail_later(struct iscsi_task *t, uint8_t sk, uint8_t asc, uint8_t ascq)
{
	if (t->failed)
		return;
	t->failed = true;
	t->fail_sk = sk;
	t->fail_asc = asc;
	t->fail_ascq = ascq;
}

/* Header of a SCSI Command is in: create the task and point the receive
 * machine at its buffer so immediate data lands in place. */
int iscsi_op_scsi_cmd_hdr(struct iscsi_conn *c)
{
	const uint8_t *bhs = c->rx_hdr;
	uint8_t flags = bhs[ISCSI_BHS_FLAGS];
	uint32_t itt = get_be32(bhs + ISCSI_BHS_ITT);
	uint32_t edtl = get_be32(bhs + ISCSI_BHS_EDTL);
	struct iscsi_session *s = c->sess;
	struct iscsi_task *t;

	if (!s || s->type != ISCSI_SESSION_NORMAL) {
		/* RFC 7143 4.3: a discovery session carries no SCSI commands */
		qb_log(LOG_NOTICE, "iscsi: %s: SCSI command in a discovery session", c->peer);
		iscsi_send_reject(c, bhs, ISCSI_REJECT_PROTOCOL_ERROR);
		c->rx_discard = true;
		return 0;
	}
	if (iscsi_task_find(c, itt)) {
		/* RFC 7143 11.17.1: ITT of a task still in progress */
		qb_log(LOG_NOTICE, "iscsi: %s: ITT 0x%08x already in use", c->peer, itt);
		iscsi_send_reject(c, bhs, ISCSI_REJECT_TASK_IN_PROGRESS);
		c->rx_discard = true;
		return 0;
	}
	t = c->ntasks < c->lim_tasks ? iscsi_task_get(c) : NULL;
	if (!t) {
		/* docs/HARDENING.md: far more commands than the CmdSN window allows */
		if (c->ntasks >= c->lim_tasks)
			qb_log(LOG_NOTICE, "iscsi: %s: %d tasks in progress: command rejected", c->peer, c->ntasks);
		iscsi_send_reject(c, bhs, ISCSI_REJECT_OUT_OF_RESOURCES);
		c->rx_discard = true;
		return 0;
	}
	t->itt = itt;
	t->cmdsn = get_be32(bhs + ISCSI_BHS_CMDSN);
	t->immediate = iscsi_bhs_immediate(bhs);
	t->edtl = edtl;
	memcpy(t->lun_raw, bhs + ISCSI_BHS_LUN, 8);
	t->scsi.lun = scsi_lun_decode(bhs + ISCSI_BHS_LUN);
	t->scsi.itn = s->itn;
	t->scsi.attr = flags & ISCSI_CMD_ATTR_MASK;
	t->scsi.dir = (flags & ISCSI_CMD_WRITE) ? SCSI_DIR_WRITE : (flags & ISCSI_CMD_READ) ? SCSI_DIR_READ : SCSI_DIR_NONE;
	t->scsi.edtl = t->scsi.dir == SCSI_DIR_NONE ? 0 : edtl;
	t->scsi.complete = iscsi_task_complete;
	t->scsi.transport_ctx = t;
	memcpy(t->scsi.cdb, bhs + ISCSI_BHS_CDB, ISCSI_CDB_LEN);
	t->scsi.cdb_len = ISCSI_CDB_LEN;
	/* RFC 7143 11.3.1.1 / 11.2.2: extended CDB AHS (type 1) carries bytes 16.. */
	if (c->rx_ahs >= 4) {
		const uint8_t *ahs = c->rx_hdr + ISCSI_BHS_LEN;
		uint16_t alen = get_be16(ahs);
		if (ahs[2] == 1 && alen >= 1 && (uint32_t)alen + 3 <= c->rx_ahs) {
			uint32_t extra = alen - 1u;
			if (extra > SCSI_CDB_MAX - ISCSI_CDB_LEN)
				extra = SCSI_CDB_MAX - ISCSI_CDB_LEN;
			memcpy(t->scsi.cdb + ISCSI_CDB_LEN, ahs + 4, extra);
			t->scsi.cdb_len = (uint8_t)(ISCSI_CDB_LEN + extra);
		}
	}
	task_hash(t);
	c->rx_task = t;
	if (t->scsi.edtl > ISCSI_MAX_EDTL) {
		/* bound memory per command: answered with CHECK CONDITION after the PDU */
		c->rx_data = NULL;
		return 0;
	}
	if (t->scsi.edtl && c->task_mem && c->task_mem + t->scsi.edtl > c->lim_conn_memory) {
		/* docs/HARDENING.md max_conn_memory: answered TASK SET FULL, immediate data dropped */
		t->busy = true;
		c->rx_data = NULL;
		return 0;
	}
	if (t->scsi.edtl) {
		t->scsi.buf_len = t->scsi.edtl;
		t->scsi.buf = buf_alloc(t->scsi.edtl);
		if (!t->scsi.buf) {
			c->rx_data = NULL;
			return 0;
		}
		c->task_mem += t->scsi.buf_len;
		/* DataPDUInOrder=No: overlapping Data-Outs can leave a hole the byte
		 * count does not see; a hole must never show what the pooled buffer
		 * held before (another session's data) */
		if (t->scsi.dir == SCSI_DIR_WRITE && !s->p.data_pdu_in_order) {
			uint32_t imm = c->rx_dsl <= t->scsi.edtl ? c->rx_dsl : 0;
			memset((uint8_t *)t->scsi.buf + imm, 0, t->scsi.edtl - imm);
		}
	}
	if (c->rx_dsl) {
		/* RFC 7143 11.3.4: immediate data never exceeds EDTL or FirstBurstLength */
		if (t->scsi.dir != SCSI_DIR_WRITE || c->rx_dsl > t->scsi.edtl || !s->p.immediate_data ||
		    c->rx_dsl > s->p.first_burst_length || !t->scsi.buf) {
			c->rx_data = NULL;
			c->rx_reject_reason = ISCSI_REJECT_PROTOCOL_ERROR;
			return 0;
		}
		c->rx_data = t->scsi.buf;
	}
	return 0;
}

int iscsi_op_scsi_cmd(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen)
{
	struct iscsi_task *t = c->rx_task;
	struct iscsi_session *s = c->sess;

	c->rx_task = NULL;
	if (!t)
		return 0;
	if (c->rx_reject_reason) {
		qb_log(LOG_NOTICE, "iscsi: %s: immediate data not acceptable (ITT 0x%08x, DSL %u, EDTL %u)", c->peer,
		       t->itt, dlen, t->edtl);
		STAT_INC(c->st_errors);
		iscsi_send_reject(c, bhs, (uint8_t)c->rx_reject_reason);
		iscsi_task_put(t);
		return 0;
	}
	STAT_INC(c->st_cmds);
	t->got = dlen;
	t->want = t->scsi.dir == SCSI_DIR_WRITE ? t->scsi.edtl : 0;
	if (t->scsi.dir == SCSI_DIR_WRITE && t->want > t->got) {
		uint32_t fb = s->p.first_burst_length < t->want ? s->p.first_burst_length : t->want;
		/* RFC 7143 13.10/13.11: unsolicited data only with InitialR2T=No, up
		 * to FirstBurstLength (immediate data included) */
		t->unsol_left = (!s->p.initial_r2t && !(bhs[ISCSI_BHS_FLAGS] & ISCSI_FLAG_FINAL)) ? fb - t->got : 0;
		if (!s->p.initial_r2t && fb > t->got && !(bhs[ISCSI_BHS_FLAGS] & ISCSI_FLAG_FINAL))
			t->next_r2t_off = fb;
		else
			t->next_r2t_off = t->got;
	}
	if (t->scsi.dir == SCSI_DIR_WRITE)
		STAT_ADD(c->st_write_bytes, t->scsi.edtl);
	iscsi_session_cmdsn_received(c, t);
	return 0;
}

/* Immediate data with a data digest error (rejected already): the command
 * never happened (RFC 7143 7.8). */
int iscsi_op_scsi_cmd_digest_error(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen)
{
	(void)bhs;
	(void)data;
	(void)dlen;
	if (c->rx_task)
		iscsi_task_put(c->rx_task);
	c->rx_task = NULL;
	return 0;
}

/* The task's CmdSN turn came (or it was immediate). */
void iscsi_task_deliver(struct iscsi_task *t)
{
	if (t->dead) {
		iscsi_session_cmd_done(t);
		iscsi_task_put(t);
		return;
	}
	t->in_order = true;
	if (t->busy) {
		/* SAM-5 5.3: TASK SET FULL, the initiator retries later (no sense data) */
		t->scsi.status = SCSI_STATUS_TASK_SET_FULL;
		t->scsi.sense_len = 0;
		t->scsi.data_len = 0;
		t->state = ISCSI_TASK_EXEC;
		t->exec_started = true;
		iscsi_task_complete(&t->scsi);
		return;
	}
	if (t->scsi.edtl > ISCSI_MAX_EDTL || (t->scsi.edtl && !t->scsi.buf)) {
		qb_log(LOG_NOTICE, "iscsi: %s: EDTL %u too large (ITT 0x%08x)", t->conn->peer, t->scsi.edtl, t->itt);
		/* ILLEGAL REQUEST / INVALID FIELD IN CDB is the closest SPC answer */
		if (t->scsi.dir == SCSI_DIR_WRITE && t->want > t->got) {
			/* no R2T: answer now; stray data-out for it is rejected */
		}
		iscsi_task_fail(t, SK_ILLEGAL_REQUEST, 0x24, 0x00);
		return;
	}
	/* a write whose Data-Out sequence broke meanwhile takes no more data:
	 * iscsi_task_exec answers it */
	if (t->scsi.dir == SCSI_DIR_WRITE && t->got < t->want && !t->data_refused) {
		t->state = ISCSI_TASK_DATA;
		iscsi_task_send_r2ts(t);
		return;
	}
	iscsi_task_exec(t);
}

/* All its data is in (or it takes no more): to the SCSI layer, or answered
 * CHECK CONDITION when the iSCSI layer failed it meanwhile. */
void iscsi_task_exec(struct iscsi_task *t)
{
	if (t->failed) {
		/* its data has a hole: it never reaches the backend */
		iscsi_task_fail(t, t->fail_sk, t->fail_asc, t->fail_ascq);
		return;
	}
	t->state = ISCSI_TASK_EXEC;
	t->exec_started = true;
	scsi_task_exec(&t->scsi);
}
