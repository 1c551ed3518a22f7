/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Shared plumbing of the backends (not for other layers): the per-reactor bdev
 * state, deferred completions, the work-queue path and the common open of a
 * file or block device. */
#ifndef TANDEM_BDEV_INTERNAL_H
#define TANDEM_BDEV_INTERNAL_H
#include <stdbool.h>
#include "bdev/bdev.h"

struct reactor;
struct reactor_timer;
struct blockio_reactor;

/* Per reactor (REACTOR_SLOT_BDEV), touched only by that reactor's thread. */
struct bdev_reactor {
	struct reactor *r;
	struct bdev_io *done_head, *done_tail;      /* completions for the idle hook */
	struct bdev_io *defer_head, *defer_tail;    /* work queue was full */
	struct reactor_timer *defer_timer;
	bool drain_posted;                          /* bdev_drain is in the mailbox */
	struct blockio_reactor *aio;                /* blockio.c, created lazily */
	bool hooked;                                /* idle and exit hooks registered */
};

/* Work-queue stages kept in io->iocb.data while the I/O is not in libaio. */
#define BDEV_STAGE_IO    ((void *)0)            /* do the whole I/O */
#define BDEV_STAGE_FLUSH ((void *)1)            /* only fdatasync (FUA fallback) */

/* The calling reactor's state, created on first use; NULL when out of memory. */
struct bdev_reactor *bdev_reactor_get(struct reactor *r);
/* Complete io with status soon from the owner's mailbox (never synchronously). */
void bdev_complete_later(struct bdev_io *io, int status);
/* Run the I/O (stage BDEV_STAGE_*) with blocking calls on a worker thread,
 * then io->cb on io->owner. */
void bdev_workq_submit(struct bdev_io *io, void *stage);
/* Blocking execution on b->fd: 0 or -errno. Used by workers. */
int bdev_sync_io(struct bdev *b, struct bdev_io *io);

/* Open p->path as file or block device, filling fd/size/geometry of b. With
 * want_direct, O_DIRECT is tried first; *direct says whether it is in use. */
int bdev_open_common(struct bdev *b, const struct bdev_params *p, bool want_direct,
		     bool *direct, char *err, size_t errlen);
/* bdev_ops.resize of the backends on a file or block device (b->fd). */
int bdev_fd_resize(struct bdev *b, uint64_t size, bool create, uint64_t *bytes, char *err, size_t errlen);
/* Validate block_size / size for backends without storage. */
int bdev_check_geometry(uint32_t block_size, uint64_t size, char *err, size_t errlen);

/* blockio.c hooks called from the per-reactor idle hook / teardown. */
void bdev_blockio_idle(struct bdev_reactor *st);
void bdev_blockio_reap_ring(struct bdev_reactor *st);
void bdev_blockio_reactor_fini(struct bdev_reactor *st);
/* Tests only: the RWF_* flags blockio sets on FUA writes (default RWF_DSYNC);
 * also forgets an earlier "kernel refuses them" verdict. */
void bdev_blockio_test_set_fua_flags(int rw_flags);
#endif
