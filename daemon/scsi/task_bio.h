/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One helper shared by the multi-step block commands (COMPARE AND WRITE,
 * WRITE SAME, UNMAP): submit the task's embedded bdev_io, so that each step
 * of their state machines is one line and none allocates. */
#ifndef TANDEM_SCSI_TASK_BIO_H
#define TANDEM_SCSI_TASK_BIO_H
#include <string.h>
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

/* SBC-3 4.5: [lba, lba+n) within the capacity, without wrapping. */
static inline bool scsi_lba_range_ok(const struct scsi_lun *lu, uint64_t lba, uint64_t n)
{
	return lba <= lu->nblocks && n <= lu->nblocks - lba;
}
#endif
