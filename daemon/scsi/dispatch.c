/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Command dispatch: the opcode table and scsi_task_exec(), which applies the
 * checks common to every command (LUN, CDB length, control byte, unit
 * attention) before handing the task to its handler; the data movement
 * helpers for allocation-length and parameter-list commands; and REPORT
 * SUPPORTED OPERATION CODES (SPC-4 6.35), generated from the same table so
 * that what is reported and what is dispatched never disagree. */
#include <string.h>
#include "util/be.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/alua.h"
#include "scsi/xcopy.h"

#define IN SCSI_OPF_DATA_IN
#define OUT SCSI_OPF_DATA_OUT
#define MEDIA SCSI_OPF_MEDIA
#define WR SCSI_OPF_WRITE
#define PR SCSI_OPF_PR_CONFLICT
#define UAP SCSI_OPF_UA_PASS
#define NOLUN SCSI_OPF_NO_LUN

/* SPC-4 / SBC-3 operation codes implemented. Future rows (COMPARE AND WRITE,
 * WRITE SAME, UNMAP, XCOPY, PERSISTENT RESERVE IN/OUT, REPORT TARGET PORT
 * GROUPS) slot in here with their own files. */
const struct scsi_op scsi_op_table[256] = {
	[0x00] = { "TEST UNIT READY", scsi_spc_test_unit_ready, 6, 0 },
	[0x03] = { "REQUEST SENSE", scsi_spc_request_sense, 6, UAP | NOLUN | IN },
	[0x08] = { "READ(6)", scsi_sbc_rw, 6, MEDIA | IN | PR },
	[0x0a] = { "WRITE(6)", scsi_sbc_rw, 6, MEDIA | WR | OUT | PR },
	[0x12] = { "INQUIRY", scsi_spc_inquiry, 6, UAP | NOLUN | IN },
	[0x15] = { "MODE SELECT(6)", scsi_mode_select, 6, OUT | PR },
	[0x16] = { "RESERVE(6)", scsi_spc_reserve, 6, 0 },         /* reserve.c */
	[0x17] = { "RELEASE(6)", scsi_spc_release, 6, 0 },
	[0x1a] = { "MODE SENSE(6)", scsi_mode_sense, 6, IN | PR },
	[0x1b] = { "START STOP UNIT", scsi_spc_start_stop_unit, 6, PR },
	[0x1e] = { "PREVENT ALLOW MEDIUM REMOVAL", scsi_spc_prevent_allow, 6, PR },
	[0x25] = { "READ CAPACITY(10)", scsi_sbc_read_capacity10, 10, IN },
	[0x28] = { "READ(10)", scsi_sbc_rw, 10, MEDIA | IN | PR },
	[0x2a] = { "WRITE(10)", scsi_sbc_rw, 10, MEDIA | WR | OUT | PR },
	[0x2e] = { "WRITE AND VERIFY(10)", scsi_sbc_rw, 10, MEDIA | WR | OUT | PR },
	[0x2f] = { "VERIFY(10)", scsi_sbc_verify, 10, MEDIA | OUT | PR },
	[0x34] = { "PRE-FETCH(10)", scsi_sbc_prefetch, 10, MEDIA | PR },
	[0x35] = { "SYNCHRONIZE CACHE(10)", scsi_sbc_sync_cache, 10, MEDIA | PR },
	[0x41] = { "WRITE SAME(10)", scsi_sbc_write_same, 10, MEDIA | WR | OUT | PR },
	[0x42] = { "UNMAP", scsi_sbc_unmap, 10, MEDIA | WR | OUT | PR },
	[0x48] = { "SANITIZE", scsi_sbc_sanitize, 10, MEDIA | WR | OUT | PR },      /* sanitize.c */
	[0x55] = { "MODE SELECT(10)", scsi_mode_select, 10, OUT | PR },
	[0x56] = { "RESERVE(10)", scsi_spc_reserve, 10, 0 },       /* reserve.c */
	[0x57] = { "RELEASE(10)", scsi_spc_release, 10, 0 },
	[0x5a] = { "MODE SENSE(10)", scsi_mode_sense, 10, IN | PR },
	[0x5e] = { "PERSISTENT RESERVE IN", scsi_pr_in, 10, IN },   /* pr_cmd.c */
	[0x5f] = { "PERSISTENT RESERVE OUT", scsi_pr_out, 10, OUT },
	[0x83] = { "EXTENDED COPY", scsi_xcopy_extended_copy, 16, MEDIA | OUT | PR },  /* xcopy.c */
	[0x84] = { "RECEIVE COPY RESULTS", scsi_xcopy_receive_results, 16, IN },
	[0x88] = { "READ(16)", scsi_sbc_rw, 16, MEDIA | IN | PR },
	[0x89] = { "COMPARE AND WRITE", scsi_sbc_compare_and_write, 16, MEDIA | WR | OUT | PR },
	[0x8a] = { "WRITE(16)", scsi_sbc_rw, 16, MEDIA | WR | OUT | PR },
	[0x8b] = { "ORWRITE(16)", scsi_sbc_orwrite, 16, MEDIA | WR | OUT | PR },   /* orwrite.c */
	[0x8e] = { "WRITE AND VERIFY(16)", scsi_sbc_rw, 16, MEDIA | WR | OUT | PR },
	[0x8f] = { "VERIFY(16)", scsi_sbc_verify, 16, MEDIA | OUT | PR },
	[0x90] = { "PRE-FETCH(16)", scsi_sbc_prefetch, 16, MEDIA | PR },
	[0x91] = { "SYNCHRONIZE CACHE(16)", scsi_sbc_sync_cache, 16, MEDIA | PR },
	[0x93] = { "WRITE SAME(16)", scsi_sbc_write_same, 16, MEDIA | WR | OUT | PR },
	[0x9e] = { "SERVICE ACTION IN(16)", scsi_sbc_service_action_in16, 16, IN },
	[0xa0] = { "REPORT LUNS", scsi_spc_report_luns, 12, UAP | NOLUN | IN },
	[0xa3] = { "MAINTENANCE IN", scsi_spc_maint_in, 12, IN },
	[0xa4] = { "MAINTENANCE OUT", scsi_alua_maint_out, 12, OUT | PR },   /* STPG, alua.c */
	[0x37] = { "READ DEFECT DATA(10)", scsi_sbc_read_defect_data, 10, IN },
	[0xb7] = { "READ DEFECT DATA(12)", scsi_sbc_read_defect_data, 12, IN },
	[0xa8] = { "READ(12)", scsi_sbc_rw, 12, MEDIA | IN | PR },
	[0xaa] = { "WRITE(12)", scsi_sbc_rw, 12, MEDIA | WR | OUT | PR },
	[0xae] = { "WRITE AND VERIFY(12)", scsi_sbc_rw, 12, MEDIA | WR | OUT | PR },
	[0xaf] = { "VERIFY(12)", scsi_sbc_verify, 12, MEDIA | OUT | PR },
};

