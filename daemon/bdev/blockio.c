/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The blockio backend: O_DIRECT reads and writes through libaio with one
 * io_context and one completion eventfd per reactor, submissions batched into
 * one io_submit per loop iteration; everything else goes to the worker pool.
 *
 * Completions cost no system call: the eventfd is edge-triggered and never
 * read (each completion is a new edge), and events are taken straight from
 * the completion ring the kernel maps at the io_context's address, as fio's
 * userspace_reap and SPDK's bdev_aio do; io_getevents() remains the fallback
 * for a ring whose layout we do not know, and for waiting at shutdown. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "reactor.h"
#include "bdev/bdev.h"
#include "bdev/bdev_internal.h"
#include "util/be.h"
#include "util/log.h"

#define BLOCKIO_BATCH 128           /* iocbs per io_submit / events per reap */
#define BLOCKIO_RETRY_MS 1          /* EAGAIN with nothing in flight */

/* Per reactor, reached through bdev_reactor.aio; owner thread only. */
struct blockio_reactor {
	io_context_t ctx;
	struct blockio_aio_ring *ring;  /* NULL: reap with io_getevents() */
	int efd;
	unsigned depth;             /* io_setup size: at most this many in flight */
	unsigned inflight;
	struct bdev_io *q_head, *q_tail;   /* prepared, not yet submitted */
	struct reactor_timer *retry_timer;
};

struct blockio_bdev {
	bool direct;                /* false: O_DIRECT refused, buffered on workers */
};

/* Set once the kernel refuses RWF_DSYNC in aio (EINVAL before 4.13, or
 * EOPNOTSUPP): FUA becomes write + fdatasync on a worker. */
static int blockio_no_rwf_dsync;
static int blockio_fua_flags = RWF_DSYNC;

void bdev_blockio_test_set_fua_flags(int rw_flags)
{
	__atomic_store_n(&blockio_fua_flags, rw_flags, __ATOMIC_RELAXED);
	__atomic_store_n(&blockio_no_rwf_dsync, 0, __ATOMIC_RELAXED);
}

static void blockio_complete_event(struct blockio_reactor *a, struct io_event *ev)
{
	struct bdev_io *io = container_of(ev->obj, struct bdev_io, iocb);
	long res = (long)ev->res;
	int status;

	a->inflight--;
	if (res >= 0 && (uint64_t)res < io->len && io->type == BDEV_IO_WRITE) {
		/* a short write (a file system filling up): again on a worker,
		 * whose blocking write of the rest reports why (ENOSPC) */
		bdev_workq_submit(io, BDEV_STAGE_IO);
		return;
	}
	if (res < 0)
		status = (int)res;
	else
		status = (uint64_t)res == io->len ? 0 : -EIO;
	if (status == 0 && io->iocb.data == BDEV_STAGE_FLUSH) {
		bdev_workq_submit(io, BDEV_STAGE_FLUSH);
		return;
	}
	if (status)
		qb_log(LOG_DEBUG, "blockio %s: %s at %llu+%llu failed: %s", io->bdev->path,
		       io->type == BDEV_IO_READ ? "read" : "write",
		       (unsigned long long)io->offset, (unsigned long long)io->len,
		       strerror(-status));
	io->status = status;
	io->cb(io);
}

/* The kernel's completion ring (fs/aio.c struct aio_ring), mapped read-write
 * into the process at the io_context_t address. The kernel writes events at
 * `tail`; whoever consumes them advances `head`. Only the reactor that owns
 * the context reads it, so there is no second consumer to race with. */
struct blockio_aio_ring {
	unsigned id;
	unsigned nr;                /* number of io_event slots */
	unsigned head;
	unsigned tail;
	unsigned magic;
	unsigned compat_features;
	unsigned incompat_features;
	unsigned header_length;     /* size of this header */
	struct io_event io_events[];
};
#define BLOCKIO_AIO_RING_MAGIC 0xa10a10a1u

static struct blockio_aio_ring *blockio_ring(io_context_t ctx)
{
	struct blockio_aio_ring *ring = (struct blockio_aio_ring *)ctx;

	if (ring->magic != BLOCKIO_AIO_RING_MAGIC || ring->incompat_features != 0 ||
	    ring->header_length != sizeof(*ring) || ring->nr == 0)
		return NULL;
	return ring;
}

/* Take up to `max` events from the ring without a system call. */
static int blockio_ring_take(struct blockio_aio_ring *ring, struct io_event *ev, int max)
{
	unsigned head = ring->head, tail, n = 0;

	tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);  /* events before tail are written */
	while (head != tail && n < (unsigned)max) {
		ev[n++] = ring->io_events[head];
		head = head + 1 == ring->nr ? 0 : head + 1;
	}
	if (n)
		__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);  /* slots free for the kernel */
	return (int)n;
}

