/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Third-party copy (VAAI "full copy"): EXTENDED COPY (LID1) moves blocks
 * between LUNs of this target inside the daemon, from backend to backend, so
 * that a clone or storage vMotion never crosses the network. Also RECEIVE COPY
 * RESULTS (SPC-4 6.18 / 6.22) and the Third-party Copy VPD page (SPC-4
 * 7.8.17) that advertise the limits the parser enforces. */
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include "util/be.h"
#include "util/bufpool.h"
#include "util/log.h"
#include "scsi/scsi_pr.h"
#include "scsi/xcopy.h"
#include "scsi/task_bio.h"

#define XCOPY_CHUNK  (1u << 20)         /* bytes per read/write pair */
#define XCOPY_DEPTH  4u                 /* chunks in flight per command */

/* ---------------------------------------------------------------- results per I_T nexus */

/* What RECEIVE COPY RESULTS reports for one list identifier (SPC-4 6.18.3). */
struct xcopy_result {
	bool used, in_progress;
	uint8_t list_id;
	uint8_t status;                 /* SCSI status the EXTENDED COPY ended with */
	uint16_t segs;                  /* SEGMENTS PROCESSED */
	uint64_t bytes;                 /* bytes written to copy destinations */
	uint32_t seq;                   /* age, for replacement */
	uint8_t sense_len;
	uint8_t sense[SCSI_SENSE_MAX];
};

struct xcopy_itn {
	uint32_t seq;
	struct xcopy_result r[XCOPY_MAX_CONCURRENT];
};

/* The nexus's table; all of a session's tasks run on its reactor, so no lock. */
static struct xcopy_itn *itn_table(struct scsi_itn *itn, bool create)
{
	if (!itn)
		return NULL;
	if (!itn->xcopy && create)
		itn->xcopy = calloc(1, sizeof(struct xcopy_itn));
	return itn->xcopy;
}

void scsi_xcopy_itn_fini(struct scsi_itn *itn)
{
	free(itn->xcopy);
	itn->xcopy = NULL;
}

static struct xcopy_result *result_find(struct scsi_itn *itn, uint8_t list_id)
{
	struct xcopy_itn *x = itn_table(itn, false);

	if (!x)
		return NULL;
	for (unsigned i = 0; i < XCOPY_MAX_CONCURRENT; i++)
		if (x->r[i].used && x->r[i].list_id == list_id)
			return &x->r[i];
	return NULL;
}

static unsigned results_in_progress(struct scsi_itn *itn)
{
	struct xcopy_itn *x = itn_table(itn, false);
	unsigned n = 0;

	for (unsigned i = 0; x && i < XCOPY_MAX_CONCURRENT; i++)
		n += x->r[i].in_progress;
	return n;
}

/* A slot for list_id: its previous result, a free one, or the oldest one not
 * in progress. NULL when every slot holds a running copy. */
static struct xcopy_result *result_slot(struct scsi_itn *itn, uint8_t list_id)
{
	struct xcopy_itn *x = itn_table(itn, true);
	struct xcopy_result *r, *best = NULL;

	if (!x)
		return NULL;
	r = result_find(itn, list_id);
	if (r)
		best = r->in_progress ? NULL : r;
	for (unsigned i = 0; !best && i < XCOPY_MAX_CONCURRENT; i++)
		if (!x->r[i].used)
			best = &x->r[i];
	for (unsigned i = 0; !best && i < XCOPY_MAX_CONCURRENT; i++)
		if (!x->r[i].in_progress && (!best || x->r[i].seq < best->seq))
			best = &x->r[i];
	if (!best)
		return NULL;
	memset(best, 0, sizeof(*best));
	best->used = true;
	best->list_id = list_id;
	best->seq = ++x->seq;
	return best;
}

static void result_end(struct xcopy_result *r, const struct scsi_task *t, uint16_t segs, uint64_t bytes)
{
	r->in_progress = false;
	r->status = t->status;
	r->segs = segs;
	r->bytes = bytes;
	r->sense_len = t->sense_len;
	memcpy(r->sense, t->sense, t->sense_len);
}

