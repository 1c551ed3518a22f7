/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The mirrored write path (protocol C): the replicating bdev wrapper, the
 * Primary's requests (activity log, local write and DATA to the peer in
 * parallel, completion when both are durable), degraded mode (bitmap and the
 * one-time "peer is Outdated" generation bump), and the peer's side that
 * applies DATA in order for overlapping ranges and acknowledges after its own
 * write completed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reactor.h"
#include "repl/repl_int.h"
#include "util/be.h"
#include "util/bufpool.h"
#include "util/log.h"

static void app_start(struct repl_req *rq);
static void al_wait_kick(struct repl_vol *v);
static void vc_flush_start(struct repl_vol *v);
static void app_peer_failed(struct repl_req *rq, bool count);
static void app_setup(struct repl_req *rq, struct bdev_io *io);

/* ---------------------------------------------------------------- slots */

struct repl_req *repl_req_get(struct repl_vol *v)
{
	struct repl_req *rq = v->free_slots;

	if (!rq)
		return NULL;
	v->free_slots = rq->free_next;
	uint32_t tag = rq->tag;
	memset(rq, 0, sizeof(*rq));
	rq->tag = tag;
	rq->v = v;
	return rq;
}

/* Slot or, for the peer/resync/verify side that cannot wait for one, a heap
 * request (tag UINT32_MAX); NULL when out of memory. */
struct repl_req *repl_req_get_any(struct repl_vol *v)
{
	struct repl_req *rq = repl_req_get(v);

	if (rq)
		return rq;
	rq = calloc(1, sizeof(*rq));
	if (rq) {
		rq->tag = UINT32_MAX;
		rq->v = v;
	}
	return rq;
}

void repl_req_put(struct repl_req *rq)
{
	struct repl_vol *v = rq->v;

	if (rq->buf)
		buf_free(rq->buf, rq->bufcap);
	rq->buf = NULL;
	free(rq->st_rec);
	rq->st_rec = NULL;
	if (rq->tag == UINT32_MAX) {
		free(rq);
		return;
	}
	if (rq->tag == REPL_PUSH_SLOT || rq->tag == REPL_VC_SLOT)
		return;                 /* not in the free list (internal_start) */
	rq->free_next = v->free_slots;
	v->free_slots = rq;
}

/* ---------------------------------------------------------------- upper completion */

static void upper_complete(void *arg)
{
	struct bdev_io *io = arg;

	io->cb(io);
}

/* On the I/O reactor: a batch of completions, chained through io->next. */
static void upper_complete_list(void *arg)
{
	struct bdev_io *io = arg;

	while (io) {
		struct bdev_io *next = io->next;
		io->next = NULL;
		io->cb(io);
		io = next;
	}
}

/* Repl reactor: completions are collected per I/O reactor during this loop
 * turn and handed back by repl_mirror_idle with one reactor_post per reactor
 * (one mailbox wakeup for a whole batch of DATA_ACKs or aio completions,
 * instead of an eventfd write per write). */
static void finish_upper(struct bdev_io *io, int status)
{
	struct repl_doneq *q = NULL;

	io->status = status;
	io->next = NULL;
	for (int i = 0; i < repl_eng.ndoneq; i++) {
		if (repl_eng.doneq[i].owner == io->owner) {
			q = &repl_eng.doneq[i];
			break;
		}
	}
	if (!q) {
		if (repl_eng.ndoneq == REPL_DONEQ_MAX) {
			reactor_post(io->owner, upper_complete, io);
			return;
		}
		q = &repl_eng.doneq[repl_eng.ndoneq++];
		q->owner = io->owner;
		q->head = NULL;
	}
	if (q->head)
		q->tail->next = io;
	else
		q->head = io;
	q->tail = io;
}

void repl_mirror_idle(void *arg)
{
	for (int i = 0; i < repl_eng.ndoneq; i++)
		reactor_post(repl_eng.doneq[i].owner, upper_complete_list, repl_eng.doneq[i].head);
	repl_eng.ndoneq = 0;
}

/* ---------------------------------------------------------------- helpers */

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

/* The request covers a block range (activity log, bitmap, range waits): not
 * a flush, not the state record. */
static bool op_ranged(int op)
{
	return op != REPL_OP_FLUSH && op != REPL_OP_STATE;
}

/* Our own requests (periodic flush, record push): nothing upstream waits. */
static bool req_internal(const struct repl_req *rq)
{
	return rq->upper == &rq->v->vc_io || rq->upper == &rq->v->st_io;
}

bool repl_vol_replicating(const struct repl_vol *v)
{
	return repl_conn_up() && (v->vs == VS_CONNECTED || v->vs == VS_SYNC_SOURCE);
}

/* An application request overlapping [off, off+len) is between arrival and completion. */
bool repl_vol_app_overlap(struct repl_vol *v, uint64_t off, uint64_t len)
{
	for (struct repl_link *l = v->active.next; l != &v->active; l = l->next) {
		struct repl_req *rq = rl_entry(l, struct repl_req, link);
		if (rq->kind == RQ_APP && overlaps(rq->off, rq->len, off, len))
			return true;
	}
	return false;
}

/* A resync or verify read of the range is in progress: application writes wait
 * so that resync data can never overtake (or be torn by) a newer write. */
static bool range_reading(struct repl_vol *v, uint64_t off, uint64_t len)
{
	if (v->rd_claim && overlaps(v->rd_claim_off, v->rd_claim_len, off, len))
		return true;            /* the next read waits for the writes before it */
	for (struct repl_link *l = v->active.next; l != &v->active; l = l->next) {
		struct repl_req *rq = rl_entry(l, struct repl_req, link);
		if ((rq->kind == RQ_RS_READ || rq->kind == RQ_OV_READ) && overlaps(rq->off, rq->len, off, len))
			return true;
	}
	return false;
}

/* Start again every request waiting in `waiting` (v->held, v->al_wait). The
 * whole list is taken first: app_start may put some of them back, in order. */
static void restart_waiting(struct repl_link *waiting)
{
	struct repl_link list;

	rl_init(&list);
	list.next = waiting->next;
	list.prev = waiting->prev;
	list.next->prev = &list;
	list.prev->next = &list;
	rl_init(waiting);
	while (!rl_empty(&list)) {
		struct repl_req *rq = rl_entry(list.next, struct repl_req, qlink);
		rl_del(&rq->qlink);
		app_start(rq);
	}
}

void repl_vol_release_held(struct repl_vol *v)
{
	if (rl_empty(&v->held) || v->keep_held)
		return;
	restart_waiting(&v->held);
}

/* ---------------------------------------------------------------- degraded: outdate the peer */

static void od_edit(struct repl_md_gen *gen, enum repl_disk_state *disk, uint32_t *flags, void *arg)
{
	if (!(*flags & REPL_MD_F_PEER_OUTDATED)) {
		repl_md_gen_new_current(gen);
		*flags |= REPL_MD_F_PEER_OUTDATED;
	}
	*flags &= ~(uint32_t)REPL_MD_F_CONNECTED;
}