/* Opcodes the configuration can turn off: whether it serves them now. */
static bool (*const op_enabled[256])(void) = {
	[0xa4] = scsi_alua_explicit,    /* MAINTENANCE OUT (STPG): alua_explicit */
};

/* Whether the opcode is served now: implemented, and enabled by the
 * configuration where that depends on it. */
static bool op_served(const struct scsi_op *o)
{
	bool (*enabled)(void) = op_enabled[o - scsi_op_table];

	return o->fn && (!enabled || enabled());
}

int scsi_task_data_in(struct scsi_task *t, const void *src, uint32_t len, uint32_t alloc)
{
	uint32_t n = len < alloc ? len : alloc;

	t->xfer_len = alloc;
	if (n > t->edtl)
		n = t->edtl;
	if (n > t->buf_len)
		n = t->buf_len;
	if (!t->buf || t->dir != SCSI_DIR_READ)
		n = 0;
	if (n)
		memcpy(t->buf, src, n);
	t->data_len = n;
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}

uint32_t scsi_task_data_out(struct scsi_task *t, uint32_t want)
{
	uint32_t avail = 0;

	t->xfer_len = want;
	if (t->dir == SCSI_DIR_WRITE && t->buf)
		avail = t->edtl < t->buf_len ? t->edtl : t->buf_len;
	t->data_len = want < avail ? want : avail;
	return t->data_len;
}

bool scsi_task_touches_lun(const struct scsi_task *t, uint64_t lun)
{
	return t->lun == lun || scsi_xcopy_touches_lun(t, lun);
}

void scsi_task_done(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;

	t->complete(t);
	if (lu)
		atomic_fetch_sub_explicit(&lu->inflight, 1, memory_order_release);
}

/* Look the LUN up without a lock and pin it against detach: the detacher
 * swaps the slot to NULL and then waits for inflight to drain, so after the
 * increment a second load tells whether we got in before the swap. */
static struct scsi_lun *lun_get(struct scsi_target *tgt, uint64_t lun)
{
	if (lun >= SCSI_LUN_MAX)
		return NULL;
	struct scsi_lun *lu = atomic_load_explicit(&tgt->luns[lun], memory_order_acquire);
	if (!lu)
		return NULL;
	atomic_fetch_add(&lu->inflight, 1);
	if (atomic_load(&tgt->luns[lun]) != lu) {
		atomic_fetch_sub(&lu->inflight, 1);
		return NULL;
	}
	return lu;
}