/* ---------------------------------------------------------------- copy targets */

static bool lun_attached(const struct scsi_lun *lu)
{
	return atomic_load_explicit(&lu->tgt->luns[lu->id], memory_order_acquire) == lu;
}

/* SPC-4 7.8.6.6: a binary NAA designator with logical unit association. */
static bool cscd_names(const struct xcopy_cscd *c, const struct scsi_lun *lu)
{
	return c->desig_type == 0x3 && c->code_set == 0x1 && c->assoc == 0 && c->desig_len == lu->naa_len &&
	       memcmp(c->desig, lu->naa, lu->naa_len) == 0;
}

/* The LUN of this target an E4h descriptor names (the addressed LUN first),
 * pinned; NULL when no attached LUN has that designator. */
static struct scsi_lun *cscd_resolve(struct scsi_task *t, const struct xcopy_cscd *c)
{
	struct scsi_target *tgt = t->lu->tgt;
	size_t left = atomic_load_explicit(&tgt->nluns, memory_order_relaxed);

	if (cscd_names(c, t->lu) && scsi_lun_pin(tgt, t->lu))
		return t->lu;
	for (uint32_t i = 0; i < SCSI_LUN_MAX && left; i++) {
		struct scsi_lun *lu = atomic_load_explicit(&tgt->luns[i], memory_order_acquire);
		if (!lu)
			continue;
		left--;
		if (cscd_names(c, lu) && scsi_lun_pin(tgt, lu))
			return lu;
	}
	return NULL;
}

/* ---------------------------------------------------------------- the copy */

struct xcopy_op;

struct xcopy_chunk {
	struct xcopy_op *op;
	struct bdev_io io;
	struct iovec iov;
	uint8_t *buf;
	uint64_t dst_off;
	uint64_t written;               /* the write's length, while its late flush runs */
	bool busy;
};

struct xcopy_op {
	struct scsi_task *t;
	struct xcopy_result *res;
	struct xcopy_list l;
	struct scsi_lun *lu[XCOPY_MAX_CSCD];    /* resolved CSCDs, pinned */
	unsigned npinned;
	/* progress of the current segment */
	unsigned seg;
	uint64_t src_off, dst_off, seg_bytes, seg_issued;
	bool backward;                  /* overlapping, destination above source */
	unsigned depth, inflight;
	uint64_t bytes_done;
	bool failed, in_exec;
	/* The destination range of the current segment is held in the
	 * destination LUN's range lock (range_lock.c) like any WRITE; lk is the
	 * lock's task-shaped handle (lk.lu = destination LUN). */
	struct scsi_task lk;
	bool locking, locked;
	bool *done_in_exec;             /* set when finished inside scsi_xcopy_extended_copy() */
	struct xcopy_chunk ch[XCOPY_DEPTH];
};

/* COPY ABORTED carrying the copy target's own sense data (SPC-4 6.4.4 / 5.17.7.5):
 * COMMAND-SPECIFIC INFORMATION byte 0 (source) or 1 (destination) holds the
 * offset of that sense data, appended after the 18 fixed bytes. */
static void abort_target_sense(struct scsi_task *t, int seg, uint32_t field, bool dst, uint8_t sk, uint8_t asc,
			       uint8_t ascq)
{
	scsi_xcopy_aborted(t, ASC_NO_ADDITIONAL_SENSE, seg, field, -1);
	scsi_sense_build_fixed(&t->sense[SCSI_FIXED_SENSE_LEN], sk, asc, ascq);
	t->sense[dst ? 9 : 8] = SCSI_FIXED_SENSE_LEN;
	t->sense[7] = (uint8_t)(SCSI_FIXED_SENSE_LEN - 8 + SCSI_FIXED_SENSE_LEN);
	t->sense_len = 2 * SCSI_FIXED_SENSE_LEN;
}