struct od_job {
	struct repl_vol *v;
	int rc;
};

static void od_work(void *arg)
{
	struct od_job *j = arg;

	if (repl_eng.test_faults & REPL_TF_OD_DELAY)
		usleep(300 * 1000);
	/* The bitmap first: what the link's loss marked is on disk before a
	 * write completes without the peer. repl_vc_lost marks regions whose
	 * writes completed long ago: their activity-log extents may have been
	 * evicted (and their bitmap pages written) before the marks, so after
	 * a crash neither the log's replay nor the file would hold them, and
	 * the peer that lost them from its cache would resync without them. */
	j->rc = repl_md_bm_flush(j->v->md);
	if (j->rc == 0)
		j->rc = repl_md_edit(j->v, od_edit, NULL);
}

static void od_done(void *arg)
{
	struct od_job *j = arg;
	struct repl_vol *v = j->v;
	int rc = j->rc;

	free(j);
	if (rc < 0) {
		qb_log(LOG_ERR, "repl: %s: cannot record that the peer is Outdated; failing the writes that "
		       "would be acknowledged without it", v->name);
		v->od_state = OD_NONE;
	} else {
		struct repl_md_gen g = repl_md_get_gen(v->md);
		qb_log(LOG_WARNING, "repl: %s: continuing without the peer: it counts as Outdated, new data "
		       "generation %016llx (bitmap from %016llx)", v->name, (unsigned long long)g.current,
		       (unsigned long long)g.bitmap);
		v->od_state = OD_DONE;
		v->known_current = true;
	}
	while (!rl_empty(&v->od_wait)) {
		struct repl_req *rq = rl_entry(v->od_wait.next, struct repl_req, qlink);
		rl_del(&rq->qlink);
		if (rc < 0 && rq->status == 0)
			rq->status = -EIO;
		rq->pending &= ~PEND_PEER;
		/* app_maybe_done, via the common path */
		app_peer_failed(rq, false);
	}
	if (v->sent_state == false && repl_conn_up() && v->want_connect)
		repl_vol_send_state(v);
	repl_publish(v);
}

static void outdate_start(struct repl_vol *v)
{
	struct od_job *j = calloc(1, sizeof(*j));

	v->od_state = OD_RUNNING;
	if (!j || (j->v = v, repl_vol_job(v, od_work, od_done, j) < 0)) {
		free(j);
		j = calloc(1, sizeof(*j));
		if (j) {
			j->v = v;
			j->rc = -1;
			od_done(j);
		}
	}
}

/* Write the bitmap to disk (a job of the volume's, after those queued). */
static void bm_flush_work(void *arg)
{
	struct repl_vol *v = arg;

	if (repl_md_bm_flush(v->md) < 0)
		qb_log(LOG_ERR, "repl: %s: cannot write the out-of-sync regions to the metadata: after a crash "
		       "they may not be resynced (verify the pair: tandemctl verify)", v->name);
}

static void bm_flush_done(void *arg)
{
	(void)arg;
}

static void bm_flush_start(struct repl_vol *v)
{
	if (repl_vol_job(v, bm_flush_work, bm_flush_done, v) < 0)
		qb_log(LOG_ERR, "repl: %s: no memory to write the out-of-sync regions to the metadata", v->name);
}

static void app_maybe_done(struct repl_req *rq);

void repl_od_check(struct repl_vol *v)
{
	/* A node that once wrote alone (OD_DONE) and was then resynced as a
	 * target kept OD_DONE in memory while J_TARGET_DONE cleared the flag
	 * on disk: its next lost DATA completed with no generation bump and no
	 * fencing, and the reconnect decided "in sync" with the chunk dirty
	 * (test_repl_safety test_od_state_after_resync_as_target). */
	if (v->od_state == OD_DONE && v->md && !(repl_md_get_flags(v->md) & REPL_MD_F_PEER_OUTDATED))
		v->od_state = OD_NONE;
}

/* Fencing hooks (repl_fence.c): start the generation bump once the peer is
 * known Outdated or dead; or fail the frozen writes (never acknowledged). */
void repl_outdate_peer_start(struct repl_vol *v)
{
	if (v->od_state == OD_NONE)
		outdate_start(v);
}

void repl_vol_fail_frozen(struct repl_vol *v, int status)
{
	if (v->od_state != OD_NONE)
		return;         /* the bump runs: its od_done completes them */
	while (!rl_empty(&v->od_wait)) {
		struct repl_req *rq = rl_entry(v->od_wait.next, struct repl_req, qlink);
		rl_del(&rq->qlink);
		if (rq->status == 0)
			rq->status = status;
		rq->pending &= ~PEND_PEER;
		app_maybe_done(rq);
	}
	/* a negotiation waited for the answer (repl_vol_send_state) */
	if (v->reply_pending && !v->job_busy && repl_conn_up())
		repl_vol_send_state(v);
}

/* ---------------------------------------------------------------- primary requests */

static void app_maybe_done(struct repl_req *rq)
{
	struct repl_vol *v = rq->v;

	if (rq->pending)
		return;
	rl_del(&rq->link);
	v->n_app--;
	/* a flush of the peer unpinned extents (repl_vc_acked), or with none
	 * pinned, a write releases its own: requests waiting for room in the
	 * activity log try again */
	bool kick = rq->op == REPL_OP_FLUSH || (rq->al_ref && !repl_vc_pinned(v));
	if (rq->al_ref)
		repl_md_al_done(v->md, rq->off, rq->len);
	finish_upper(rq->upper, rq->status);
	repl_req_put(rq);
	repl_drain_kick();
	if (kick)
		al_wait_kick(v);
	if (v->rd_claim)
		repl_sync_claim_kick(v);
	/* a slot was freed, unless rq had one of its own (internal_start: the
	 * record's push, the FLUSH of the peer's cache; found by review, a NULL
	 * slot was taken here when one of those ended with every other slot busy) */
	struct repl_req *n;
	if (v->slot_wait_head && (n = repl_req_get(v)) != NULL) {
		struct bdev_io *io = v->slot_wait_head;
		v->slot_wait_head = io->next;
		if (!v->slot_wait_head)
			v->slot_wait_tail = NULL;
		io->next = NULL;
		app_setup(n, io);
		app_start(n);
	}
}

/* The peer did not get (or did not confirm) this request: record it in the
 * bitmap, and complete only once the peer counts as Outdated. */
