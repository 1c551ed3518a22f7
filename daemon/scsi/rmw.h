/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The read-modify-write state machine shared by COMPARE AND WRITE
 * (compare_write.c) and ORWRITE (orwrite.c), which differ only in the step
 * between the read and the write. It exists so that the range locking, the
 * medium buffer's life, the statistics and the error paths are written once:
 *
 *   range lock [lba, lba+n) -> buf_alloc(medium) (BUSY when the pool is dry)
 *   -> READ into medium -> merge() -> WRITE (the task's write flags)
 *   -> GOOD -> range unlock + task done
 *
 * A read or write error gets the sense READ/WRITE would give
 * (scsi_sbc_io_error). The write goes through the LUN's bdev like any other,
 * so replication (bdev_set_wrapper) mirrors it. */
#ifndef TANDEM_SCSI_RMW_H
#define TANDEM_SCSI_RMW_H
#include <stddef.h>
#include <stdint.h>
#include "scsi/scsi.h"

/* The command's merge step, on the task's reactor with the range held and
 * medium holding the n blocks just read (bytes long, 4096-aligned). Returns
 * the bytes-long buffer to write: medium itself (freed after the write) or
 * one of the task's (medium is freed before the write). Returns NULL after
 * setting the task's status (e.g. MISCOMPARE) to finish without writing. */
typedef uint8_t *(*scsi_rmw_merge_fn)(struct scsi_task *t, uint8_t *medium, size_t bytes);

/* Run the read-modify-write of [lba, lba+n) (n > 0) for t, writing with
 * wflags (scsi_lun_write_flags). Sets t->lba, t->nblocks, t->state and
 * t->rmw_merge; t->priv holds the medium buffer. Returns as scsi_range_lock() does. */
int scsi_rmw(struct scsi_task *t, uint64_t lba, uint32_t n, unsigned wflags, scsi_rmw_merge_fn merge);
#endif