/* Reap without waiting; returns the number of events handled or -errno. */
static int blockio_reap(struct blockio_reactor *a, const struct timespec *ts, long min_nr)
{
	struct io_event ev[BLOCKIO_BATCH];
	struct timespec t;
	int n, i, total = 0;

	for (;;) {
		if (a->ring && min_nr == 0) {
			n = blockio_ring_take(a->ring, ev, BLOCKIO_BATCH);
			for (i = 0; i < n; i++)
				blockio_complete_event(a, &ev[i]);
			total += n;
			if (n < BLOCKIO_BATCH)
				return total;
			continue;
		}
		t = *ts;
		n = io_getevents(a->ctx, min_nr, BLOCKIO_BATCH, ev, &t);
		if (n == -EINTR)
			continue;
		if (n < 0) {
			qb_log(LOG_ERR, "blockio: io_getevents failed: %s", strerror(-n));
			return n;
		}
		for (i = 0; i < n; i++)
			blockio_complete_event(a, &ev[i]);
		total += n;
		if (n < BLOCKIO_BATCH)
			return total;
	}
}

static void blockio_eventfd_cb(struct reactor *r, int fd, uint32_t events, void *arg)
{
	struct bdev_reactor *st = arg;
	struct blockio_reactor *a = st->aio;
	static const struct timespec zero = { 0, 0 };

	(void)r; (void)fd; (void)events;
	if (!a->ring) {
		/* io_getevents() reaping: keep the level-triggered counter honest */
		uint64_t cnt;
		if (read(fd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
			qb_log(LOG_ERR, "blockio: eventfd read failed: %s", strerror(errno));
	}
	blockio_reap(a, &zero, 0);
}

/* From the reactor's wake hook: what the ring holds, when it can be read. */
void bdev_blockio_reap_ring(struct bdev_reactor *st)
{
	static const struct timespec zero = { 0, 0 };
	struct blockio_reactor *a = st->aio;

	if (a->ring && a->inflight)
		blockio_reap(a, &zero, 0);
}

static int blockio_retry_timer(struct reactor *r, void *arg)
{
	struct bdev_reactor *st = arg;

	st->aio->retry_timer = NULL;
	bdev_blockio_idle(st);
	return -1;
}

static struct blockio_reactor *blockio_reactor_get(struct bdev_reactor *st, int *err)
{
	static const unsigned depths[] = { 1024, 256, 32 };
	struct blockio_reactor *a;
	unsigned i;
	int rc = -ENOMEM;

	if (st->aio)
		return st->aio;
	a = calloc(1, sizeof(*a));
	if (!a)
		goto err;
	for (i = 0; i < ARRAY_SIZE(depths); i++) {
		rc = io_setup((int)depths[i], &a->ctx);
		if (rc == 0)
			break;
	}
	if (rc) {
		qb_log(LOG_ERR, "blockio: io_setup failed: %s (see /proc/sys/fs/aio-max-nr)",
		       strerror(-rc));
		goto err_free;
	}
	a->depth = depths[i];
	a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->efd < 0) {
		rc = -errno;
		qb_log(LOG_ERR, "blockio: eventfd failed: %s", strerror(-rc));
		goto err_ctx;
	}
	a->ring = blockio_ring(a->ctx);
	if (!a->ring)
		qb_log(LOG_INFO, "blockio: unknown aio ring layout: reaping with io_getevents");
	/* with the ring, the eventfd is an edge-triggered doorbell that is never read */
	rc = reactor_add_fd(st->r, a->efd, a->ring ? EPOLLIN | EPOLLET : EPOLLIN, blockio_eventfd_cb, st);
	if (rc < 0) {
		qb_log(LOG_ERR, "blockio: cannot watch the completion eventfd: %s", strerror(-rc));
		goto err_efd;
	}
	st->aio = a;
	return a;

err_efd:
	close(a->efd);
err_ctx:
	io_destroy(a->ctx);
err_free:
	free(a);
err:
	*err = rc < 0 ? rc : -EIO;
	return NULL;
}

static void blockio_queue_pop(struct blockio_reactor *a)
{
	struct bdev_io *io = a->q_head;

	a->q_head = io->next;
	if (!a->q_head)
		a->q_tail = NULL;
	io->next = NULL;
}

void bdev_blockio_idle(struct bdev_reactor *st)
{
	struct blockio_reactor *a = st->aio;
	struct iocb *iocbs[BLOCKIO_BATCH];
	struct bdev_io *io;
	unsigned room, n;
	int rc, i;

	while (a->q_head && a->inflight < a->depth) {
		room = a->depth - a->inflight;
		if (room > BLOCKIO_BATCH)
			room = BLOCKIO_BATCH;
		n = 0;
		for (io = a->q_head; io && n < room; io = io->next)
			iocbs[n++] = &io->iocb;
		rc = io_submit(a->ctx, (long)n, iocbs);
		if (rc > 0) {
			/* A partial submit leaves the rest queued for the next round. */
			for (i = 0; i < rc; i++)
				blockio_queue_pop(a);
			a->inflight += (unsigned)rc;
			continue;
		}
		if (rc == 0 || rc == -EAGAIN || rc == -EINTR) {
			/* Out of kernel resources: completions in flight will
			 * wake us; with none, poll again shortly. Never spin. */
			if (!a->inflight && !a->retry_timer)
				a->retry_timer = reactor_timer_add(st->r, BLOCKIO_RETRY_MS,
								   blockio_retry_timer, st);
			return;
		}
		io = a->q_head;
		if ((rc == -EINVAL || rc == -EOPNOTSUPP) && io->iocb.aio_rw_flags) {
			/* Only FUA writes carry rw flags: retry this one as a
			 * plain write followed by fdatasync. */
			if (!__atomic_exchange_n(&blockio_no_rwf_dsync, 1, __ATOMIC_RELAXED))
				qb_log(LOG_WARNING, "blockio: kernel refuses RWF_DSYNC in aio (%s); "
				       "FUA writes are followed by fdatasync", strerror(-rc));
			io->iocb.aio_rw_flags = 0;
			io->iocb.data = BDEV_STAGE_FLUSH;
			continue;
		}
		blockio_queue_pop(a);
		qb_log(LOG_ERR, "blockio %s: io_submit failed: %s", io->bdev->path, strerror(-rc));
		bdev_complete_later(io, rc);
	}
}

void bdev_blockio_reactor_fini(struct bdev_reactor *st)
{
	struct blockio_reactor *a = st->aio;
	struct timespec ts = { 5, 0 };
	struct bdev_io *io;

	if (a->retry_timer)
		reactor_timer_cancel(st->r, a->retry_timer);
	a->retry_timer = NULL;
	while ((io = a->q_head)) {
		blockio_queue_pop(a);
		io->status = -ECANCELED;
		io->cb(io);
	}
	if (a->inflight) {
		qb_log(LOG_WARNING, "blockio: %u I/Os still in flight at shutdown; waiting",
		       a->inflight);
		while (a->inflight && blockio_reap(a, &ts, 1) > 0)
			;
	}
	reactor_del_fd(st->r, a->efd);
	close(a->efd);
	io_destroy(a->ctx);
	free(a);
	st->aio = NULL;
}

static int blockio_open(struct bdev *b, const struct bdev_params *p, char *err, size_t errlen)
{
	struct blockio_bdev *bb;
	bool direct = false;
	int rc;

	bb = calloc(1, sizeof(*bb));
	if (!bb) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = bdev_open_common(b, p, true, &direct, err, errlen);
	if (rc) {
		free(bb);
		return rc;
	}
	if (direct && !b->is_blockdev) {
		struct statx stx;

		/* The file system may need bigger alignment than the LUN's blocks. */
		if (statx(b->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 &&
		    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align &&
		    (stx.stx_dio_offset_align > b->block_size || stx.stx_dio_mem_align > 4096)) {
			qb_log(LOG_WARNING, "%s needs %u-byte aligned direct I/O, more than the "
			       "%u-byte blocks; using buffered I/O", b->path,
			       stx.stx_dio_offset_align, b->block_size);
			direct = false;
			if (fcntl(b->fd, F_SETFL, fcntl(b->fd, F_GETFL) & ~O_DIRECT) < 0) {
				rc = -errno;
				snprintf(err, errlen, "cannot turn off O_DIRECT on %s: %s",
					 b->path, strerror(-rc));
				close(b->fd);
				b->fd = -1;
				free(bb);
				return rc;
			}
		}
	}
	bb->direct = direct;
	b->page_cache = !direct;
	b->priv = bb;
	return 0;
}

static void blockio_close(struct bdev *b)
{
	free(b->priv);
	b->priv = NULL;
}

static void blockio_submit(struct bdev *b, struct bdev_io *io)
{
	struct blockio_bdev *bb = b->priv;
	struct bdev_reactor *st;
	struct blockio_reactor *a;
	int rc = 0;

	if (!bb->direct || (io->type != BDEV_IO_READ && io->type != BDEV_IO_WRITE)) {
		bdev_workq_submit(io, BDEV_STAGE_IO);
		return;
	}
	st = reactor_slot_get(io->owner, REACTOR_SLOT_BDEV);
	a = blockio_reactor_get(st, &rc);
	if (!a) {
		bdev_complete_later(io, rc);
		return;
	}
	if (io->type == BDEV_IO_READ)
		io_prep_preadv(&io->iocb, b->fd, io->iov, io->iovcnt, (long long)io->offset);
	else
		io_prep_pwritev(&io->iocb, b->fd, io->iov, io->iovcnt, (long long)io->offset);
	io_set_eventfd(&io->iocb, a->efd);
	io->iocb.data = BDEV_STAGE_IO;
	if (io->type == BDEV_IO_WRITE && (io->flags & BDEV_IO_F_FUA)) {
		if (__atomic_load_n(&blockio_no_rwf_dsync, __ATOMIC_RELAXED))
			io->iocb.data = BDEV_STAGE_FLUSH;
		else
			io->iocb.aio_rw_flags = __atomic_load_n(&blockio_fua_flags, __ATOMIC_RELAXED);
	}
	io->next = NULL;
	if (a->q_tail)
		a->q_tail->next = io;
	else
		a->q_head = io;
	a->q_tail = io;
}

const struct bdev_ops bdev_blockio_ops = {
	.name = "blockio",
	.open = blockio_open,
	.close = blockio_close,
	.submit = blockio_submit,
	.resize = bdev_fd_resize,
};