static void app_peer_failed(struct repl_req *rq, bool count)
{
	struct repl_vol *v = rq->v;

	if ((rq->pending & PEND_PEER) && req_internal(rq)) {
		/* our own cache flush (repl_vc_lost marks) or record push (the
		 * next link pushes again): nothing waits on it */
		rq->pending &= ~PEND_PEER;
		rq->status = -EIO;
		app_maybe_done(rq);
		return;
	}
	if (rq->pending & PEND_PEER) {
		if (op_ranged(rq->op))
			repl_md_bm_set(v->md, rq->off, rq->len);
		if (count)
			v->peer_failures++;
		repl_od_check(v);
		if (v->od_state != OD_DONE) {
			rl_add_tail(&v->od_wait, &rq->qlink);
			/* fencing (repl_fence.c): frozen until the peer is Outdated or dead */
			if (v->od_state == OD_NONE && repl_fence_gate(v))
				outdate_start(v);
			return;
		}
		rq->pending &= ~PEND_PEER;
	}
	app_maybe_done(rq);
}

static void app_local_done(struct bdev_io *io)
{
	struct repl_req *rq = io->cb_arg;

	if (io->status) {
		qb_log(LOG_ERR, "repl: %s: local %s at %llu+%llu failed: %s", rq->v->name,
		       rq->op == REPL_OP_FLUSH ? "flush" : "write", (unsigned long long)rq->off,
		       (unsigned long long)rq->len, strerror(-io->status));
		rq->status = io->status;
		/* The peer may well have written it: the copies can differ here
		 * now (DRBD marks a request out of sync unless both sides
		 * succeeded). Marked before the activity log lets go of the
		 * extent; resynced from the Primary at the next negotiation
		 * (repl_md_missed_bump), or by `tandemctl verify --resync`. */
		if (op_ranged(rq->op) && !req_internal(rq)) {
			repl_md_bm_set(rq->v->md, rq->off, rq->len);
			repl_sync_redirty(rq->v, rq->off, rq->len);
			qb_log(LOG_ERR, "repl: %s: %llu+%llu marked out of sync (this disk failed the write, the peer "
			       "may have it): resynced from the Primary when the link renegotiates; if this disk is "
			       "failing, move the role to the peer first", rq->v->name,
			       (unsigned long long)rq->off, (unsigned long long)rq->len);
			repl_publish(rq->v);
		}
	}
	rq->pending &= ~PEND_LOCAL;
	app_maybe_done(rq);
}

static void app_send(struct repl_req *rq)
{
	struct repl_vol *v = rq->v;
	struct repl_conn *c = repl_eng.conn;
	uint8_t *f = rq->tx.hdr + REPL_HDR_SIZE;
	uint32_t crc = 0;

	memset(f, 0, REPL_DATA_SIZE);
	put_be64(f + REPL_DATA_OFFSET, rq->off);
	put_be32(f + REPL_DATA_LENGTH, (uint32_t)rq->len);
	f[REPL_DATA_OP] = (uint8_t)rq->op;
	f[REPL_DATA_IOFLAGS] = (uint8_t)rq->ioflags;
	if (rq->op == REPL_OP_STATE) {
		/* the record: OFFSET its sequence number, no block range */
		uint64_t seq = rq->upper->offset, len = rq->upper->len;
		rq->tx.iov = rq->upper->iov;
		rq->tx.iovcnt = rq->upper->iovcnt;
		unsigned level = repl_lus_level(c->version);
		if (level < BDEV_STATE_LEVEL_MODE) {
			/* an older peer: the newest record in the form it reads
			 * (its number is at least this one's) */
			uint8_t *rec = NULL;
			uint64_t s = 0;
			size_t n = repl_lus_snapshot(v, &rec, &s, level);
			if (n) {
				free(rq->st_rec);
				rq->st_rec = rec;
				rq->st_iov = (struct iovec){ rec, n };
				rq->tx.iov = &rq->st_iov;
				rq->tx.iovcnt = 1;
				seq = s > seq ? s : seq;
				len = n;
			}
		}
		put_be64(f + REPL_DATA_OFFSET, seq);
		put_be32(f + REPL_DATA_LENGTH, (uint32_t)len);
		rq->tx.paylen = len;
		crc = repl_crc_iov(rq->tx.iov, rq->tx.iovcnt, len);
	} else if (rq->op == REPL_OP_WRITE) {
		rq->tx.iov = rq->upper->iov;
		rq->tx.iovcnt = rq->upper->iovcnt;
		rq->tx.paylen = rq->len;
		crc = repl_crc_iov(rq->upper->iov, rq->upper->iovcnt, rq->len);
		if (repl_eng.corrupt_next_crc) {
			repl_eng.corrupt_next_crc = false;
			crc ^= 0x5a5a5a5au;
			qb_log(LOG_WARNING, "repl: test hook: sending DATA with a corrupted CRC");
		}
	} else {
		rq->tx.iov = NULL;
		rq->tx.iovcnt = 0;
		rq->tx.paylen = 0;
	}
	put_be32(f + REPL_DATA_CRC, crc);
	put_be32(f + REPL_DATA_TAG, rq->tag);
	if (rq->op == REPL_OP_FLUSH)
		repl_vc_flush_sent(v);
	repl_tx_req(c, rq, REPL_MSG_DATA, (uint32_t)v->index, REPL_DATA_SIZE);
	rq->pending |= PEND_TX;             /* the queue reads rq->upper's buffers until sent */
	rq->sent_ms = reactor_now_ms();
	rl_add_tail(&v->inflight, &rq->qlink);
}

struct al_job {
	struct repl_req *rq;
	int rc, err;
};

static void al_work(void *arg)
{
	struct al_job *j = arg;

	j->rc = repl_md_al_activate(j->rq->v->md, j->rq->off, j->rq->len);
	j->err = j->rc < 0 ? errno : 0;
}

/* A FLUSH to the peer now, for requests that wait for room in the activity
 * log: it releases the extents pinned for the peer's cache (repl_vcache.c).
 * One at a time, in a slot of its own (internal_start). */
static void al_wait_flush(struct repl_vol *v)
{
	if (v->pin_n[0] && v->vc_flushes == 0 && !v->vc_io_busy && repl_get_role() == REPL_ROLE_PRIMARY &&
	    repl_vol_replicating(v))
		vc_flush_start(v);
}

/* Start the requests that wait for room in the activity log again: extents
 * were unpinned or released meanwhile. */
static void al_wait_kick(struct repl_vol *v)
{
	if (!rl_empty(&v->al_wait))
		restart_waiting(&v->al_wait);
}

static void al_done(void *arg)
{
	struct al_job *j = arg;
	struct repl_req *rq = j->rq;
	struct repl_vol *v = rq->v;
	int rc = j->rc, err = j->err;

	free(j);
	if (rc < 0 && err == EAGAIN && (repl_vc_pinned(v) || v->n_app || ++rq->al_tries < 100)) {
		/* every extent of the log is in use by a write in flight or
		 * pinned for the peer's cache: wait for a flush of the peer
		 * (sent now) or for writes to complete. With neither left
		 * (they went while this job ran), try again at once; a log
		 * that stays full with nothing to free it fails the write. */
		if (!v->al_full_logged && repl_vc_pinned(v)) {
			qb_log(LOG_INFO, "repl: %s: activity log full of extents in use or pinned until the peer "
			       "flushes its cache: flushing the peer before new extents are written (logged once)",
			       v->name);
			v->al_full_logged = true;
		}
		if (!rq->al_waited) {
			rq->al_waited = true;
			v->al_waits++;
		}
		rl_add_tail(&v->al_wait, &rq->qlink);
		if (!repl_vc_pinned(v) && !v->n_app)
			al_wait_kick(v);
		else
			al_wait_flush(v);
		return;
	}
	if (rc < 0) {
		qb_log(LOG_ERR, "repl: %s: activity log update failed (%s): failing the write", rq->v->name,
		       strerror(err));
		rl_add_tail(&rq->v->active, &rq->link);
		rq->v->n_app++;
		rq->status = -EIO;
		rq->pending = 0;
		app_maybe_done(rq);
		return;
	}
	rq->al_ref = true;
	app_start(rq);
}