void scsi_task_exec(struct scsi_task *t)
{
	const struct scsi_op *op = &scsi_op_table[t->cdb[0]];
	struct scsi_target *tgt = t->itn ? t->itn->tgt : NULL;
	uint8_t asc, ascq;
	int rc;

	t->status = SCSI_STATUS_GOOD;
	t->sense_len = 0;
	t->data_len = 0;
	t->xfer_len = 0;
	t->state = 0;
	t->lu = tgt ? lun_get(tgt, t->lun) : NULL;

	/* SPC-4 5.9 / SAM-5 5.8: a LUN that is not there answers only the
	 * commands that describe the inventory. */
	if (!t->lu && !(op->fn && (op->flags & SCSI_OPF_NO_LUN))) {
		scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
		goto done;
	}
	if (!op_served(op)) {
		/* SPC-4 4.5.6 unsupported operation code; a pending UA is still
		 * reported first (SAM-5 5.14). */
		if (scsi_ua_take(t->itn, (uint32_t)t->lun, &asc, &ascq))
			scsi_task_check(t, SK_UNIT_ATTENTION, asc, ascq);
		else
			scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_INVALID_COMMAND_OPCODE);
		goto done;
	}
	if (t->cdb_len && t->cdb_len < op->cdb_len) {
		scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_INVALID_COMMAND_OPCODE);
		goto done;
	}
	if (t->lu && !(op->flags & SCSI_OPF_UA_PASS) && scsi_ua_any(t->itn) &&
	    scsi_ua_take(t->itn, (uint32_t)t->lun, &asc, &ascq)) {
		scsi_task_check(t, SK_UNIT_ATTENTION, asc, ascq);
		goto done;
	}
	/* SPC-4 5.15.2.4: the target port's ALUA state (one atomic load). */
	if (t->lu && scsi_alua_check(t))
		goto done;
	/* SBC-3 4.11: a sanitize operation in progress or failed (sanitize.c) */
	if (t->lu && scsi_sanitize_refuse(t))
		goto done;
	/* SAM-5 5.3: CONTROL byte. NACA is not supported (INQUIRY NORMACA=0) and
	 * the LINK bit is obsolete: either one is an invalid field. */
	if (t->cdb[op->cdb_len - 1] & 0x05) {
		scsi_task_invalid_cdb(t, op->cdb_len - 1, (t->cdb[op->cdb_len - 1] & 0x04) ? 2 : 0);
		goto done;
	}
	/* SPC-4 5.13.1 / SPC-2 5.5.1 reservations (pr.c): one atomic load when none. */
	if (t->lu && scsi_resv_conflict(t, op->flags)) {
		scsi_task_set_status(t, SCSI_STATUS_RESERVATION_CONFLICT, 0, 0, 0);
		goto done;
	}
	rc = op->fn(t);
	if (rc == SCSI_ASYNC)
		return;
done:
	scsi_task_done(t);
}

/* ---------------------------------------------------------------- REPORT SUPPORTED OPERATION CODES */

/* Opcodes whose commands are selected by a service action, and the service
 * actions implemented for each (SERVACTV=1 in the descriptors). */
struct sa_list {
	uint8_t opcode;
	uint8_t n;
	uint8_t sa[8];
	uint8_t cdb_len[8];
};

static const struct sa_list sa_lists[] = {
	{ .opcode = 0x9e, .n = 2, .sa = { 0x10, 0x12 }, .cdb_len = { 16, 16 } },  /* READ CAPACITY(16), GET LBA STATUS */
	{ .opcode = 0xa3, .n = 3, .sa = { 0x0a, 0x0c, 0x0d }, .cdb_len = { 12, 12, 12 } }, /* RTPG, RSOC, RSTMF */
	{ .opcode = 0xa4, .n = 1, .sa = { 0x0a }, .cdb_len = { 12 } },  /* SET TARGET PORT GROUPS */
	{ .opcode = 0x83, .n = 1, .sa = { 0x00 }, .cdb_len = { 16 } },  /* EXTENDED COPY (LID1) */
	{ .opcode = 0x84, .n = 3, .sa = { 0x00, 0x03, 0x04 }, .cdb_len = { 16, 16, 16 } }, /* RECEIVE COPY RESULTS */
	{ .opcode = 0x5e, .n = 4, .sa = { 0, 1, 2, 3 }, .cdb_len = { 10, 10, 10, 10 } },  /* PERSISTENT RESERVE IN */
	{ .opcode = 0x5f, .n = 8, .sa = { 0, 1, 2, 3, 4, 5, 6, 7 },                     /* PERSISTENT RESERVE OUT */
	  .cdb_len = { 10, 10, 10, 10, 10, 10, 10, 10 } },
	{ .opcode = 0x48, .n = 3, .sa = { 0x01, 0x02, 0x1f }, .cdb_len = { 10, 10, 10 } },  /* SANITIZE: OVERWRITE, BLOCK ERASE, EXIT FAILURE MODE */
};

