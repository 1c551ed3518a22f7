/* SPDX-License-Identifier: GPL-2.0-or-later */
/* SANITIZE (SBC-3 5.20, 4.11): OVERWRITE, BLOCK ERASE and EXIT FAILURE MODE.
 *
 * A sanitize operation belongs to the LUN, not to the command that started
 * it: a context of its own walks the whole LUN in bounded chunks
 * (SAN_CHUNK bytes, SAN_INFLIGHT requests in flight) on the reactor of the
 * command, so the reactor never blocks and memory does not grow with the
 * LUN. With IMMED=1 the command completes once its CDB and parameter list
 * are validated; with IMMED=0 it completes when the operation ends, or as
 * soon as it is aborted (ABORT TASK, LUN RESET, connection loss): the
 * operation itself carries on, as SBC-3 4.11.2 requires.
 *
 * While it runs, lu->sanitize_state is RUNNING and dispatch refuses every
 * command but INQUIRY, REPORT LUNS, REQUEST SENSE and MAINTENANCE IN
 * (REPORT SUPPORTED OPERATION CODES, REPORT TARGET PORT GROUPS) with NOT
 * READY, SANITIZE IN PROGRESS and a progress indication; REQUEST SENSE
 * returns the same. When it fails the LUN enters the sanitize failure mode:
 * medium access gets MEDIUM ERROR, SANITIZE COMMAND FAILED until a later
 * sanitize succeeds, or EXIT FAILURE MODE is accepted (only when the failed
 * operation had AUSE=1: restricted completion mode otherwise).
 *
 * OVERWRITE writes the initialization pattern, repeated within every logical
 * block, OVERWRITE COUNT times (inverted on alternate passes with INVERT=1,
 * the last pass always the pattern itself), each pass flushed to stable
 * storage before the next. BLOCK ERASE deallocates the LUN (UNMAP) when the
 * backend reads unmapped blocks back as zeroes, else zeroes it with
 * WRITE_ZEROES; reads succeed afterwards (VPD B1h WABEREQ=01b).
 * CRYPTOGRAPHIC ERASE is not supported (no media encryption): INVALID FIELD
 * IN CDB, WACEREQ=0 and no descriptor in REPORT SUPPORTED OPERATION CODES.
 *
 * The context holds the whole LUN in the LBA range lock for the duration, so
 * writes accepted just before the sanitize began finish first, and pins the
 * LUN like a task; a detached LUN stops the operation at the next chunk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "util/be.h"
#include "util/bufpool.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/scsi_pr.h"
#include "scsi/task_bio.h"

#define SAN_OVERWRITE 0x01
#define SAN_BLOCK_ERASE 0x02
#define SAN_CRYPTO_ERASE 0x03
#define SAN_EXIT_FAILURE_MODE 0x1f

#define SAN_CHUNK (1u << 20)            /* bytes per OVERWRITE write */
#define SAN_ERASE_CHUNK (64ull << 20)   /* bytes per UNMAP / WRITE_ZEROES */
#define SAN_INFLIGHT 4

struct san_ctx;
struct san_io {
	struct bdev_io io;
	struct iovec iov;
	struct san_ctx *c;
};

struct san_ctx {
	struct scsi_task lt;            /* holds the LUN's range lock (never completed) */
	struct scsi_lun *lu;
	struct scsi_task *t;            /* the IMMED=0 command, until it completes */
	enum bdev_io_type type;         /* WRITE, UNMAP or WRITE_ZEROES */
	uint8_t *pat;                   /* SAN_CHUNK (or LUN size) bytes of pattern */
	size_t pat_len;
	uint8_t *block;                 /* one block of initialization pattern */
	bool invert;
	unsigned passes, pass;
	bool ause;
	bool flushing;
	uint64_t size;                  /* bytes: the capacity when the operation started */
	uint64_t tail;                  /* bytes the device holds past it (bdev_extent) */
	uint64_t next, end;             /* bytes of the current pass */
	uint64_t done, total;           /* bytes over all passes, for the progress */
	unsigned inflight;
	int err;
	struct san_io io[SAN_INFLIGHT];
};

/* ---------------------------------------------------------------- sense */

/* Sense-key specific progress indication (SPC-4 4.5.2.4.4): SKSV, then the
 * fraction done in 65536ths. */
static void put_progress(uint8_t *fixed, unsigned progress)
{
	fixed[15] = 0x80;
	put_be16(&fixed[16], (uint16_t)(progress > 0xffff ? 0xffff : progress));
}