static void app_start(struct repl_req *rq)
{
	struct repl_vol *v = rq->v;

	if (repl_get_role() != REPL_ROLE_PRIMARY) {
		rl_add_tail(&v->active, &rq->link);
		v->n_app++;
		rq->status = -BDEV_E_NOT_ACTIVE;
		rq->pending = 0;
		app_maybe_done(rq);
		return;
	}
	/* wait for a negotiation in progress, or a resync/verify read of the range */
	if (v->vs == VS_NEGOTIATE || (op_ranged(rq->op) && range_reading(v, rq->off, rq->len))) {
		rl_add_tail(&v->held, &rq->qlink);
		return;
	}
	if (op_ranged(rq->op) && !rq->al_ref) {
		if (repl_md_al_hot(v->md, rq->off, rq->len)) {
			rq->al_ref = true;
		} else {
			struct al_job *j = calloc(1, sizeof(*j));
			if (j) {
				j->rq = rq;
				if (repl_workq(v, al_work, al_done, j) == 0)
					return;
				free(j);
			}
			rl_add_tail(&v->active, &rq->link);
			v->n_app++;
			rq->status = -ENOMEM;
			rq->pending = 0;
			app_maybe_done(rq);
			return;
		}
	}
	rl_add_tail(&v->active, &rq->link);
	v->n_app++;
	repl_eng.app_bytes_tick += rq->len;
	if (rq->op == REPL_OP_STATE) {
		/* the record has no local write: its user keeps it */
		rq->pending = PEND_PEER;
		if (repl_vol_replicating(v) && repl_eng.conn->version < 2) {
			qb_log(LOG_WARNING, "repl: %s: the peer speaks protocol version %u: persistent reservation "
			       "changes stay on this node (upgrade the peer)", v->name, repl_eng.conn->version);
			rq->pending = 0;
			app_maybe_done(rq);
			return;
		}
	} else {
		rq->pending = PEND_LOCAL | PEND_PEER;
		bdev_submit(v->lower, &rq->lower);
	}
	if (repl_vol_replicating(v))
		app_send(rq);
	else
		app_peer_failed(rq, false);
}

static void app_setup(struct repl_req *rq, struct bdev_io *io)
{
	struct repl_vol *v = rq->v;

	rq->kind = RQ_APP;
	rq->upper = io;
	rq->off = io->offset;
	rq->len = io->len;
	rq->ioflags = 0;
	switch (io->type) {
	case BDEV_IO_WRITE:
		rq->op = REPL_OP_WRITE;
		if (io->flags & BDEV_IO_F_FUA)
			rq->ioflags |= REPL_IOF_FUA;
		break;
	case BDEV_IO_FLUSH:
		rq->op = REPL_OP_FLUSH;
		rq->off = rq->len = 0;
		break;
	case BDEV_IO_STATE:
		rq->op = REPL_OP_STATE;
		rq->off = rq->len = 0;          /* no block range; app_send reads io */
		break;
	case BDEV_IO_UNMAP:
		rq->op = REPL_OP_UNMAP;
		if (v->lower->unmap_zeroes)
			rq->ioflags |= REPL_IOF_ZERO;
		break;
	default:
		rq->op = REPL_OP_WRITE_ZEROES;
		break;
	}
	memset(&rq->lower, 0, sizeof(rq->lower));
	rq->lower.type = io->type;
	rq->lower.flags = io->flags;
	rq->lower.offset = io->offset;
	rq->lower.len = io->len;
	rq->lower.iov = io->iov;
	rq->lower.iovcnt = io->iovcnt;
	rq->lower.cb = app_local_done;
	rq->lower.cb_arg = rq;
}

/* On the repl reactor: an application request arrives from an I/O reactor. */
static void app_arrive(void *arg)
{
	struct bdev_io *io = arg;
	struct repl_vol *v = io->bdev->priv;
	struct repl_req *rq;

	if (repl_get_role() != REPL_ROLE_PRIMARY || v->detaching) {
		finish_upper(io, -BDEV_E_NOT_ACTIVE);
		return;
	}
	if (io->type == BDEV_IO_STATE)     /* the newest record this node holds */
		repl_lus_store(v, io->iov[0].iov_base, io->len, io->offset, false, false);
	rq = repl_req_get(v);
	if (!rq) {
		io->next = NULL;
		if (v->slot_wait_tail)
			v->slot_wait_tail->next = io;
		else
			v->slot_wait_head = io;
		v->slot_wait_tail = io;
		return;
	}
	app_setup(rq, io);
	app_start(rq);
}

/* ---------------------------------------------------------------- link loss */

/* The transmit queue is done with a request's DATA / RS_DATA (written to the
 * socket, or dropped with the connection). A request whose peer part was
 * settled before that (this volume stopped replicating while the link stayed
 * up) completes only now: completing earlier would hand the initiator's buffer
 * back, and recycle the slot, while the queue still reads them. */
void repl_tx_released(struct repl_req *rq)
{
	if (rq->kind == RQ_APP) {
		if (rq->pending & PEND_TX) {
			rq->pending &= ~PEND_TX;
			app_maybe_done(rq);
		}
	} else if (rq->tx_orphan) {
		repl_req_put(rq);
	}
}

void repl_vol_link_down(struct repl_vol *v)
{
	while (!rl_empty(&v->inflight)) {
		struct repl_req *rq = rl_entry(v->inflight.next, struct repl_req, qlink);
		rl_del(&rq->qlink);
		app_peer_failed(rq, true);
	}
	if (repl_conn_up()) {
		/* the link stays: DATA already queued still goes out, and its late
		 * DATA_ACKs (the regions are in the bitmap anyway) must not kill it;
		 * taken after the loop above, whose completions can start a waiting
		 * write whose DATA leaves now too */
		v->stale_ack_epoch = repl_eng.conn->epoch;
		v->stale_ack_seq = repl_eng.conn->tx_seq;
	}
	/* what the peer acknowledged only into its volatile cache: out of sync,
	 * and the peer may be behind, like after a write it missed */
	repl_od_check(v);
	if (repl_vc_lost(v)) {
		if (repl_get_role() == REPL_ROLE_PRIMARY && v->od_state == OD_NONE && repl_fence_gate(v))
			outdate_start(v);       /* writes the bitmap, then the bump */
		else
			bm_flush_start(v);      /* the peer counts as Outdated already, or soon */
	}
	repl_sync_abort(v);
	if (v->vs != VS_STANDALONE)
		v->vs = VS_WAIT;
	repl_vol_maybe_behind(v);
	v->sent_state = false;
	v->have_peer_view = false;
	v->peer_disk = REPL_DISK_DUNKNOWN;
	repl_vol_release_held(v);
	al_wait_kick(v);                /* repl_vc_lost unpinned the extents */
	repl_publish(v);
}