static void op_free(struct xcopy_op *op)
{
	if (op->locked)
		scsi_range_unlock(&op->lk);
	for (unsigned i = 0; i < XCOPY_DEPTH; i++)
		buf_free(op->ch[i].buf, XCOPY_CHUNK);
	for (unsigned i = 0; i < op->npinned; i++)
		scsi_lun_unpin(op->lu[i]);
	free(op);
}

static void op_finish(struct xcopy_op *op)
{
	struct scsi_task *t = op->t;

	if (!op->failed) {
		if (t->aborted)
			scsi_task_set_status(t, SCSI_STATUS_TASK_ABORTED, 0, 0, 0);
		else
			scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	}
	if (op->res)
		result_end(op->res, t, (uint16_t)(op->failed ? op->seg : op->l.nseg), op->bytes_done);
	if (op->failed)
		qb_log(LOG_DEBUG, "scsi: %s LUN %u: EXTENDED COPY list %u failed in segment %u: %x/%02x/%02x",
		       t->lu->tgt->name, t->lu->id, op->l.list_id, op->seg, t->sense[2] & 0x0f, t->sense[12],
		       t->sense[13]);
	t->priv = NULL;
	bool async = !op->in_exec;
	if (!async)
		*op->done_in_exec = true;
	op_free(op);
	if (async)
		scsi_task_done(t);
}

static void seg_setup(struct xcopy_op *op)
{
	const struct xcopy_seg *s = &op->l.seg[op->seg];
	struct scsi_lun *src = op->lu[s->src], *dst = op->lu[s->dst];
	uint32_t unit = s->dc ? dst->block_size : src->block_size;

	op->src_off = s->src_lba << src->block_shift;
	op->dst_off = s->dst_lba << dst->block_shift;
	op->seg_bytes = (uint64_t)s->nblocks * unit;
	op->seg_issued = 0;
	op->backward = false;
	op->depth = XCOPY_DEPTH;
	/* Overlapping ranges of one LUN: SPC-4 leaves the result to the copy
	 * manager; we copy as if the whole source were read first (memmove),
	 * one chunk at a time, backwards when the destination lies above. */
	if (src->bdev == dst->bdev && op->src_off < op->dst_off + op->seg_bytes &&
	    op->dst_off < op->src_off + op->seg_bytes) {
		op->depth = 1;
		op->backward = op->dst_off > op->src_off;
	}
}

static void pump(struct xcopy_op *op);

/* Range lock granted (now, or later on this reactor). Never SCSI_DONE: the
 * lock is released by pump()/op_free(), not by the range lock code. */
static int seg_locked(struct scsi_task *lk)
{
	struct xcopy_op *op = container_of(lk, struct xcopy_op, lk);

	op->locked = true;
	if (!op->locking)
		pump(op);
	return SCSI_ASYNC;
}

/* Take the current segment's destination range; true when held now. */
static bool seg_lock(struct xcopy_op *op)
{
	const struct xcopy_seg *s = &op->l.seg[op->seg];
	struct scsi_lun *dst = op->lu[s->dst];
	uint64_t nblocks = op->seg_bytes >> dst->block_shift;

	if (nblocks == 0)
		return true;            /* nothing written, nothing to order */
	memset(&op->lk, 0, sizeof(op->lk));
	op->lk.itn = op->t->itn;
	op->lk.lu = dst;
	op->lk.lun = dst->id;
	op->locking = true;
	scsi_range_lock(&op->lk, s->dst_lba, nblocks, seg_locked);
	op->locking = false;
	return op->locked;
}

