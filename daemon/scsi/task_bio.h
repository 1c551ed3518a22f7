/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the multi-step block commands (VERIFY, COMPARE AND WRITE,
 * ORWRITE, WRITE SAME, UNMAP, EXTENDED COPY): submit the task's embedded
 * bdev_io, so that each step of their state machines is one line and none
 * allocates a request; read a range into a buffer of its own to compare or
 * merge with what the initiator sent. */
#ifndef TANDEM_SCSI_TASK_BIO_H
#define TANDEM_SCSI_TASK_BIO_H
#include <string.h>
#include "util/bufpool.h"
#include "scsi/scsi_internal.h"

/* Submit t->bio (type, flags, byte range, optional single buffer); cb runs on
 * this reactor with io->cb_arg == t. Returns SCSI_ASYNC. */
static inline int scsi_task_bio_submit(struct scsi_task *t, enum bdev_io_type type, unsigned flags, uint64_t offset,
				       void *buf, uint64_t len, void (*cb)(struct bdev_io *))
{
	bdev_io_prep(&t->bio, &t->iov, type, flags, offset, buf, len, cb, t);
	bdev_submit(t->lu->bdev, &t->bio);
	return SCSI_ASYNC;
}

/* Read [lba, lba+n) into a buffer of its own: t->priv (cb frees it with
 * buf_free), t->nblocks = n. No buffer free: BUSY, the command ends here.
 * Returns SCSI_ASYNC, or SCSI_DONE on BUSY. */
static inline int scsi_task_read_medium(struct scsi_task *t, uint64_t lba, uint32_t n, void (*cb)(struct bdev_io *))
{
	size_t bytes = (size_t)n << t->lu->block_shift;
	uint8_t *medium = buf_alloc(bytes);

	if (!medium) {
		scsi_task_set_status(t, SCSI_STATUS_BUSY, 0, 0, 0);
		return SCSI_DONE;
	}
	t->priv = medium;
	t->nblocks = n;
	return scsi_task_bio_submit(t, BDEV_IO_READ, 0, lba << t->lu->block_shift, medium, bytes, cb);
}

/* SBC-3 4.5: [lba, lba+n) within the capacity, without wrapping. */
static inline bool scsi_lba_range_ok(const struct scsi_lun *lu, uint64_t lba, uint64_t n)
{
	uint64_t nblocks = atomic_load_explicit(&lu->nblocks, memory_order_acquire);

	return lba <= nblocks && n <= nblocks - lba;
}
#endif
