/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The per-LUN LBA range lock that makes COMPARE AND WRITE atomic (SBC-3 5.2:
 * "the compare and write operations are performed as an uninterrupted
 * series of actions") against every other write of the LUN, and orders
 * overlapping writes FIFO for the replication layer.
 *
 * Tasks of one LUN run on several reactor threads, so the lock state sits
 * under a per-LUN mutex held only for a walk of the short lists of ranges in
 * flight. A task whose range overlaps a held range, or an earlier queued one
 * (FIFO: a stream of small writes cannot starve a queued big one), is queued;
 * when a range is released the queue is scanned in order and every task that
 * no longer conflicts is granted and resumed on its own reactor through
 * reactor_post(). The lock entry lives in the task: no allocation. */
#include <string.h>
#include "reactor.h"
#include "util/be.h"
#include "util/log.h"
#include "scsi/scsi_internal.h"
#include "scsi/range_lock.h"

enum { RANGE_NONE = 0, RANGE_WAITING = 1, RANGE_HELD = 2 };

void scsi_range_lock_init(struct scsi_range_lock *rl)
{
	memset(rl, 0, sizeof(*rl));
	pthread_mutex_init(&rl->mu, NULL);
}

void scsi_range_lock_fini(struct scsi_range_lock *rl)
{
	if (rl->held || rl->wait_head)
		qb_log(LOG_WARNING, "scsi: range lock destroyed with %u held, %u waiting", rl->nheld, rl->nwait);
	pthread_mutex_destroy(&rl->mu);
}

static inline bool overlaps(const struct scsi_range_hold *a, uint64_t lba, uint64_t end)
{
	return a->lba < end && lba < a->end;
}

static bool held_conflict(const struct scsi_range_lock *rl, uint64_t lba, uint64_t end)
{
	for (const struct scsi_range_hold *o = rl->held; o; o = o->next)
		if (overlaps(o, lba, end))
			return true;
	return false;
}

/* Queued entries ahead of `stop` (NULL: all of them). */
static bool waiter_conflict(const struct scsi_range_lock *rl, const struct scsi_range_hold *stop, uint64_t lba,
			    uint64_t end)
{
	for (const struct scsi_range_hold *o = rl->wait_head; o && o != stop; o = o->next)
		if (overlaps(o, lba, end))
			return true;
	return false;
}

static void held_push(struct scsi_range_lock *rl, struct scsi_range_hold *h)
{
	h->prev = NULL;
	h->next = rl->held;
	if (rl->held)
		rl->held->prev = h;
	rl->held = h;
	h->state = RANGE_HELD;
	rl->nheld++;
}

static void held_remove(struct scsi_range_lock *rl, struct scsi_range_hold *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		rl->held = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
	rl->nheld--;
}

static void wait_remove(struct scsi_range_lock *rl, struct scsi_range_hold *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		rl->wait_head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		rl->wait_tail = h->prev;
	h->prev = h->next = NULL;
	rl->nwait--;
}

/* Runs on the task's reactor once its range is granted. */
static void range_resume(void *arg)
{
	struct scsi_task *t = arg;
	int rc;

	if (t->aborted) {
		/* Aborted while queued (SAM-5 7.2): nothing was done. */
		scsi_task_set_status(t, SCSI_STATUS_TASK_ABORTED, 0, 0, 0);
		rc = SCSI_DONE;
	} else {
		rc = t->range.fn(t);
	}
	if (rc == SCSI_DONE)
		scsi_range_done(t);
}

int scsi_range_lock(struct scsi_task *t, uint64_t lba, uint64_t nblocks, int (*fn)(struct scsi_task *t))
{
	struct scsi_range_lock *rl = &t->lu->rlock;
	struct scsi_range_hold *h = &t->range;
	int rc;

	if (nblocks == 0)
		return fn(t);
	h->lba = lba;
	h->end = lba + nblocks;
	if (h->end < lba)               /* callers range-check; never wrap */
		h->end = UINT64_MAX;
	h->fn = fn;
	h->gnext = NULL;
	pthread_mutex_lock(&rl->mu);
	if (held_conflict(rl, h->lba, h->end) || waiter_conflict(rl, NULL, h->lba, h->end)) {
		h->owner = reactor_self();
		h->next = NULL;
		h->prev = rl->wait_tail;
		if (rl->wait_tail)
			rl->wait_tail->next = h;
		else
			rl->wait_head = h;
		rl->wait_tail = h;
		h->state = RANGE_WAITING;
		rl->nwait++;
		pthread_mutex_unlock(&rl->mu);
		return SCSI_ASYNC;
	}
	held_push(rl, h);
	pthread_mutex_unlock(&rl->mu);
	rc = fn(t);
	if (rc == SCSI_DONE)
		scsi_range_unlock(t);
	return rc;
}

void scsi_range_unlock(struct scsi_task *t)
{
	struct scsi_range_hold *h = &t->range, *w, *next, *grant = NULL, **gtail = &grant;
	struct scsi_range_lock *rl;

	if (h->state != RANGE_HELD || !t->lu)
		return;
	rl = &t->lu->rlock;
	pthread_mutex_lock(&rl->mu);
	held_remove(rl, h);
	h->state = RANGE_NONE;
	for (w = rl->wait_head; w; w = next) {
		next = w->next;
		/* Only entries that overlapped the released range can have been
		 * waiting for it; the others still wait for what blocked them. */
		if (!overlaps(w, h->lba, h->end) || held_conflict(rl, w->lba, w->end) ||
		    waiter_conflict(rl, w, w->lba, w->end))
			continue;
		wait_remove(rl, w);
		held_push(rl, w);
		w->gnext = NULL;
		*gtail = w;
		gtail = &w->gnext;
	}
	pthread_mutex_unlock(&rl->mu);
	while ((w = grant)) {
		struct scsi_task *wt = container_of(w, struct scsi_task, range);

		grant = w->gnext;
		w->gnext = NULL;
		if (w->owner)
			reactor_post(w->owner, range_resume, wt);
		else
			range_resume(wt);
	}
}

void scsi_range_done(struct scsi_task *t)
{
	scsi_range_unlock(t);
	scsi_task_done(t);
}

void scsi_range_lock_counts(struct scsi_range_lock *rl, uint32_t *held, uint32_t *waiting)
{
	pthread_mutex_lock(&rl->mu);
	if (held)
		*held = rl->nheld;
	if (waiting)
		*waiting = rl->nwait;
	pthread_mutex_unlock(&rl->mu);
}