static void io_failed(struct xcopy_op *op, struct scsi_lun *lu, bool write, int err)
{
	uint8_t sk = SK_MEDIUM_ERROR, asc = 0x11, ascq = 0x00;      /* UNRECOVERED READ ERROR */

	if (err != -BDEV_E_NOT_ACTIVE)         /* scsi_sbc_io_error counts that one */
		atomic_fetch_add_explicit(&lu->errors, 1, memory_order_relaxed);
	if (op->failed)
		return;
	if (err == -BDEV_E_NOT_ACTIVE) {
		/* a replicated LUN's node was demoted mid-copy: the command's own
		 * NOT READY / ALUA transition, so that multipathing retries it on
		 * the new Primary's path (a medium error would be final) */
		op->failed = true;
		scsi_sbc_io_error(op->t, write, err);
		return;
	}
	if (write) {
		asc = 0x0c;                                         /* WRITE ERROR */
		if (err == -ENOSPC || err == -EDQUOT)
			sk = SK_DATA_PROTECT, asc = 0x27, ascq = 0x07;  /* SPACE ALLOCATION FAILED WRITE PROTECT */
		else if (err == -EROFS || err == -EPERM || err == -EACCES)
			sk = SK_DATA_PROTECT, asc = 0x27, ascq = 0x00;  /* WRITE PROTECTED */
	}
	op->failed = true;
	abort_target_sense(op->t, (int)op->seg, write ? 20 : 12, write, sk, asc, ascq);
}

/* A chunk's write (or the flush after it) completed. */
static void write_done(struct bdev_io *io)
{
	struct xcopy_chunk *ch = io->cb_arg;
	struct xcopy_op *op = ch->op;
	struct scsi_lun *dst = op->lu[op->l.seg[op->seg].dst];

	/* Sent without FUA under a write cache that is off now (MODE SELECT
	 * WCE=0 while it was in flight): the flush that came with the change
	 * may have run before it landed, and nobody will send another. It is
	 * flushed before the copy counts it, as WRITE does (sbc.c). */
	if (scsi_write_needs_flush(io, dst)) {
		ch->written = io->len;
		bdev_io_prep(&ch->io, &ch->iov, BDEV_IO_FLUSH, 0, 0, NULL, 0, write_done, ch);
		bdev_submit(dst->bdev, &ch->io);
		return;
	}
	uint64_t len = io->type == BDEV_IO_FLUSH ? ch->written : io->len;
	if (io->status) {
		io_failed(op, dst, true, io->status);
	} else {
		atomic_fetch_add_explicit(&dst->writes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&dst->write_bytes, len, memory_order_relaxed);
		op->bytes_done += len;
	}
	ch->busy = false;
	op->inflight--;
	pump(op);
}

static void read_done(struct bdev_io *io)
{
	struct xcopy_chunk *ch = io->cb_arg;
	struct xcopy_op *op = ch->op;
	const struct xcopy_seg *s = &op->l.seg[op->seg];
	struct scsi_lun *src = op->lu[s->src], *dst = op->lu[s->dst];
	uint64_t len = io->len;

	if (io->status || op->failed || op->t->aborted) {
		if (io->status)
			io_failed(op, src, false, io->status);
		ch->busy = false;
		op->inflight--;
		pump(op);
		return;
	}
	atomic_fetch_add_explicit(&src->reads, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&src->read_bytes, len, memory_order_relaxed);
	/* write-through => FUA, as WRITE; decided now, not when the copy
	 * started (a cache turned off since then makes it FUA) */
	bdev_io_prep(&ch->io, &ch->iov, BDEV_IO_WRITE, scsi_lun_write_flags(dst, false), ch->dst_off, ch->buf, len,
		     write_done, ch);
	bdev_submit(dst->bdev, &ch->io);
}

/* A LUN the descriptors name other than the addressed one (whose checks ran
 * before the command did): reservations (SPC-4 5.13.1) and sanitize state
 * (SBC-3 4.11) as if this nexus read or wrote it by a command of its own.
 * Sets the command's status and fails the copy when one refuses. */