/* This node stops replicating the volume until `tandemctl connect`: the
 * operator's disconnect, and a resync source whose disk cannot be read. */
void repl_vol_stop_replicating(struct repl_vol *v)
{
	if (repl_conn_up() && v->vs != VS_STANDALONE && v->vs != VS_WAIT)
		(void)repl_send(REPL_MSG_VOL_DETACH, v, REPL_DETACH_SIZE);
	v->want_connect = false;
	repl_vol_link_down(v);
	v->vs = VS_STANDALONE;
	repl_publish(v);
}

static void vc_io_done(struct bdev_io *io)
{
	((struct repl_vol *)io->cb_arg)->vc_io_busy = false;
}

/* Send one of our own requests (io embedded in the volume) to the peer only;
 * io->cb runs on this reactor when it is acknowledged or given up. The
 * record's push has a slot of its own: it must leave before the requests a
 * negotiation held, which may occupy every other slot. So has the FLUSH of
 * the peer's cache: the requests waiting for room in the activity log hold
 * their slots until it is acknowledged (al_wait), and every other slot may
 * be among them (found by review: with 511 such writes it was never sent). */
static bool internal_start(struct repl_vol *v, struct bdev_io *io, unsigned ioflags)
{
	struct repl_req *rq;

	if (io == &v->st_io || io == &v->vc_io) {
		uint32_t tag = io == &v->st_io ? REPL_PUSH_SLOT : REPL_VC_SLOT;
		rq = &v->slots[tag];
		memset(rq, 0, sizeof(*rq));
		rq->tag = tag;
		rq->v = v;
	} else {
		rq = repl_req_get(v);
	}
	if (!rq)
		return false;
	io->owner = repl_eng.r;
	app_setup(rq, io);
	rq->ioflags |= ioflags;
	rl_add_tail(&v->active, &rq->link);
	v->n_app++;
	rq->pending = PEND_PEER;
	app_send(rq);
	return true;
}

/* Our own FLUSH to the peer (repl_vcache.c): peer only, nothing waits on it. */
static void vc_flush_start(struct repl_vol *v)
{
	memset(&v->vc_io, 0, sizeof(v->vc_io));
	v->vc_io.type = BDEV_IO_FLUSH;
	v->vc_io.cb = vc_io_done;
	v->vc_io.cb_arg = v;
	v->vc_io_busy = internal_start(v, &v->vc_io, 0);
}

static void st_io_done(struct bdev_io *io)
{
	struct repl_vol *v = io->cb_arg;

	free(v->st_iov.iov_base);
	v->st_iov.iov_base = NULL;
	v->st_io_busy = false;
	if (v->st_push_again)
		repl_lus_push(v);
}

void repl_lus_push(struct repl_vol *v)
{
	uint8_t *rec;
	uint64_t seq = 0;
	size_t len;

	if (repl_get_role() != REPL_ROLE_PRIMARY || !atomic_load(&v->attached) || v->detaching ||
	    !repl_vol_replicating(v) || repl_eng.conn->version < 2)
		return;
	if (v->st_io_busy) {
		v->st_push_again = true;
		return;
	}
	v->st_push_again = false;
	len = repl_lus_snapshot(v, &rec, &seq, repl_lus_level(repl_eng.conn->version));
	if (!len)
		return;                 /* no LUN open and no record held */
	memset(&v->st_io, 0, sizeof(v->st_io));
	v->st_iov = (struct iovec){ rec, len };
	v->st_io.type = BDEV_IO_STATE;
	v->st_io.offset = seq;
	v->st_io.len = len;
	v->st_io.iov = &v->st_iov;
	v->st_io.iovcnt = 1;
	v->st_io.cb = st_io_done;
	v->st_io.cb_arg = v;
	v->st_io_busy = internal_start(v, &v->st_io, REPL_IOF_FORCE);     /* its own slot: never fails */
}

/* Primary: inflight DATA older than timeout_ms means the peer is stuck. */
void repl_mirror_tick(uint64_t now)
{
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];
		struct repl_req *rq;

		if (!rl_empty(&v->al_wait)) {
			/* a role change, or pins gone without a kick: try again */
			al_wait_flush(v);
			if (repl_get_role() != REPL_ROLE_PRIMARY || !repl_vc_pinned(v))
				al_wait_kick(v);
		}
		if (!atomic_load(&v->attached) || !repl_eng.conn)
			continue;
		rq = rl_first(&v->inflight, struct repl_req, qlink);
		if (rq && now - rq->sent_ms > repl_eng.timeout_ms) {
			repl_conn_fail(repl_eng.conn, "the peer did not acknowledge a write within timeout_ms");
			return;
		}
		if (repl_vc_flush_due(v, now) && repl_get_role() == REPL_ROLE_PRIMARY && repl_vol_replicating(v))
			vc_flush_start(v);
	}
}

int repl_h_data_ack(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = m->vol < REPL_MAX_VOLS ? c->peer_vols[m->vol] : NULL;
	uint32_t tag = get_be32(m->body + REPL_ACK_TAG);
	uint64_t seq = get_be64(m->body + REPL_ACK_SEQ);
	int status = (int)get_be32(m->body + REPL_ACK_STATUS);
	struct repl_req *rq;

	if (!v || tag >= REPL_REQ_SLOTS) {
		repl_conn_fail(c, "DATA_ACK for an unknown volume or request");
		return -1;
	}
	/* answers DATA of an earlier replication period of this volume (see
	 * link_down): ignored even when its request still waits in od_wait (a
	 * late error there would run link_down again and break off the
	 * negotiation that just started) */
	if (c->epoch == v->stale_ack_epoch && seq <= v->stale_ack_seq)
		return 0;
	rq = &v->slots[tag];
	if (rq->kind != RQ_APP || !rl_linked(&rq->qlink) || rq->seq != seq || rq->epoch != c->epoch ||
	    !(rq->pending & PEND_PEER)) {
		repl_conn_fail(c, "DATA_ACK does not match a request in flight");
		return -1;
	}
	rl_del(&rq->qlink);
	if (status) {
		qb_log(LOG_ERR, "repl: %s: the peer failed a mirrored write at %llu+%llu: %s", v->name,
		       (unsigned long long)rq->off, (unsigned long long)rq->len, strerror(status));
		app_peer_failed(rq, true);
		if (status == EIO)
			repl_conn_fail(c, "the peer's disk failed a write; resync after reconnect");
		else {
			repl_vol_link_down(v);
			repl_publish(v);
		}
		return 0;
	}
	repl_vc_acked(v, rq);
	rq->pending &= ~PEND_PEER;
	app_maybe_done(rq);
	return 0;
}

