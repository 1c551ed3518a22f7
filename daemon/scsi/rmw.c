/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One read-modify-write state machine for COMPARE AND WRITE and ORWRITE,
 * which used to carry a copy each; only their merge step (compare, OR)
 * differs. See rmw.h for the sequence and the merge contract. */
#include "util/bufpool.h"
#include "scsi/scsi_internal.h"
#include "scsi/range_lock.h"
#include "scsi/task_bio.h"
#include "scsi/rmw.h"

static void rmw_write_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	struct scsi_lun *lu = t->lu;

	/* the cache went off while it was in flight (sbc.c) */
	if (scsi_write_needs_flush(io, lu)) {
		scsi_task_bio_submit(t, BDEV_IO_FLUSH, 0, 0, NULL, 0, rmw_write_done);
		return;
	}
	if (io->status) {
		scsi_sbc_io_error(t, true, io->status);
	} else {
		atomic_fetch_add_explicit(&lu->writes, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&lu->write_bytes, (uint64_t)t->nblocks << lu->block_shift,
					  memory_order_relaxed);
		scsi_task_set_status(t, SCSI_STATUS_GOOD, 0, 0, 0);
	}
	if (t->priv) {                  /* the merge wrote the medium buffer */
		buf_free(t->priv, (size_t)t->nblocks << lu->block_shift);
		t->priv = NULL;
	}
	scsi_range_done(t);
}

static void rmw_read_done(struct bdev_io *io)
{
	struct scsi_task *t = io->cb_arg;
	struct scsi_lun *lu = t->lu;
	uint8_t *medium = t->priv;
	size_t bytes = (size_t)t->nblocks << lu->block_shift;
	uint8_t *out = NULL;

	if (io->status) {
		scsi_sbc_io_error(t, false, io->status);
	} else {
		atomic_fetch_add_explicit(&lu->reads, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&lu->read_bytes, io->len, memory_order_relaxed);
		out = t->rmw_merge(t, medium, bytes);
	}
	if (out != medium) {
		buf_free(medium, bytes);
		t->priv = NULL;
	}
	if (!out) {
		scsi_range_done(t);
		return;
	}
	/* FUA as the cache mode is now (MODE SELECT may have turned it off
	 * while this waited), or as the CDB asked (t->state) */
	scsi_task_bio_submit(t, BDEV_IO_WRITE, t->state | scsi_lun_write_flags(lu, false), t->lba << lu->block_shift,
			     out, bytes, rmw_write_done);
}

/* Runs with [lba, lba+n) held. */
static int rmw_locked(struct scsi_task *t)
{
	t->status = SCSI_STATUS_GOOD;
	return scsi_task_read_medium(t, t->lba, t->nblocks, rmw_read_done);
}

int scsi_rmw(struct scsi_task *t, uint64_t lba, uint32_t n, unsigned wflags, scsi_rmw_merge_fn merge)
{
	t->lba = lba;
	t->nblocks = n;
	t->state = wflags;
	t->rmw_merge = merge;
	return scsi_range_lock(t, lba, n, rmw_locked);
}