static bool other_lun_refuses(struct xcopy_op *op, struct scsi_lun *src, struct scsi_lun *dst)
{
	struct scsi_task *t = op->t;

	if ((src != t->lu && scsi_resv_conflict_access(src, t->itn, false)) ||
	    (dst != t->lu && scsi_resv_conflict_access(dst, t->itn, true))) {
		op->failed = true;
		scsi_task_set_status(t, SCSI_STATUS_RESERVATION_CONFLICT, 0, 0, 0);
		return true;
	}
	for (int k = 0; k < 2; k++) {
		struct scsi_lun *lu = k ? dst : src;
		unsigned st = atomic_load_explicit(&lu->sanitize_state, memory_order_acquire);

		if (lu == t->lu || st == SCSI_SANITIZE_IDLE)
			continue;
		op->failed = true;
		if (st == SCSI_SANITIZE_RUNNING)
			abort_target_sense(t, (int)op->seg, k ? 6 : 4, k, SK_NOT_READY, ASC_SANITIZE_IN_PROGRESS);
		else
			abort_target_sense(t, (int)op->seg, k ? 6 : 4, k, SK_MEDIUM_ERROR, ASC_SANITIZE_FAILED);
		return true;
	}
	return false;
}

/* Whether the copy t (an EXTENDED COPY in progress) reads or writes LUN lun:
 * task management and PREEMPT AND ABORT of that LUN abort it too. */
bool scsi_xcopy_touches_lun(const struct scsi_task *t, uint64_t lun)
{
	const struct xcopy_op *op = t->priv;

	if (t->cdb[0] != 0x83 || !op)
		return false;
	for (unsigned i = 0; i < op->npinned; i++)
		if (op->lu[i] && op->lu[i]->id == lun)
			return true;
	return false;
}

/* Issue reads while there is room; segments run one after the other
 * (SPC-4 6.4.6.1: in list order), so the next starts once the current one
 * has fully landed. Finishes the command when nothing is left in flight. */
static void pump(struct xcopy_op *op)
{
	for (;;) {
		if (op->failed || op->t->aborted || op->seg >= op->l.nseg) {
			if (op->inflight == 0)
				op_finish(op);
			return;
		}
		if (op->seg_issued == op->seg_bytes) {
			if (op->inflight)
				return;
			if (op->locked) {
				op->locked = false;
				scsi_range_unlock(&op->lk);
			}
			if (++op->seg < op->l.nseg)
				seg_setup(op);
			continue;
		}
		if (!op->locked && !seg_lock(op))
			return;                 /* resumed by seg_locked() */
		if (op->inflight >= op->depth)
			return;
		const struct xcopy_seg *s = &op->l.seg[op->seg];
		struct scsi_lun *src = op->lu[s->src], *dst = op->lu[s->dst];
		/* A LUN detached mid-copy: stop now instead of holding the detach. */
		if (!lun_attached(src) || !lun_attached(dst)) {
			op->failed = true;
			scsi_xcopy_aborted(op->t, ASC_XCOPY_TARGET_NOT_REACHABLE, (int)op->seg,
					   lun_attached(src) ? 6 : 4, -1);
			continue;
		}
		/* The other LUNs' access is asked again for every chunk: a
		 * PREEMPT of this nexus' registration there (fence_scsi) must
		 * stop the copy writing into it, not only new commands */
		if (other_lun_refuses(op, src, dst))
			continue;
		struct xcopy_chunk *ch = NULL;
		for (unsigned i = 0; i < XCOPY_DEPTH && !ch; i++)
			if (!op->ch[i].busy)
				ch = &op->ch[i];
		if (!ch->buf && !(ch->buf = buf_alloc(XCOPY_CHUNK))) {
			if (op->inflight)
				return;         /* retry when a chunk comes back */
			op->failed = true;
			scsi_xcopy_aborted(op->t, ASC_INSUFFICIENT_RESOURCES, (int)op->seg, 0, -1);
			continue;
		}
		uint64_t len = op->seg_bytes - op->seg_issued;
		if (len > XCOPY_CHUNK)
			len = XCOPY_CHUNK;
		uint64_t rel = op->backward ? op->seg_bytes - op->seg_issued - len : op->seg_issued;
		op->seg_issued += len;
		op->inflight++;
		ch->busy = true;
		ch->op = op;
		ch->dst_off = op->dst_off + rel;
		bdev_io_prep(&ch->io, &ch->iov, BDEV_IO_READ, 0, op->src_off + rel, ch->buf, len, read_done, ch);
		bdev_submit(src->bdev, &ch->io);
	}
}