bool scsi_sanitize_sense(struct scsi_lun *lu, uint8_t *fixed)
{
	unsigned st;

	if (!lu)
		return false;
	st = atomic_load_explicit(&lu->sanitize_state, memory_order_acquire);
	if (st == SCSI_SANITIZE_RUNNING) {
		scsi_sense_build_fixed(fixed, SK_NOT_READY, ASC_SANITIZE_IN_PROGRESS);
		put_progress(fixed, atomic_load_explicit(&lu->sanitize_progress, memory_order_relaxed));
		return true;
	}
	if (st == SCSI_SANITIZE_FAILED || st == SCSI_SANITIZE_FAILED_AUSE) {
		scsi_sense_build_fixed(fixed, SK_MEDIUM_ERROR, ASC_SANITIZE_FAILED);
		return true;
	}
	return false;
}

/* Commands a device server processes during a sanitize operation (SBC-3
 * 4.11.3): they report, never touch the medium. */
static bool allowed_while_running(uint8_t op)
{
	return op == 0x12 /* INQUIRY */ || op == 0xa0 /* REPORT LUNS */ || op == 0x03 /* REQUEST SENSE */ ||
	       op == 0xa3 /* MAINTENANCE IN */;
}

bool scsi_sanitize_refuse_slow(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	uint8_t op = t->cdb[0];
	unsigned st = atomic_load_explicit(&lu->sanitize_state, memory_order_acquire);

	if (st == SCSI_SANITIZE_RUNNING) {
		if (allowed_while_running(op))
			return false;
		scsi_task_check(t, SK_NOT_READY, ASC_SANITIZE_IN_PROGRESS);
		put_progress(t->sense, atomic_load_explicit(&lu->sanitize_progress, memory_order_relaxed));
		return true;
	}
	if (st == SCSI_SANITIZE_FAILED || st == SCSI_SANITIZE_FAILED_AUSE) {
		/* SBC-3 4.11.4: medium access fails until the failure mode is
		 * left; SANITIZE itself is how it is left. */
		if (op == 0x48 || !(scsi_op_table[op].flags & SCSI_OPF_MEDIA))
			return false;
		scsi_task_check(t, SK_MEDIUM_ERROR, ASC_SANITIZE_FAILED);
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- the operation */

static void san_io_done(struct bdev_io *io);

static void san_progress(struct san_ctx *c)
{
	uint64_t p = c->total ? (uint64_t)((double)c->done / (double)c->total * 65536.0) : 0;
	atomic_store_explicit(&c->lu->sanitize_progress, (unsigned)(p > 0xffff ? 0xffff : p), memory_order_relaxed);
}

/* Build the chunk buffer for pass c->pass: the block pattern, inverted on
 * the passes SBC-3 5.20.2 says (INVERT=1: the last pass is never inverted). */
static void san_fill_pass(struct san_ctx *c)
{
	uint32_t bs = c->lu->block_size;
	bool inv = c->invert && ((c->passes - c->pass) % 2 == 0);

	for (size_t off = 0; off < c->pat_len; off += bs)
		memcpy(c->pat + off, c->block, bs);
	if (inv)
		for (size_t i = 0; i < c->pat_len; i++)
			c->pat[i] = (uint8_t)~c->pat[i];
}

static bool san_lun_attached(const struct san_ctx *c)
{
	return atomic_load(&c->lu->tgt->luns[c->lu->id]) == c->lu;
}

static void san_submit(struct san_ctx *c, struct san_io *s, enum bdev_io_type type, uint64_t off, uint64_t len)
{
	bdev_io_prep(&s->io, &s->iov, type, 0, off, type == BDEV_IO_WRITE ? c->pat : NULL, len, san_io_done, s);
	s->c = c;
	c->inflight++;
	bdev_submit(c->lu->bdev, &s->io);
}

static bool san_issue(struct san_ctx *c, struct san_io *s)
{
	uint64_t len, max;

	if (c->next >= c->end || c->err)
		return false;
	max = c->type == BDEV_IO_WRITE ? c->pat_len : SAN_ERASE_CHUNK;
	len = c->end - c->next;
	if (len > max)
		len = max;
	san_submit(c, s, c->type, c->next, len);
	c->next += len;
	return true;
}

/* Complete the IMMED=0 command (if still attached) with the given sense. */
static void san_task_finish(struct san_ctx *c, bool ok)
{
	struct scsi_task *t = c->t;

	if (!t)
		return;
	c->t = NULL;
	if (ok)
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	else if (c->err == -BDEV_E_NOT_ACTIVE)
		scsi_sbc_io_error(t, true, c->err);     /* NOT READY, ALUA state transition */
	else
		scsi_task_check(t, SK_MEDIUM_ERROR, ASC_SANITIZE_FAILED);
	scsi_task_done(t);
}

/* This node's operation, interrupted by a demotion: the new Primary's state
 * if its record came meanwhile (it may have left the failure mode already;
 * pr.c keeps it in sanitize_peer), else the failure mode the new Primary
 * holds too. */
static void san_interrupted(struct scsi_lun *lu, bool ause)
{
	unsigned peer = atomic_exchange(&lu->sanitize_peer, 0);

	atomic_store_explicit(&lu->sanitize_state, peer ? peer - 1 : scsi_sanitize_failed_state(ause),
			      memory_order_release);
}

/* The end record of an IMMED=0 operation on a replicated LUN (san_end): the
 * command's answer waits for it, as a MODE SELECT's does. t->state: the
 * operation's AUSE. */
static void san_end_record_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	struct scsi_lun *lu = t->lu;

	free(t->priv);
	t->priv = NULL;
	/* under the record's lock: a record from a new Primary is installed
	 * either before (kept in sanitize_peer) or after this decision */
	pthread_mutex_lock(&lu->pr->lock);
	atomic_store(&lu->sanitize_ending, false);
	if (io->status == -BDEV_E_NOT_ACTIVE)
		/* demoted before the peer held it: the new Primary holds the
		 * operation as interrupted, and so does this node */
		san_interrupted(lu, t->state);
	else
		atomic_store(&lu->sanitize_peer, 0);
	pthread_mutex_unlock(&lu->pr->lock);
	if (io->status) {
		qb_log(LOG_ERR, "scsi: %s LUN %u: the record after a sanitize did not reach the peer: %s",
		       lu->tgt->name, lu->id, strerror(-io->status));
		if (io->status != -BDEV_E_NOT_ACTIVE)
			atomic_store(&lu->mode_unsettled, true);
		/* NOT READY / ALUA transition when demoted (the initiator issues
		 * it again on the new Primary), else the error: the peer may
		 * still hold the operation as running, and a new SANITIZE is
		 * what settles both copies */
		scsi_sbc_io_error(t, true, io->status);
	} else {
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	}
	scsi_task_done(t);
}

/* A replicated LUN's end record. The IMMED=0 command, still attached, is
 * answered once the peer holds it (or counts as Outdated): GOOD before that
 * left a Primary that died right after it with a peer that, promoted, held
 * the operation as interrupted on a fully sanitized medium. The record is
 * always submitted: a node demoted meanwhile gets NOT_ACTIVE for it. Without
 * the command (IMMED=1, or aborted) the record goes without waiting. */
static void san_end_record(struct san_ctx *c)
{
	struct scsi_lun *lu = c->lu;
	struct scsi_task *t = c->t;
	uint8_t *rec = NULL;
	uint64_t seq = 0;
	size_t len;

	if (!t || !lu->pr || !lu->pr->replicated) {
		scsi_pr_record_send(lu, "a sanitize");
		san_task_finish(c, true);
		return;
	}
	c->t = NULL;
	pthread_mutex_lock(&lu->pr->lock);
	len = scsi_pr_record_next_locked(lu, &rec, &seq);
	if (len)
		atomic_store(&lu->sanitize_ending, true);
	pthread_mutex_unlock(&lu->pr->lock);
	if (!len) {
		/* done here, but the peer still holds it running: the
		 * initiator's retry sanitizes again and tells it */
		qb_log(LOG_ERR, "scsi: %s LUN %u: out of memory for the record after a sanitize", lu->tgt->name,
		       lu->id);
		scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
		scsi_task_done(t);
		return;
	}
	t->priv = rec;
	t->state = c->ause;
	/* the record's sequence number rides in bio.offset */
	scsi_task_bio_submit(t, BDEV_IO_STATE, 0, seq, rec, len, san_end_record_done);
}

static void san_end(struct san_ctx *c)
{
	struct scsi_lun *lu = c->lu;

	/* every chunk landed, but the node was demoted after the last of them
	 * and no command waits to learn it from the end record: the new Primary
	 * took the operation as interrupted, and so does this node (below) */
	if (!c->err && !c->t && lu->pr && lu->pr->replicated && !bdev_state_writable(lu->bdev))
		c->err = -BDEV_E_NOT_ACTIVE;
	bool ok = c->err == 0;

	if (ok) {
		atomic_store_explicit(&lu->sanitize_progress, 0, memory_order_relaxed);
		atomic_store_explicit(&lu->sanitize_state, SCSI_SANITIZE_IDLE, memory_order_release);
		qb_log(LOG_NOTICE, "scsi: %s LUN %u: sanitize complete", lu->tgt->name, lu->id);
		san_end_record(c);
	} else if (c->err == -BDEV_E_NOT_ACTIVE) {
		/* a replicated LUN's node was demoted under it: the erase stopped
		 * part way on both copies. The state travels in the LUN's record
		 * (pr.c): the peer, promoted, holds the operation as interrupted
		 * (failure mode) and so does this node, until a new SANITIZE
		 * succeeds on the Primary (or EXIT FAILURE MODE after AUSE=1);
		 * the initiator, told NOT READY (ALUA transition), issues it
		 * there. The new Primary's push replaces this node's state. */
		atomic_store_explicit(&lu->sanitize_progress, 0, memory_order_relaxed);
		san_interrupted(lu, c->ause);
		qb_log(LOG_WARNING, "scsi: %s LUN %u: sanitize interrupted: this node is no longer Primary",
		       lu->tgt->name, lu->id);
	} else {
		atomic_fetch_add_explicit(&lu->errors, 1, memory_order_relaxed);
		atomic_store_explicit(&lu->sanitize_state, scsi_sanitize_failed_state(c->ause), memory_order_release);
		qb_log(LOG_ERR, "scsi: %s LUN %u: sanitize failed: %s", lu->tgt->name, lu->id, strerror(-c->err));
		scsi_pr_record_send(lu, "a failed sanitize");
	}
	san_task_finish(c, ok);
	scsi_range_unlock(&c->lt);
	if (c->pat)
		buf_free(c->pat, c->pat_len);
	free(c->block);
	free(c);
	atomic_fetch_sub_explicit(&lu->inflight, 1, memory_order_release); /* unpin */
}

/* Start pass c->pass, or the end of the operation. */
static void san_next_pass(struct san_ctx *c)
{
	if (c->err || c->pass >= c->passes) {
		san_end(c);
		return;
	}
	c->next = 0;
	c->end = c->size + c->tail;
	if (c->type == BDEV_IO_WRITE)
		san_fill_pass(c);
	for (int i = 0; i < SAN_INFLIGHT; i++)
		if (!san_issue(c, &c->io[i]))
			break;
	if (c->inflight == 0) {         /* empty LUN */
		c->pass++;
		san_next_pass(c);
	}
}

static void san_io_done(struct bdev_io *io)
{
	struct san_io *s = io->cb_arg;
	struct san_ctx *c = s->c;

	c->inflight--;
	if (io->status) {
		if (!c->err)
			c->err = io->status;
	} else if (io->type != BDEV_IO_FLUSH) {
		c->done += io->len;
		if (io->type == BDEV_IO_WRITE)
			atomic_fetch_add_explicit(&c->lu->write_bytes, io->len, memory_order_relaxed);
		san_progress(c);
	}
	/* The command was aborted: it leaves, the operation goes on. */
	if (c->t && c->t->aborted)
		san_task_finish(c, true);
	if (!c->err && !san_lun_attached(c))
		c->err = -ENODEV;
	if (io->type != BDEV_IO_FLUSH && san_issue(c, s))
		return;
	if (c->inflight)
		return;
	if (!c->err && !c->flushing) {
		/* end of a pass: on stable storage before the next one */
		c->flushing = true;
		san_submit(c, &c->io[0], BDEV_IO_FLUSH, 0, 0);
		return;
	}
	c->flushing = false;
	c->pass++;
	san_next_pass(c);
}

/* Runs once the whole LUN is held in the range lock. */
static int san_locked(struct scsi_task *lt)
{
	struct san_ctx *c = container_of(lt, struct san_ctx, lt);

	qb_log(LOG_NOTICE, "scsi: %s LUN %u: sanitize %s started (%u pass%s)", c->lu->tgt->name, c->lu->id,
	       c->type == BDEV_IO_WRITE ? "overwrite" : "block erase", c->passes, c->passes == 1 ? "" : "es");
	san_next_pass(c);
	return SCSI_ASYNC;
}

/* ---------------------------------------------------------------- the command */

/* OVERWRITE parameter list (SBC-3 5.20.2 table 70). Returns -1 when valid
 * (c filled), else SCSI_DONE with sense set. */
static int parse_overwrite(struct scsi_task *t, uint32_t plen, struct san_ctx *c)
{
	struct scsi_lun *lu = t->lu;
	const uint8_t *p = t->buf;
	uint32_t bs = lu->block_size;

	if (t->edtl < plen || scsi_task_data_out(t, plen) < plen)
		return scsi_task_check(t, SK_ILLEGAL_REQUEST, ASC_PARAMETER_LIST_LENGTH_ERROR);
	/* byte 0: INVERT (7), TEST (6-5, vendor specific: 0 only), OVERWRITE
	 * COUNT (4-0); byte 1 reserved; bytes 2-3 INITIALIZATION PATTERN LENGTH */
	if (p[0] & 0x60)
		return scsi_task_invalid_param(t, 0, 6);
	if (p[1])
		return scsi_task_invalid_param(t, 1, -1);
	if ((p[0] & 0x1f) == 0)
		return scsi_task_invalid_param(t, 0, 4);
	uint32_t ilen = get_be16(&p[2]);
	if (ilen == 0 || ilen > bs || ilen > plen - 4)
		return scsi_task_invalid_param(t, 2, -1);
	c->invert = p[0] & 0x80;
	c->passes = p[0] & 0x1f;
	c->block = malloc(bs);
	if (!c->block) {
		scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
		return SCSI_DONE;
	}
	/* the pattern repeated from the start of every logical block */
	for (uint32_t off = 0; off < bs; off += ilen)
		memcpy(c->block + off, p + 4, off + ilen <= bs ? ilen : bs - off);
	return -1;
}

int scsi_sbc_sanitize(struct scsi_task *t)
{
	struct scsi_lun *lu = t->lu;
	const uint8_t *cdb = t->cdb;
	uint8_t sa = cdb[1] & 0x1f;
	bool immed = cdb[1] & 0x80, ause = cdb[1] & 0x20;
	uint32_t plen = get_be16(&cdb[7]);
	unsigned st;
	int rc;

	/* SBC-3 5.20.1 table 68: byte 1 IMMED (7), reserved (6), AUSE (5),
	 * SERVICE ACTION (4-0); bytes 2-6 reserved. */
	if (cdb[1] & 0x40)
		return scsi_task_invalid_cdb(t, 1, 6);
	for (uint16_t i = 2; i <= 6; i++)
		if (cdb[i])
			return scsi_task_invalid_cdb(t, i, -1);
	/* SBC-3 5.20.1 table 69: PARAMETER LIST LENGTH per service action */
	switch (sa) {
	case SAN_OVERWRITE:
		if (plen <= 4 || plen > lu->block_size + 4u)
			return scsi_task_invalid_cdb(t, 7, -1);
		break;
	case SAN_BLOCK_ERASE:
	case SAN_EXIT_FAILURE_MODE:
		if (plen)
			return scsi_task_invalid_cdb(t, 7, -1);
		break;
	case SAN_CRYPTO_ERASE:          /* no media encryption */
	default:
		return scsi_task_invalid_cdb(t, 1, 4);
	}

	st = atomic_load_explicit(&lu->sanitize_state, memory_order_acquire);
	if (sa == SAN_EXIT_FAILURE_MODE) {
		/* SBC-3 4.11.4: only an unrestricted (AUSE=1) failure can be left
		 * this way; without a failure it does nothing. */
		if (st == SCSI_SANITIZE_FAILED)
			return scsi_task_invalid_cdb(t, 1, 4);
		if (st == SCSI_SANITIZE_FAILED_AUSE) {
			unsigned want = SCSI_SANITIZE_FAILED_AUSE;
			if (atomic_compare_exchange_strong(&lu->sanitize_state, &want, SCSI_SANITIZE_IDLE))
				scsi_pr_record_send(lu, "EXIT FAILURE MODE");
			qb_log(LOG_NOTICE, "scsi: %s LUN %u: sanitize failure mode exited", lu->tgt->name, lu->id);
		}
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
		return SCSI_DONE;
	}
	/* restricted completion mode: a new operation may not ask for AUSE=1 */
	if (st == SCSI_SANITIZE_FAILED && ause)
		return scsi_task_invalid_cdb(t, 1, 5);
	if (scsi_lun_write_protected(lu))
		return scsi_task_check(t, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);

	struct san_ctx *c = calloc(1, sizeof(*c));
	if (!c) {
		scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
		return SCSI_DONE;
	}
	c->lu = lu;
	c->ause = ause;
	if (sa == SAN_OVERWRITE) {
		if ((rc = parse_overwrite(t, plen, c)) >= 0) {
			free(c->block);
			free(c);
			return rc;
		}
		uint64_t size = lu->nblocks << lu->block_shift;
		c->type = BDEV_IO_WRITE;
		c->pat_len = size < SAN_CHUNK ? (size_t)size : SAN_CHUNK;
		if (c->pat_len < lu->block_size)
			c->pat_len = lu->block_size;
		c->pat = buf_alloc(c->pat_len);
		if (!c->pat) {
			free(c->block);
			free(c);
			scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
			return SCSI_DONE;
		}
	} else {
		/* SBC-3 4.11.5 block erase: deallocate when unmapped blocks read
		 * back as zeroes, else have the backend zero the blocks. */
		c->type = scsi_lbp_can_unmap(lu) && lu->bdev->unmap_zeroes ? BDEV_IO_UNMAP : BDEV_IO_WRITE_ZEROES;
		c->passes = 1;
	}
	/* One operation per LUN: from idle or from the failure mode. Under the
	 * LUN's lock, which a capacity change holds (scsi_target_resize_lun
	 * refuses while an operation runs): the whole capacity is sanitized. */
	pthread_mutex_lock(&lu->lock);
	bool started = st != SCSI_SANITIZE_RUNNING &&
		       atomic_compare_exchange_strong(&lu->sanitize_state, &st, SCSI_SANITIZE_RUNNING);
	c->size = atomic_load_explicit(&lu->nblocks, memory_order_acquire) << lu->block_shift;
	/* SBC-3 4.11: no user data may be recoverable from any area of the
	 * medium. The device may hold more than the capacity in service (a LUN
	 * shrunk, or configured below its file); a later grow would bring that
	 * data back, so it is sanitized too, under the range lock like the
	 * rest (a command admitted before a shrink may still write there). */
	uint64_t ext = started ? bdev_extent(lu->bdev) : 0;
	if (ext > c->size) {
		c->tail = ext - c->size;
		if (ext > atomic_load(&lu->bdev->size))
			bdev_set_size(lu->bdev, ext);
	}
	pthread_mutex_unlock(&lu->lock);
	c->total = (uint64_t)c->passes * (c->size + c->tail);
	if (!started) {
		if (c->pat)
			buf_free(c->pat, c->pat_len);
		free(c->block);
		free(c);
		scsi_task_check(t, SK_NOT_READY, ASC_SANITIZE_IN_PROGRESS);
		put_progress(t->sense, atomic_load_explicit(&lu->sanitize_progress, memory_order_relaxed));
		return SCSI_DONE;
	}
	atomic_store_explicit(&lu->sanitize_progress, 0, memory_order_relaxed);
	atomic_store(&lu->sanitize_ause, ause);
	atomic_store(&lu->sanitize_peer, 0);
	/* a replicated LUN: the peer learns that an operation runs before the
	 * first chunk reaches it (the record goes ahead of the chunks, which
	 * this reactor submits later), so that a failover mid-way leaves the
	 * new Primary in failure mode rather than serving a half-erased medium;
	 * no record, no operation */
	if (scsi_pr_record_send(lu, "a sanitize start") < 0) {
		atomic_store_explicit(&lu->sanitize_state, st, memory_order_release);
		if (c->pat)
			buf_free(c->pat, c->pat_len);
		free(c->block);
		free(c);
		scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
		return SCSI_DONE;
	}
	/* pin the LUN for the operation (the command's own pin may end first) */
	atomic_fetch_add(&lu->inflight, 1);
	atomic_fetch_add_explicit(&lu->writes, 1, memory_order_relaxed);
	c->lt.lu = lu;
	c->lt.itn = t->itn;
	c->lt.lun = t->lun;
	if (!immed) {
		c->t = t;
		scsi_range_lock(&c->lt, 0, (c->size + c->tail) >> lu->block_shift, san_locked);
		return SCSI_ASYNC;
	}
	/* IMMED=1: GOOD now that the CDB and parameter list are validated */
	scsi_range_lock(&c->lt, 0, (c->size + c->tail) >> lu->block_shift, san_locked);
	scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	return SCSI_DONE;
}