/* ---------------------------------------------------------------- peer side */

static bool papply_blocked(struct repl_vol *v, struct repl_req *rq)
{
	for (struct repl_link *l = v->papply.next; l != &rq->link; l = l->next) {
		struct repl_req *e = rl_entry(l, struct repl_req, link);
		if (overlaps(e->off, e->len, rq->off, rq->len))
			return true;
	}
	return false;
}

static void peer_done(struct bdev_io *io);

static void peer_do_submit(struct repl_req *rq)
{
	rq->submitted = true;
	rq->lower.cb = peer_done;
	rq->lower.cb_arg = rq;
	bdev_submit(rq->v->lower, &rq->lower);
}

void repl_peer_submit(struct repl_vol *v, struct repl_req *rq)
{
	rl_add_tail(&v->papply, &rq->link);
	if (!papply_blocked(v, rq))
		peer_do_submit(rq);
	else
		v->papply_waiting++;
}

static void peer_send_ack(struct repl_req *rq)
{
	uint8_t *b;

	if (!repl_conn_up() || repl_eng.conn->epoch != rq->epoch)
		return;
	b = repl_send(REPL_MSG_DATA_ACK, rq->v, REPL_ACK_SIZE);
	if (!b)
		return;
	put_be64(b + REPL_ACK_SEQ, rq->seq);
	put_be32(b + REPL_ACK_TAG, rq->peer_tag);
	put_be32(b + REPL_ACK_STATUS, (uint32_t)(rq->status < 0 ? -rq->status : rq->status));
}

static void peer_done(struct bdev_io *io)
{
	struct repl_req *rq = io->cb_arg;
	struct repl_vol *v = rq->v;

	rq->status = io->status;
	if (rq->kind == RQ_PEER) {
		if (io->status)
			qb_log(LOG_ERR, "repl: %s: mirrored write at %llu+%llu failed locally: %s", v->name,
			       (unsigned long long)rq->off, (unsigned long long)rq->len, strerror(-io->status));
		peer_send_ack(rq);
	} else {
		repl_sync_peer_req_done(rq);
	}
	rl_del(&rq->link);
	repl_req_put(rq);
	/* the rescan is quadratic in the requests applied: only when some wait */
	for (struct repl_link *l = v->papply.next; v->papply_waiting && l != &v->papply; l = l->next) {
		struct repl_req *e = rl_entry(l, struct repl_req, link);
		if (!e->submitted && !papply_blocked(v, e)) {
			v->papply_waiting--;
			peer_do_submit(e);
		}
	}
	if (rl_empty(&v->papply))
		repl_drain_kick();      /* a promotion waits for the former Primary's writes */
}

static void ack_now(struct repl_conn *c, struct repl_vol *v, const struct repl_msg *m, int err)
{
	struct repl_req tmp = { .v = v, .seq = m->seq, .peer_tag = get_be32(m->body + REPL_DATA_TAG),
				.epoch = c->epoch, .status = err };
	static struct repl_vol none;

	if (!v) {
		/* unknown volume: answer on behalf of "no volume" with the sender's index */
		none.index = (int)m->vol;
		tmp.v = &none;
	}
	peer_send_ack(&tmp);
}

int repl_h_data(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = m->vol < REPL_MAX_VOLS ? c->peer_vols[m->vol] : NULL;
	const uint8_t *b = m->body;
	struct repl_req *rq;
	uint64_t off = get_be64(b + REPL_DATA_OFFSET);
	uint32_t len = get_be32(b + REPL_DATA_LENGTH);
	uint8_t op = b[REPL_DATA_OP], fl = b[REPL_DATA_IOFLAGS];

	if (!v || !atomic_load(&v->attached) || v->detaching ||
	    !(v->vs == VS_CONNECTED || v->vs == VS_SYNC_TARGET)) {
		ack_now(c, v, m, ENODEV);
		return 0;
	}
	if (repl_get_role() == REPL_ROLE_PRIMARY) {
		qb_log(LOG_ERR, "repl: %s: refusing DATA from the peer: this node is Primary", v->name);
		ack_now(c, v, m, EROFS);
		return 0;
	}
	if (op == REPL_OP_STATE) {
		/* the Primary's reservation record: to the LUN, acknowledged once
		 * it holds it (and saved it when APTPL asks) */
		if (c->version < 2) {
			repl_conn_fail(c, "a state record on a protocol version 1 link");
			return -1;
		}
		int rc = repl_lus_store(v, m->payload, len, off, (fl & REPL_IOF_FORCE) != 0, true);
		if (rc < 0)
			qb_log(LOG_ERR, "repl: %s: the Primary's reservation record could not be installed", v->name);
		ack_now(c, v, m, rc < 0 ? EIO : 0);
		return 0;
	}
	if (op != REPL_OP_FLUSH && (off > v->size || len > v->size - off)) {
		ack_now(c, v, m, EINVAL);
		return 0;
	}
	rq = repl_req_get_any(v);
	if (!rq) {
		ack_now(c, v, m, ENOMEM);
		return 0;
	}
	rq->kind = RQ_PEER;
	rq->seq = m->seq;
	rq->peer_tag = get_be32(b + REPL_DATA_TAG);
	rq->epoch = c->epoch;
	rq->op = op;
	rq->off = op == REPL_OP_FLUSH ? 0 : off;
	rq->len = op == REPL_OP_FLUSH ? 0 : len;
	rq->lower.offset = off;
	rq->lower.len = len;
	switch (op) {
	case REPL_OP_WRITE:
		rq->buf = repl_conn_take_payload(c, &rq->bufcap);
		rq->iov = (struct iovec){ rq->buf, len };
		rq->lower.type = BDEV_IO_WRITE;
		rq->lower.flags = (fl & REPL_IOF_FUA) ? BDEV_IO_F_FUA : 0;
		rq->lower.iov = &rq->iov;
		rq->lower.iovcnt = 1;
		break;
	case REPL_OP_FLUSH:
		rq->lower.type = BDEV_IO_FLUSH;
		rq->lower.offset = rq->lower.len = 0;
		break;
	case REPL_OP_UNMAP:
		/* the Primary promised zeroes (LBPRZ): keep that promise here too */
		rq->lower.type = (fl & REPL_IOF_ZERO) && !v->lower->unmap_zeroes ? BDEV_IO_WRITE_ZEROES
										  : BDEV_IO_UNMAP;
		if (rq->lower.type == BDEV_IO_UNMAP && !v->lower->can_unmap)
			rq->lower.type = BDEV_IO_WRITE_ZEROES;
		break;
	default:
		rq->lower.type = BDEV_IO_WRITE_ZEROES;
		break;
	}
	repl_peer_submit(v, rq);
	return 0;
}