/* Check every segment against the LUNs it names before moving any data. */
static int check_segments(struct xcopy_op *op)
{
	struct scsi_task *t = op->t;

	for (unsigned i = 0; i < op->l.nseg; i++) {
		const struct xcopy_seg *s = &op->l.seg[i];
		struct scsi_lun *src = op->lu[s->src], *dst = op->lu[s->dst];
		uint32_t unit = s->dc ? dst->block_size : src->block_size;
		uint64_t bytes = (uint64_t)s->nblocks * unit;

		/* Residues (a byte count that is not a whole number of blocks of
		 * both devices) and segments over the advertised length. */
		if ((bytes & (src->block_size - 1)) || (bytes & (dst->block_size - 1)) ||
		    bytes > XCOPY_MAX_SEG_BYTES)
			return scsi_task_invalid_param(t, (uint16_t)(s->off + 10), -1);
		if (!scsi_lba_range_ok(src, s->src_lba, bytes >> src->block_shift)) {
			abort_target_sense(t, (int)i, 12, false, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
			return SCSI_DONE;
		}
		if (!scsi_lba_range_ok(dst, s->dst_lba, bytes >> dst->block_shift)) {
			abort_target_sense(t, (int)i, 20, true, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
			return SCSI_DONE;
		}
		if (bytes && scsi_lun_write_protected(dst)) {
			abort_target_sense(t, (int)i, 6, true, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
			return SCSI_DONE;
		}
		/* The addressed LUN's reservations were checked before the command
		 * ran; the other LUNs the descriptors name are read or written by
		 * this nexus just the same (SPC-4 5.13.1), and pump() asks again
		 * for every chunk */
		op->seg = i;
		if (bytes && other_lun_refuses(op, src, dst))
			return SCSI_DONE;
	}
	return -1;
}

/* Resolve and pin every CSCD descriptor (SPC-4 6.4.5.9: the designator is
 * matched against the LUNs of this target). */
static int resolve_cscds(struct xcopy_op *op)
{
	struct scsi_task *t = op->t;

	for (unsigned i = 0; i < op->l.ncscd; i++) {
		const struct xcopy_cscd *c = &op->l.cscd[i];
		struct scsi_lun *lu = cscd_resolve(t, c);
		if (!lu)
			return scsi_xcopy_aborted(t, ASC_XCOPY_TARGET_NOT_REACHABLE, -1, c->off + 8, -1);
		op->lu[op->npinned++] = lu;
		if (c->disk_block_len && c->disk_block_len != lu->block_size)
			return scsi_xcopy_aborted(t, ASC_XCOPY_INCORRECT_TARGET_TYPE, -1, c->off + 29, -1);
	}
	return -1;
}

/* SPC-4 6.4 EXTENDED COPY (LID1), service action 00h of opcode 83h. */
int scsi_xcopy_extended_copy(struct scsi_task *t)
{
	uint32_t pll = get_be32(&t->cdb[10]);
	bool hdr_ok = false, record;
	struct xcopy_op *op;
	int rc;

	if (t->cdb[1] & 0x1f)           /* LID4 and the token service actions */
		return scsi_task_invalid_cdb(t, 1, 4);
	if (t->cdb[1] & 0xe0)
		return scsi_task_invalid_cdb(t, 1, 7);
	/* SPC-4 6.4.1: a zero PARAMETER LIST LENGTH copies nothing, not an error. */
	if (pll == 0) {
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	}
	if (scsi_task_data_out(t, pll) < pll)
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	op = calloc(1, sizeof(*op));
	if (!op) {
		scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
		return SCSI_DONE;
	}
	op->t = t;
	rc = scsi_xcopy_parse(t, t->buf, pll, &op->l, &hdr_ok);
	record = hdr_ok && op->l.usage != XCOPY_LID_NONE;
	if (rc < 0 && record) {
		struct xcopy_result *prev = result_find(t->itn, op->l.list_id);
		/* SPC-4 6.4.3: a list identifier in use by a running copy of this nexus */
		if (prev && prev->in_progress) {
			rc = scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_XCOPY_OPERATION_IN_PROGRESS);
			record = false;
		}
	}
	if (rc < 0 && results_in_progress(t->itn) >= XCOPY_MAX_CONCURRENT) {
		scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
		rc = SCSI_DONE;
		record = false;
	}
	if (rc < 0)
		rc = resolve_cscds(op);
	if (rc < 0)
		rc = check_segments(op);
	if (record) {
		op->res = result_slot(t->itn, op->l.list_id);
		if (op->res)
			op->res->in_progress = true;
	}
	if (rc >= 0) {
		if (op->res)
			result_end(op->res, t, 0, 0);
		op_free(op);
		return rc;
	}
	bool done = false;
	t->priv = op;
	op->in_exec = true;
	op->done_in_exec = &done;
	op->seg = 0;
	if (op->l.nseg)
		seg_setup(op);
	pump(op);
	if (done)
		return SCSI_DONE;       /* nothing to move (zero-length segments) */
	op->in_exec = false;        /* completions never run inside bdev_submit() */
	op->done_in_exec = NULL;
	return SCSI_ASYNC;
}

/* ---------------------------------------------------------------- RECEIVE COPY RESULTS */

/* SPC-4 6.18.5 OPERATING PARAMETERS (service action 03h). */
static uint32_t op_params(uint8_t *d)
{
	d[4] = 0x01;                                    /* SNLID: LIST ID USAGE 11b works */
	put_be16(&d[8], XCOPY_MAX_CSCD);
	put_be16(&d[10], XCOPY_MAX_SEGS);
	put_be32(&d[12], XCOPY_MAX_DESC_LIST);
	put_be32(&d[16], XCOPY_MAX_SEG_BYTES);
	put_be32(&d[20], XCOPY_MAX_INLINE);
	put_be32(&d[24], 0);                            /* HELD DATA LIMIT: none held */
	put_be32(&d[28], 0);                            /* no stream devices */
	put_be16(&d[34], XCOPY_MAX_CONCURRENT);         /* TOTAL CONCURRENT COPIES */
	d[36] = XCOPY_MAX_CONCURRENT;                   /* MAXIMUM CONCURRENT COPIES */
	d[37] = 9;                                      /* DATA SEGMENT GRANULARITY: 2^9 */
	d[43] = 2;                                      /* IMPLEMENTED DESCRIPTOR LIST LENGTH */
	d[44] = 0x02;                                   /* block -> block segment */
	d[45] = 0xe4;                                   /* identification CSCD descriptor */
	put_be32(d, 46 - 4);
	return 46;
}

/* SPC-4 6.18 RECEIVE COPY RESULTS for LID1 list identifiers (opcode 84h). */
int scsi_xcopy_receive_results(struct scsi_task *t)
{
	uint8_t sa = t->cdb[1] & 0x1f;
	uint32_t alloc = get_be32(&t->cdb[10]);
	uint8_t d[64 + SCSI_SENSE_MAX];
	struct xcopy_result *r;
	uint32_t len;

	if (t->cdb[1] & 0xe0)
		return scsi_task_invalid_cdb(t, 1, 7);
	memset(d, 0, sizeof(d));
	switch (sa) {
	case 0x03:
		return scsi_task_data_in(t, d, op_params(d), alloc);
	case 0x00:                      /* COPY STATUS (SPC-4 6.18.3) */
		r = result_find(t->itn, t->cdb[2]);
		if (!r)
			return scsi_task_invalid_cdb(t, 2, -1);
		put_be32(d, 8);
		/* COPY MANAGER STATUS: 00h in progress, 01h good, 02h with errors; HDD=0 */
		d[4] = r->in_progress ? 0x00 : r->status == SCSI_STATUS_GOOD ? 0x01 : 0x02;
		put_be16(&d[5], r->segs);
		if (r->bytes <= UINT32_MAX) {
			d[7] = 0x00;            /* TRANSFER COUNT UNITS: bytes */
			put_be32(&d[8], (uint32_t)r->bytes);
		} else {
			d[7] = 0x01;            /* kibibytes */
			put_be32(&d[8], (uint32_t)(r->bytes >> 10));
		}
		return scsi_task_data_in(t, d, 12, alloc);
	case 0x04:                      /* FAILED SEGMENT DETAILS (SPC-4 6.18.6) */
		r = result_find(t->itn, t->cdb[2]);
		if (!r)
			return scsi_task_invalid_cdb(t, 2, -1);
		if (r->in_progress || r->status == SCSI_STATUS_GOOD) {
			put_be32(d, 0);         /* nothing failed (yet) */
			return scsi_task_data_in(t, d, 4, alloc);
		}
		len = 60u + r->sense_len;
		put_be32(d, len - 4);
		d[56] = r->status;      /* EXTENDED COPY COMPLETION STATUS */
		put_be16(&d[58], r->sense_len);
		memcpy(&d[60], r->sense, r->sense_len);
		return scsi_task_data_in(t, d, len, alloc);
	default:
		return scsi_task_invalid_cdb(t, 1, 4);
	}
}

/* ---------------------------------------------------------------- VPD 8Fh */

/* One third-party copy descriptor: type, length, body, padded to 4 bytes. */
static uint8_t *tpc_desc(uint8_t *p, uint16_t type, const uint8_t *body, uint32_t blen)
{
	uint32_t total = (4 + blen + 3) & ~3u;

	put_be16(p, type);
	put_be16(&p[2], (uint16_t)(total - 4));
	memcpy(&p[4], body, blen);
	memset(&p[4 + blen], 0, total - 4 - blen);
	return p + total;
}

/* SPC-4 7.8.17 Third-party Copy VPD page. */
uint32_t scsi_xcopy_vpd_tpc(struct scsi_task *t, struct scsi_lun *lu, uint8_t *d)
{
	/* Supported Commands: 83h SA 00h; 84h SAs 00h, 03h, 04h */
	static const uint8_t cmds[] = { 8, 0x83, 1, 0x00, 0x84, 3, 0x00, 0x03, 0x04 };
	static const uint8_t descs[] = { 2, 0x02, 0xe4 };
	static const uint8_t cscd_ids[] = { 0, 0 };     /* no special CSCD IDs */
	uint8_t b[32];
	uint8_t *p = &d[4];

	(void)t;
	(void)lu;
	p = tpc_desc(p, 0x0001, cmds, sizeof(cmds));
	memset(b, 0, sizeof(b));                        /* Parameter Data */
	put_be16(&b[4], XCOPY_MAX_CSCD);
	put_be16(&b[6], XCOPY_MAX_SEGS);
	put_be32(&b[8], XCOPY_MAX_DESC_LIST);
	put_be32(&b[12], XCOPY_MAX_INLINE);
	p = tpc_desc(p, 0x0008, b, 28);
	p = tpc_desc(p, 0x0009, descs, sizeof(descs));  /* Supported Descriptors */
	p = tpc_desc(p, 0x000a, cscd_ids, sizeof(cscd_ids));
	memset(b, 0, sizeof(b));                        /* General Copy Operations */
	put_be32(&b[0], XCOPY_MAX_CONCURRENT);
	put_be32(&b[4], XCOPY_MAX_CONCURRENT);
	put_be32(&b[8], XCOPY_MAX_SEG_BYTES);
	b[12] = 9;                                      /* DATA SEGMENT GRANULARITY (log2) */
	p = tpc_desc(p, 0x8001, b, 32);
	return (uint32_t)(p - d);
}
