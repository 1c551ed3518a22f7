/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The per-LUN LBA range lock, declared apart so that every writer (WRITE*,
 * WRITE SAME, UNMAP, COMPARE AND WRITE, EXTENDED COPY, later replication)
 * goes through one ordering point: overlapping writes run one after the other
 * in arrival order, unrelated ranges never wait, and a waiting task is queued,
 * never a blocked reactor thread.
 *
 * Usage from a handler (or a continuation on the task's reactor):
 *     return scsi_range_lock(t, lba, nblocks, start_io);
 * start_io(t) runs now when the range is free, else later on the reactor that
 * called scsi_range_lock(). It returns SCSI_DONE (status set: the range is
 * released, and when it ran deferred, scsi_task_done() is called) or
 * SCSI_ASYNC (then the completion path calls scsi_range_unlock() before
 * scsi_task_done(), or scsi_range_done() which does both). */
#ifndef TANDEM_SCSI_RANGE_LOCK_H
#define TANDEM_SCSI_RANGE_LOCK_H
#include <pthread.h>
#include <stdint.h>
#include "scsi/scsi.h"

struct scsi_range_lock {
	pthread_mutex_t mu;                 /* held for a list walk, never across I/O */
	struct scsi_range_hold *held;       /* granted ranges (unordered) */
	struct scsi_range_hold *wait_head, *wait_tail; /* queued, FIFO */
	uint32_t nheld, nwait;              /* statistics / tests */
};

void scsi_range_lock_init(struct scsi_range_lock *rl);
void scsi_range_lock_fini(struct scsi_range_lock *rl);

/* Acquire [lba, lba + nblocks) of t->lu for t and run fn(t) (see above).
 * nblocks 0 takes no lock. Returns fn's result, or SCSI_ASYNC when queued. */
int scsi_range_lock(struct scsi_task *t, uint64_t lba, uint64_t nblocks, int (*fn)(struct scsi_task *t));
/* Release t's range (no-op when it holds none) and start the queued writers
 * it was blocking, each on its own reactor. Any thread. */
void scsi_range_unlock(struct scsi_task *t);
/* scsi_range_unlock() then scsi_task_done(). */
void scsi_range_done(struct scsi_task *t);
/* Number of tasks holding / waiting on lu's lock (tests, status). */
void scsi_range_lock_counts(struct scsi_range_lock *rl, uint32_t *held, uint32_t *waiting);
#endif