/* ---------------------------------------------------------------- the wrapper bdev */

/* On the I/O reactor (never the repl reactor's batches: those are its own). */
static void wrap_complete_post(struct bdev_io *io, int status)
{
	io->status = status;
	reactor_post(io->owner, upper_complete, io);
}

/* Per I/O reactor: writes submitted during one loop turn, handed to the repl
 * reactor with one reactor_post from an idle hook (a batch of SCSI writes
 * parsed from one socket read costs one mailbox wakeup, not one each). Order
 * is kept; overlapping writes never share a batch anyway (the SCSI range lock
 * submits the later one after the earlier completed). */
struct repl_ioq {
	struct bdev_io *head, *tail;
	bool direct;                        /* no idle hook: post each at once */
};

static void arrive_list(void *arg)
{
	struct bdev_io *io = arg;

	while (io) {
		struct bdev_io *next = io->next;
		io->next = NULL;
		app_arrive(io);
		io = next;
	}
}

static void ioq_flush(void *arg)
{
	struct repl_ioq *q = arg;
	struct bdev_io *list = q->head;

	if (!list)
		return;
	q->head = q->tail = NULL;
	if (repl_eng.r) {
		reactor_post(repl_eng.r, arrive_list, list);
		return;
	}
	while (list) {          /* replication stopped under us: nobody to serve them */
		struct bdev_io *io = list;
		list = io->next;
		io->next = NULL;
		io->status = -BDEV_E_NOT_ACTIVE;
		io->cb(io);
	}
}

static void ioq_exit(void *arg)
{
	struct reactor *r = arg;
	struct repl_ioq *q = reactor_slot_get(r, REACTOR_SLOT_REPL);

	if (!q)
		return;
	ioq_flush(q);
	reactor_slot_set(r, REACTOR_SLOT_REPL, NULL);
	free(q);
}

static struct repl_ioq *ioq_get(struct reactor *r)
{
	struct repl_ioq *q = reactor_slot_get(r, REACTOR_SLOT_REPL);

	if (q)
		return q;
	q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	if (reactor_add_exit_hook(r, ioq_exit, r) < 0) {
		free(q);
		return NULL;
	}
	q->direct = reactor_add_idle_hook(r, ioq_flush, q) < 0;
	reactor_slot_set(r, REACTOR_SLOT_REPL, q);
	return q;
}

static void wrap_submit(struct bdev *b, struct bdev_io *io)
{
	struct repl_vol *v = b->priv;

	if (repl_get_role() != REPL_ROLE_PRIMARY) {
		/* safety net: initiators see ALUA Standby before they get here */
		wrap_complete_post(io, -BDEV_E_NOT_ACTIVE);
		return;
	}
	if (io->type == BDEV_IO_READ) {
		bdev_submit(v->lower, io);          /* reads are local: straight to the backend */
		return;
	}
	struct reactor *self = reactor_self();
	struct repl_ioq *q = self && self != repl_eng.r ? ioq_get(self) : NULL;

	if (!q || q->direct) {
		reactor_post(repl_eng.r, app_arrive, io);
		return;
	}
	io->next = NULL;
	if (q->head)
		q->tail->next = io;
	else
		q->head = io;
	q->tail = io;
}

static void wrap_close(struct bdev *b)
{
	struct repl_vol *v = b->priv;

	if (v)
		repl_vol_detach(v);
}

/* A replicated LUN keeps the size its metadata (bitmap, activity log) and
 * the peer's device were made for: a new one would have to reach both nodes
 * and both metadata files together. Asked for "what the device holds" (size
 * 0), it answers its size while the device holds just that, and says so when
 * the device grew underneath (the reload then warns: `size: 0` is not what
 * it serves). */
static int wrap_resize(struct bdev *b, uint64_t size, bool create, uint64_t *bytes, char *err, size_t errlen)
{
	struct repl_vol *v = b->priv;
	uint64_t cur = atomic_load(&b->size), held = cur;
	char e[256];

	(void)create;
	if (size == 0 && v && v->lower && bdev_resize_prepare(v->lower, 0, false, &held, e, sizeof(e)) < 0)
		held = cur;             /* cannot tell: what it opened with */
	if ((size == 0 && held == cur) || size == cur) {
		*bytes = cur;
		return 0;
	}
	snprintf(err, errlen, "a replicated LUN does not change size online: its replication metadata and the peer's "
		 "copy hold %llu bytes%s (docs/REPLICATION.md, \"Size changes\")", (unsigned long long)cur,
		 size == 0 ? ", its device more now" : "");
	return -ENOTSUP;
}

static const struct bdev_ops repl_wrap_ops = {
	.name = "repl",
	.close = wrap_close,
	.submit = wrap_submit,
	.resize = wrap_resize,
	.state_attach = repl_lus_attach,       /* repl_lustate.c */
	.state_writable = repl_lus_writable,
};

/* At attach: CONNECTED belongs to an established link, PRIMARY to the role this
 * node holds (arg set: the LUN joins a Primary). */
static void attach_flags(struct repl_md_gen *gen, enum repl_disk_state *disk, uint32_t *flags, void *arg)
{
	*flags &= ~(uint32_t)(REPL_MD_F_PRIMARY | REPL_MD_F_CONNECTED);
	if (arg)
		*flags |= REPL_MD_F_PRIMARY;
}

struct attach_q {
	struct repl_vol *v;
	struct bdev *lower, *w;
	uint32_t flags;                 /* the metadata's flags as the LUN opened */
	int rc;
};

/* On the repl reactor: the engine-side state of a volume that opens. The tick,
 * the status publisher and the link's handlers read these fields of every
 * volume, attached or not, so they are set there and not on the thread that
 * opens the LUN (ThreadSanitizer found the race). */
static void attach_r(void *arg)
{
	struct attach_q *q = arg;
	struct repl_vol *v = q->v;
	uint32_t flags = q->flags;

	if (!v->slots)          /* kept across detach/attach: a late ack may still look at them */
		v->slots = calloc(REPL_REQ_SLOTS, sizeof(*v->slots));
	v->size = q->lower->size;
	v->chunk = repl_md_chunk_bytes(v->md);
	if (!v->slots || repl_vc_init(v) < 0) {
		q->rc = -1;
		return;
	}
	v->free_slots = NULL;
	for (int i = REPL_REQ_SLOTS - 1; i >= 0; i--) {
		memset(&v->slots[i], 0, sizeof(v->slots[i]));
		v->slots[i].tag = (uint32_t)i;
		v->slots[i].v = v;
		if (i == REPL_PUSH_SLOT || i == REPL_VC_SLOT)
			continue;
		v->slots[i].free_next = v->free_slots;
		v->free_slots = &v->slots[i];
	}
	v->wrapper = q->w;
	v->lower = q->lower;
	v->od_state = (flags & REPL_MD_F_PEER_OUTDATED) ? OD_DONE : OD_NONE;
	/* the peer may have written alone while this node was down */
	v->known_current = (flags & REPL_MD_F_PEER_OUTDATED) != 0;
	v->split_brain = (flags & REPL_MD_F_SPLIT_BRAIN) != 0;
	v->want_connect = !v->split_brain;
	v->vs = v->split_brain ? VS_STANDALONE : VS_WAIT;
	v->peer_disk = REPL_DISK_DUNKNOWN;
	v->detaching = false;
	atomic_store(&v->attached, true);
	repl_vol_attached(v);
	q->rc = 0;
}