static const struct sa_list *sa_list_of(uint8_t opcode)
{
	for (size_t i = 0; i < ARRAY_SIZE(sa_lists); i++)
		if (sa_lists[i].opcode == opcode)
			return &sa_lists[i];
	return NULL;
}

/* Command timeouts descriptor (SPC-4 6.35.4): no timeouts advertised. */
static uint32_t put_timeouts(uint8_t *p)
{
	memset(p, 0, 12);
	put_be16(p, 0x0a);
	return 12;
}

/* CDB usage data: opcode, service action, every other bit but the CONTROL
 * byte's NACA/LINK shown as usable (SPC-4 6.35.3). */
static uint32_t put_usage(uint8_t *p, uint8_t opcode, int sa, uint8_t len)
{
	p[0] = opcode;
	memset(&p[1], 0xff, len - 2u);
	if (sa >= 0)
		p[1] = (uint8_t)sa;
	p[len - 1] = 0x00;
	return len;
}

int scsi_spc_report_opcodes(struct scsi_task *t)
{
	bool rctd = t->cdb[2] & 0x80;
	uint8_t opts = t->cdb[2] & 0x07;
	uint8_t req_op = t->cdb[3];
	uint16_t req_sa = get_be16(&t->cdb[4]);
	uint32_t alloc = get_be32(&t->cdb[6]);
	uint8_t d[4096];
	uint32_t len = 0;

	if (t->cdb[1] & 0xe0)
		return scsi_task_invalid_cdb(t, 1, -1);
	if (t->cdb[2] & 0x78)
		return scsi_task_invalid_cdb(t, 2, -1);
	memset(d, 0, sizeof(d));

	if (opts == 0) {
		/* all commands: 4-byte header, 8-byte descriptors (+12 with RCTD) */
		len = 4;
		for (int op = 0; op < 256; op++) {
			const struct scsi_op *o = &scsi_op_table[op];
			if (!op_served(o))
				continue;
			const struct sa_list *sl = sa_list_of((uint8_t)op);
			int n = sl ? sl->n : 1;
			for (int i = 0; i < n; i++) {
				uint8_t *p = &d[len];
				p[0] = (uint8_t)op;
				if (sl)
					put_be16(&p[2], sl->sa[i]);
				p[5] = (uint8_t)((rctd ? 0x02 : 0) | (sl ? 0x01 : 0));
				put_be16(&p[6], sl ? sl->cdb_len[i] : o->cdb_len);
				len += 8;
				if (rctd)
					len += put_timeouts(&d[len]);
			}
		}
		put_be32(d, len - 4);
		return scsi_task_data_in(t, d, len, alloc);
	}

	if (opts > 3)
		return scsi_task_invalid_cdb(t, 2, 2);
	const struct scsi_op *o = &scsi_op_table[req_op];
	const struct sa_list *sl = sa_list_of(req_op);
	int sa = -1;
	uint8_t cdb_len = o->cdb_len;
	bool supported = op_served(o);

	/* 001b: opcode without service actions; 010b: opcode + service action;
	 * 011b: either (SPC-4 table 254). */
	if (opts == 1 && sl)
		return scsi_task_invalid_cdb(t, 2, 2);
	if (opts == 2 && !sl && o->fn)
		return scsi_task_invalid_cdb(t, 2, 2);
	if (sl && opts != 1) {
		bool served = supported;
		supported = false;
		for (int i = 0; i < sl->n; i++) {
			if (served && sl->sa[i] == req_sa) {
				supported = true;
				sa = sl->sa[i];
				cdb_len = sl->cdb_len[i];
			}
		}
	}
	d[1] = (uint8_t)((rctd ? 0x80 : 0) | (supported ? 0x03 : 0x01));
	len = 4;
	if (supported) {
		put_be16(&d[2], cdb_len);
		len += put_usage(&d[4], req_op, sa, cdb_len);
		if (rctd)
			len += put_timeouts(&d[len]);
	}
	return scsi_task_data_in(t, d, len, alloc);
}