struct bdev *repl_wrap(struct bdev *lower, const struct bdev_params *p, char *err, size_t errlen)
{
	struct repl_vol *v = repl_vol_find_id(p->volume_id);
	struct bdev *w;
	uint32_t flags;
	enum repl_disk_state disk;
	bool primary;

	if (!v) {
		snprintf(err, errlen, "replicated LUN with serial '%s' has no replication volume",
			 p->volume_id ? p->volume_id : "");
		return NULL;
	}
	if (atomic_load(&v->attached)) {
		snprintf(err, errlen, "%s is already open", v->name);
		return NULL;
	}
	if (!repl_vol_finish_close(v)) {
		snprintf(err, errlen, "%s: replication work of its previous open is still pending (local disk "
			 "stuck?): not opening it again until that ends", v->name);
		return NULL;
	}
	/* `size: 0` is the whole device: one grown since its metadata was made
	 * (an lvextend) keeps the size the metadata and the peer's copy hold,
	 * rather than failing to open (docs/REPLICATION.md, "Size changes") */
	uint64_t made = 0, dev = atomic_load(&lower->size);
	if (p->size == 0 && repl_md_dev_bytes(v->md_path, &made) == 0 && made && made < dev &&
	    made % lower->block_size == 0) {
		qb_log(LOG_WARNING, "repl: %s: the device holds %llu bytes, its replication metadata was made for "
		       "%llu: the LUN serves %llu (a replicated LUN does not change size)", v->name,
		       (unsigned long long)dev, (unsigned long long)made, (unsigned long long)made);
		bdev_set_size(lower, made);
	}
	char merr[256] = "";
	v->md = repl_md_open(v->md_path, lower->size, merr, sizeof(merr));
	if (!v->md) {
		snprintf(err, errlen, "%s: replication metadata %s: %s (create it with: tandemctl create-md %s)",
			 v->name, v->md_path, merr, v->name);
		return NULL;
	}
	/* Joining a Primary (a reload added the LUN, or took it out and back): it
	 * serves at once, so only with current data, and with the Primary flag
	 * that a crash must find in the metadata. Role changes and LUN opens both
	 * run on the main thread: the role cannot change under this check. */
	flags = repl_md_get_flags(v->md);
	disk = repl_md_get_disk(v->md);
	primary = repl_get_role() == REPL_ROLE_PRIMARY;
	/* A backing file that did not exist was just created, empty (`create:
	 * yes`), under metadata that has held data (it was connected, Primary,
	 * or wrote alone): the metadata's UpToDate would serve zeroes as the
	 * data. A path typo or a lost file, never a fresh device; the file is
	 * removed again so that the next start does not take it for the data. */
	if (lower->created && (flags & (REPL_MD_F_CONNECTED | REPL_MD_F_PRIMARY | REPL_MD_F_PEER_OUTDATED)) &&
	    disk != REPL_DISK_INCONSISTENT) {
		snprintf(err, errlen, "%s: backing file %s did not exist (created empty just now, removed again) but "
			 "its replication metadata %s describes data: check the path; to resync this node from the "
			 "peer, recreate the metadata (tandemctl create-md %s)", v->name, lower->path, v->md_path,
			 v->name);
		if (!lower->is_blockdev && unlink(lower->path) < 0)
			qb_log(LOG_ERR, "repl: %s: cannot remove %s: %s", v->name, lower->path, strerror(errno));
		goto close_md;
	}
	if (primary && (disk != REPL_DISK_UPTODATE || (flags & REPL_MD_F_SYNC_TARGET))) {
		snprintf(err, errlen, "%s: this node is Primary and the LUN's replication metadata says %s%s: a "
			 "replicated LUN joins a Primary only UpToDate (a new, zeroed device: tandemctl create-md %s "
			 "--new-device on both nodes); otherwise add it while this node is Secondary", v->name,
			 repl_disk_name(disk), (flags & REPL_MD_F_SYNC_TARGET) ? " (resync target)" : "", v->name);
		goto close_md;
	}
	if ((primary || (flags & (REPL_MD_F_PRIMARY | REPL_MD_F_CONNECTED))) &&
	    repl_md_edit(v, attach_flags, primary ? (void *)1 : NULL) < 0 && primary) {
		snprintf(err, errlen, "%s: cannot record the Primary role in %s", v->name, v->md_path);
		goto close_md;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		goto close_md;
	}
	w->ops = &repl_wrap_ops;
	snprintf(w->path, sizeof(w->path), "%s", lower->path);
	w->fd = lower->fd >= 0 ? dup(lower->fd) : -1;   /* GET LBA STATUS reads holes through it */
	w->size = lower->size;
	w->block_size = lower->block_size;
	w->phys_block_size = lower->phys_block_size;
	w->readonly = lower->readonly;
	w->is_blockdev = lower->is_blockdev;
	w->rotational = lower->rotational;
	w->page_cache = lower->page_cache;      /* reads lock their range on such devices (sbc.c) */
	w->can_unmap = lower->can_unmap;
	w->unmap_zeroes = lower->unmap_zeroes;
	w->priv = v;
	struct attach_q aq = { .v = v, .lower = lower, .w = w, .flags = flags };
	unsigned long long dirty = (unsigned long long)repl_md_bm_count(v->md);
	repl_call(attach_r, &aq);
	if (aq.rc < 0) {
		if (w->fd >= 0)
			close(w->fd);
		free(w);
		snprintf(err, errlen, "out of memory");
		goto close_md;
	}
	if (flags & REPL_MD_F_CRASHED_PRIMARY)
		qb_log(LOG_WARNING, "repl: %s: this node crashed while Primary: the extents of its activity log "
		       "are marked for resync", v->name);
	if (flags & REPL_MD_F_SPLIT_BRAIN)
		qb_log(LOG_CRIT, "repl: %s: SPLIT BRAIN recorded in the metadata: not connecting; resolve with "
		       "tandemctl discard-my-data %s on the node whose changes to drop, then tandemctl connect",
		       v->name, v->name);
	qb_log(LOG_INFO, "repl: %s attached%s (metadata %s, disk %s, %llu dirty chunk(s) of %u KiB)", v->name,
	       primary ? " to a Primary" : "", v->md_path, repl_disk_name(disk), dirty,
	       repl_md_chunk_bytes(v->md) / 1024);
	return w;

close_md:
	repl_md_close(v->md);
	v->md = NULL;
	return NULL;
}
