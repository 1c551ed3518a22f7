/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Volume negotiation on connect (VOL_STATE exchange and the generation-id
 * decision), bitmap exchange, resync (source streams dirty regions at a
 * limited rate, target writes them in order with mirrored writes), and online
 * verify (checksums per chunk compared on the peer). Repl reactor only. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "reactor.h"
#include "repl/repl_int.h"
#include "util/be.h"
#include "util/bufpool.h"
#include "util/log.h"

static uint64_t link_epoch(void)
{
	return repl_conn_up() ? repl_eng.conn->epoch : 0;
}

static struct repl_vol *msg_vol(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = m->vol < REPL_MAX_VOLS ? c->peer_vols[m->vol] : NULL;

	return v && atomic_load(&v->attached) && !v->detaching ? v : NULL;
}

/* A resync or verify message for a volume this node stopped replicating on
 * this link (tandemctl disconnect, its LUN closing: VOL_DETACH sent, v NULL
 * from msg_vol or not negotiated any more): the peer sent it before it read
 * that, so it is dropped, not a reason to drop the link of every volume. A
 * volume the peer never announced, or one negotiated in another state, is
 * still a protocol error. */
static bool vol_stopped_here(const struct repl_conn *c, const struct repl_msg *m, const struct repl_vol *v)
{
	if (!v)
		return m->vol < REPL_MAX_VOLS && c->peer_vols[m->vol] != NULL;
	return !repl_vs_negotiated(v->vs);
}

/* Point rq's lower I/O at [off, off+len) of its single buffer rq->buf. */
static void req_lower_io(struct repl_req *rq, enum bdev_io_type type, uint64_t off, uint64_t len)
{
	rq->iov = (struct iovec){ rq->buf, len };
	rq->lower.type = type;
	rq->lower.offset = off;
	rq->lower.len = len;
	rq->lower.iov = &rq->iov;
	rq->lower.iovcnt = 1;
}

/* A resync read (RQ_RS_READ) or verify request (RQ_OV_READ) left v->rs_wait
 * or its read completed: one fewer in flight. */
static void wait_done(struct repl_vol *v, const struct repl_req *rq)
{
	if (rq->kind == RQ_RS_READ)
		v->rs_inflight--;
	else
		v->ov_inflight--;
}

/* ---------------------------------------------------------------- negotiation */

void repl_vol_send_state(struct repl_vol *v)
{
	struct repl_md_gen g;
	uint8_t *b;

	if (!repl_conn_up() || !atomic_load(&v->attached) || v->detaching || !v->want_connect)
		return;
	/* frozen writes (fencing asked, repl_fence.c): their answer decides
	 * whether our generation changes, so the negotiation waits for it; a
	 * decision on the ids of now could call the pair in sync while the
	 * bitmap holds their chunks */
	if (v->od_state == OD_RUNNING || v->job_busy || v->rs_done_flushing || !rl_empty(&v->od_wait)) {
		v->reply_pending = true;         /* announce the state once the metadata settled */
		v->vs = VS_NEGOTIATE;
		v->neg_start_ms = reactor_now_ms();
		return;
	}
	b = repl_send(REPL_MSG_VOL_STATE, v, REPL_VS_SIZE);
	if (!b)
		return;
	g = repl_md_get_gen(v->md);
	put_fixed_str(b + REPL_VS_VOLID, REPL_VOLID_LEN, v->volume_id);
	put_be64(b + REPL_VS_SIZE_BYTES, v->size);
	put_be32(b + REPL_VS_CHUNK, v->chunk);
	put_be32(b + REPL_VS_MDFLAGS, repl_md_get_flags(v->md) | (repl_md_bm_count(v->md) ? REPL_VS_MDF_DIRTY : 0));
	repl_gen_put(b + REPL_VS_GEN_CURRENT, &g);
	b[REPL_VS_DISK] = (uint8_t)repl_md_get_disk(v->md);
	v->sent_role = repl_get_role();
	b[REPL_VS_ROLE] = (uint8_t)v->sent_role;
	b[REPL_VS_ATTACH] = 1;
	b[REPL_VS_OPTS] = v->discard_my_data ? REPL_VS_O_DISCARD_MY_DATA : 0;
	v->sent_state = true;
	v->reply_pending = false;
	if (v->vs == VS_WAIT || v->vs == VS_NEGOTIATE) {
		v->vs = VS_NEGOTIATE;           /* a Primary holds writes until the decision */
		v->neg_start_ms = reactor_now_ms();
	}
	if (v->have_peer_view)
		repl_vol_decide(v);
}

/* VOL_DETACH for our volume v, or (v NULL, yours) for the peer's volume
 * `index` that is not open here. */
static void send_detach(struct repl_vol *v, uint32_t index, bool yours)
{
	uint8_t *b;
	struct repl_vol tmp = { .index = (int)index };

	b = repl_send(REPL_MSG_VOL_DETACH, v ? v : &tmp, REPL_DETACH_SIZE);
	if (b && yours)
		b[REPL_DETACH_FLAGS] = REPL_DETACH_F_YOURS;
}

static void set_standalone(struct repl_vol *v, const char *why)
{
	qb_log(LOG_ERR, "repl: %s: not replicating (StandAlone): %s", v->name, why);
	snprintf(v->last_decision, sizeof(v->last_decision), "%s", "refused");
	v->vs = VS_STANDALONE;
	v->want_connect = false;
	v->sent_state = false;
	v->have_peer_view = false;
	send_detach(v, (uint32_t)v->index, false);
	repl_vol_release_held(v);
}

struct md_job {
	struct repl_vol *v;
	int kind;
	struct repl_md_gen gen;
	int rc;
};
enum { J_IN_SYNC = 1, J_SPLIT_BRAIN, J_TARGET_START, J_SOURCE_DONE, J_TARGET_DONE, J_MISSED };

static void job_edit(struct repl_md_gen *gen, enum repl_disk_state *disk, uint32_t *flags, void *arg)
{
	struct md_job *j = arg;

	switch (j->kind) {
	case J_IN_SYNC:
	case J_SOURCE_DONE:
		/* Both copies equal again: a crash as Primary (whose activity-log
		 * extents this resync carried) is settled. Kept, the flag would make
		 * the next crash of both nodes look like two crashed Primaries:
		 * a split brain by rule 44 (found by tests/repl/test_soak.sh;
		 * test_repl_safety's test_crash_flag_cleared_*). */
		repl_md_gen_bitmap_done(gen);
		*flags &= ~(uint32_t)(REPL_MD_F_PEER_OUTDATED | REPL_MD_F_SPLIT_BRAIN | REPL_MD_F_CRASHED_PRIMARY);
		*flags |= REPL_MD_F_CONNECTED;
		break;
	case J_SPLIT_BRAIN:
		*flags |= REPL_MD_F_SPLIT_BRAIN;
		break;
	case J_MISSED:
		/* the bitmap holds chunks the peer may lack under the same ids:
		 * the degraded-mode bump, so that the table resyncs them */
		repl_md_gen_new_current(gen);
		*flags |= REPL_MD_F_PEER_OUTDATED;
		break;
	case J_TARGET_START:
		*disk = REPL_DISK_INCONSISTENT;
		*flags &= ~(uint32_t)REPL_MD_F_SPLIT_BRAIN;
		*flags |= REPL_MD_F_SYNC_TARGET;        /* from now on this disk holds resync data */
		break;
	case J_TARGET_DONE:
		*gen = j->gen;
		*disk = REPL_DISK_UPTODATE;
		*flags &= ~(uint32_t)(REPL_MD_F_PEER_OUTDATED | REPL_MD_F_SPLIT_BRAIN | REPL_MD_F_SYNC_TARGET |
				      REPL_MD_F_CRASHED_PRIMARY);
		*flags |= REPL_MD_F_CONNECTED;
		break;
	}
}

static void job_work(void *arg)
{
	struct md_job *j = arg;

	if (j->kind == J_TARGET_DONE)
		repl_md_bm_clear(j->v->md, 0, j->v->size);
	j->rc = repl_md_edit(j->v, job_edit, j);
	if (j->rc == 0 && (j->kind == J_TARGET_START || j->kind == J_TARGET_DONE || j->kind == J_SOURCE_DONE))
		j->rc = repl_md_bm_flush(j->v->md);
}

static void send_bitmap(struct repl_vol *v);
static void rs_start_ready(struct repl_vol *v);

static void job_done(void *arg)
{
	struct md_job *j = arg;
	struct repl_vol *v = j->v;
	int kind = j->kind, rc = j->rc;
	struct repl_md_gen g = j->gen;

	free(j);
	if (rc < 0)
		qb_log(LOG_ERR, "repl: %s: metadata update failed (%d)", v->name, rc);
	if (rc == 0 && (kind == J_IN_SYNC || kind == J_SOURCE_DONE || kind == J_TARGET_DONE)) {
		v->split_brain = false;         /* resolved: both sides hold the same generation again */
		repl_od_check(v);               /* PEER_OUTDATED is cleared on disk */
	}
	switch (kind) {
	case J_TARGET_START:
		if (v->vs == VS_SYNC_TARGET && rc == 0)
			send_bitmap(v);
		else if (rc < 0 && repl_eng.conn)
			repl_conn_fail(repl_eng.conn, "cannot mark the local disk Inconsistent");
		break;
	case J_SOURCE_DONE: {
		uint8_t *b;
		v->rs_finishing = false;
		if (v->vs != VS_SYNC_SOURCE || rc < 0)
			break;
		g = repl_md_get_gen(v->md);
		b = repl_send(REPL_MSG_RS_DONE, v, REPL_RSD_SIZE);
		if (b)
			repl_gen_put(b + REPL_RSD_GEN, &g);
		v->vs = VS_CONNECTED;
		v->peer_disk = REPL_DISK_UPTODATE;
		v->od_state = OD_NONE;
		qb_log(LOG_NOTICE, "repl: %s: resync finished as source (%" PRIu64 " KiB sent); peer is UpToDate",
		       v->name, (v->rs_bytes_sent - v->rs_sent_start) / 1024);
		break;
	}
	case J_MISSED:
		if (rc < 0) {
			set_standalone(v, "cannot record a new generation for the chunks the peer may lack");
			break;
		}
		v->known_current = true;
		/* the peer went Connected on the old ids and renegotiates on our
		 * VOL_STATE. It is not Outdated: until it is a SyncTarget on disk
		 * it can still be promoted on the old ids, so a link lost before
		 * that goes through fencing like any other (od_state stays; the
		 * bump is already made: od_edit does not bump again). */
		repl_vol_renegotiate(v, false);
		break;
	case J_TARGET_DONE:
		if (rc == 0 && v->vs == VS_SYNC_TARGET) {
			v->vs = VS_CONNECTED;
			v->peer_disk = REPL_DISK_UPTODATE;
			v->known_current = true;
			qb_log(LOG_NOTICE, "repl: %s: resync finished as target: UpToDate, generation %016" PRIx64,
			       v->name, g.current);
		}
		break;
	default:
		break;
	}
	repl_publish(v);
}

static void md_job(struct repl_vol *v, int kind, const struct repl_md_gen *gen)
{
	struct md_job *j = calloc(1, sizeof(*j));

	if (!j)
		return;
	j->v = v;
	j->kind = kind;
	if (gen)
		j->gen = *gen;
	if (repl_vol_job(v, job_work, job_done, j) < 0) {
		j->rc = -1;
		job_done(j);
	}
}

/* Become SyncSource (the peer's disk Inconsistent until the resync ends) or
 * SyncTarget (the peer's UpToDate) and start the resync. */
static void enter_sync(struct repl_vol *v, bool source, bool full)
{
	v->vs = source ? VS_SYNC_SOURCE : VS_SYNC_TARGET;
	v->sync_gen++;
	v->peer_disk = source ? REPL_DISK_INCONSISTENT : REPL_DISK_UPTODATE;
	repl_begin_sync(v, source, full);
}

/* An online verify with resync found differences and this node is the
 * source: tell the peer to become SyncTarget, then resync the marked regions. */
static void verify_resync(struct repl_vol *v)
{
	if (repl_send(REPL_MSG_SYNC_START, v, REPL_SS_SIZE))
		enter_sync(v, true, false);
}

void repl_vol_decide(struct repl_vol *v)
{
	struct repl_md_view mine = { 0 }, *peer = &v->peer_view;
	enum repl_sync_decision d;
	uint32_t opts = 0;
	int rule = 0;

	if (!v->have_peer_view || !v->sent_state || v->vs != VS_NEGOTIATE)
		return;
	mine.gen = repl_md_get_gen(v->md);
	mine.disk = repl_md_get_disk(v->md);
	mine.flags = repl_md_get_flags(v->md);
	/* the role our VOL_STATE announced, which the peer decides with: both
	 * sides must evaluate the same two views. A role changed since (a
	 * demotion while the peer's VOL_STATE travelled) would otherwise make
	 * both targets of a crashed Primary's tie, or neither bump for the
	 * chunks marked on a Secondary (found by review). */
	mine.role = v->sent_role;
	if (v->peer_view_size != v->size || v->peer_chunk != v->chunk) {
		set_standalone(v, "the peer's device size or bitmap chunk differs from ours");
		return;
	}
	if (v->discard_my_data)
		opts |= REPL_MD_DECIDE_DISCARD_MINE;
	if (v->peer_opts & REPL_VS_O_DISCARD_MY_DATA)
		opts |= REPL_MD_DECIDE_DISCARD_PEER;
	d = repl_md_decide_ex(&mine, peer, opts, &rule);
	snprintf(v->last_decision, sizeof(v->last_decision), "%s", repl_sync_decision_name(d));
	qb_log(LOG_NOTICE, "repl: %s: ours %016" PRIx64 "/%016" PRIx64 " %s, peer's %016" PRIx64 "/%016" PRIx64
	       " %s: %s (rule %d)", v->name, mine.gen.current, mine.gen.bitmap, repl_disk_name(mine.disk),
	       peer->gen.current, peer->gen.bitmap, repl_disk_name(peer->disk), repl_sync_decision_name(d), rule);
	/* Two Primaries never sync; but when both also wrote since their last
	 * common generation that is a split brain and is reported as one. */
	if (mine.role == REPL_ROLE_PRIMARY && peer->role == REPL_ROLE_PRIMARY && d != REPL_SYNC_SPLIT_BRAIN) {
		set_standalone(v, "both nodes are Primary");
		return;
	}
	switch (d) {
	case REPL_SYNC_NONE: {
		/* Same ids, but chunks marked on a side (REPL_VS_MDF_DIRTY tells
		 * the peer's): acknowledged only into the other's volatile cache
		 * before it went away, or written while it was gone by writes a
		 * demotion or a "no" from fencing failed, or that a Primary's own
		 * disk failed (app_local_done). Accepted as in sync they
		 * would never be sent; exactly one node bumps, so that the table
		 * resyncs them with the other as target (its marks go to the
		 * source with its bitmap); both bumping would read as a split
		 * brain (repl_md_missed_bump; test_repl_safety
		 * test_vc_lost_without_fence_answer). */
		uint64_t marked = repl_md_bm_count(v->md);
		bool peer_marked = peer->flags & REPL_VS_MDF_DIRTY;

		if (repl_md_missed_bump(&mine, marked, peer, peer_marked, repl_eng.node, repl_eng.peer_name)) {
			qb_log(LOG_WARNING, "repl: %s: same generation as the peer, but chunks are marked out of sync "
			       "(%" PRIu64 " here%s): new generation, this node resyncs them", v->name, marked,
			       peer_marked ? ", more on the peer" : "");
			md_job(v, J_MISSED, NULL);
			return;
		}
		if (marked && !repl_md_missed_bump(peer, peer_marked, &mine, marked, repl_eng.peer_name, repl_eng.node))
			qb_log(LOG_WARNING, "repl: %s: in sync by generation with %" PRIu64 " chunk(s) marked here "
			       "(the peer is Primary or a disk is not UpToDate): not resynced", v->name, marked);
		v->vs = VS_CONNECTED;
		v->peer_disk = peer->disk;
		v->od_state = OD_NONE;
		v->discard_my_data = false;
		if (mine.disk == REPL_DISK_UPTODATE)
			v->known_current = true;
		if (mine.disk == REPL_DISK_UPTODATE && peer->disk == REPL_DISK_UPTODATE)
			md_job(v, J_IN_SYNC, NULL);
		break;
	}
	case REPL_SYNC_SOURCE_BITMAP:
	case REPL_SYNC_SOURCE_FULL:
		v->discard_my_data = false;
		v->known_current = true;
		enter_sync(v, true, d == REPL_SYNC_SOURCE_FULL);
		break;
	case REPL_SYNC_TARGET_BITMAP:
	case REPL_SYNC_TARGET_FULL:
		if (mine.role == REPL_ROLE_PRIMARY || repl_get_role() == REPL_ROLE_PRIMARY) {
			set_standalone(v, "this node is Primary but the peer has newer data: refusing to become "
				       "SyncTarget (demote this node first)");
			return;
		}
		v->discard_my_data = false;
		enter_sync(v, false, d == REPL_SYNC_TARGET_FULL);
		break;
	case REPL_SYNC_SPLIT_BRAIN:
		qb_log(LOG_CRIT, "repl: %s: SPLIT BRAIN: both nodes changed the data since their last common "
		       "generation. Not syncing. Resolve with 'tandemctl discard-my-data %s' on the node whose "
		       "changes are to be dropped, then 'tandemctl connect %s' on both.", v->name, v->name, v->name);
		v->split_brain = true;
		md_job(v, J_SPLIT_BRAIN, NULL);
		set_standalone(v, "split brain");
		return;
	case REPL_SYNC_UNRELATED:
	default:
		set_standalone(v, "the peer's data is unrelated to ours (no common generation): check the "
			       "configuration, or recreate the metadata of one side with tandemctl create-md");
		return;
	}
	/* a Primary's reservation record goes first: the held requests may
	 * carry newer ones */
	repl_lus_push(v);
	repl_vol_release_held(v);
	repl_publish(v);
}

int repl_h_vol_state(struct repl_conn *c, const struct repl_msg *m)
{
	const uint8_t *b = m->body;
	char volid[REPL_VOLID_LEN];
	struct repl_vol *v;

	if (m->vol >= REPL_MAX_VOLS) {
		repl_conn_fail(c, "VOL_STATE with a volume index out of range");
		return -1;
	}
	memcpy(volid, b + REPL_VS_VOLID, REPL_VOLID_LEN);
	v = repl_vol_find_id(volid);
	if (!v || !atomic_load(&v->attached) || v->detaching) {
		qb_log(LOG_INFO, "repl: the peer offers volume '%s', which is not open here", volid);
		send_detach(NULL, m->vol, true);
		return 0;
	}
	c->peer_vols[m->vol] = v;
	v->peer_index = m->vol;
	repl_gen_get(b + REPL_VS_GEN_CURRENT, &v->peer_view.gen);
	v->peer_view.disk = b[REPL_VS_DISK];
	v->peer_view.flags = get_be32(b + REPL_VS_MDFLAGS);
	v->peer_view.role = b[REPL_VS_ROLE];
	v->peer_view_size = get_be64(b + REPL_VS_SIZE_BYTES);
	v->peer_chunk = get_be32(b + REPL_VS_CHUNK);
	v->peer_opts = b[REPL_VS_OPTS];
	v->peer_role = v->peer_view.role;
	v->have_peer_view = true;
	if (!v->want_connect) {
		send_detach(v, (uint32_t)v->index, false);  /* we stay StandAlone until the operator connects */
		v->have_peer_view = false;
		return 0;
	}
	if (v->vs == VS_NEGOTIATE && v->sent_state) {
		repl_vol_decide(v);                      /* crossing announcements, or the reply to ours */
		return 0;
	}
	if (repl_vs_negotiated(v->vs)) {
		qb_log(LOG_NOTICE, "repl: %s: the peer renegotiates", v->name);
		struct repl_md_view keep = v->peer_view;
		uint64_t ks = v->peer_view_size;
		uint32_t kc = v->peer_chunk, ko = v->peer_opts;
		repl_vol_link_down(v);
		v->peer_view = keep;
		v->peer_view_size = ks;
		v->peer_chunk = kc;
		v->peer_opts = ko;
		v->have_peer_view = true;
	}
	v->sent_state = false;
	v->vs = VS_WAIT;
	repl_vol_send_state(v);                          /* our answer, then decide */
	return 0;
}

int repl_h_vol_detach(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v;

	if (m->body[REPL_DETACH_FLAGS] & REPL_DETACH_F_YOURS) {
		/* the peer has not open the volume we announced (not configured
		 * there yet, or refused): wait for its VOL_STATE when it opens it,
		 * and answer that then (a Primary writes meanwhile as when
		 * disconnected: bitmap, peer Outdated) */
		v = m->vol < (uint32_t)repl_eng.nvols ? repl_eng.vols[m->vol] : NULL;
		if (v && atomic_load(&v->attached) && !v->detaching && v->vs == VS_NEGOTIATE) {
			qb_log(LOG_NOTICE, "repl: %s: the peer has not open this volume: waiting for it", v->name);
			v->vs = VS_WAIT;
			v->sent_state = false;
			v->have_peer_view = false;
			repl_vol_release_held(v);
			repl_publish(v);
		}
		return 0;
	}
	v = m->vol < REPL_MAX_VOLS ? c->peer_vols[m->vol] : NULL;
	if (!v)
		return 0;       /* a volume of the peer's we never negotiated */
	if (v->vs != VS_STANDALONE && v->vs != VS_WAIT)
		qb_log(LOG_NOTICE, "repl: %s: the peer stopped replicating this volume", v->name);
	repl_vol_link_down(v);
	return 0;
}

/* ---------------------------------------------------------------- bitmap exchange */

static void send_bitmap(struct repl_vol *v)
{
	static uint64_t runs[REPL_BM_MAX_RUNS][2];      /* repl reactor only */
	uint64_t bits = repl_md_bm_bits(v->md), b = 0, total = repl_md_bm_count(v->md);
	uint8_t *msg;

	for (;;) {
		uint32_t n = 0;

		while (n < REPL_BM_MAX_RUNS) {
			uint64_t s = repl_md_bm_next(v->md, b), e;

			if (s == UINT64_MAX || s >= bits)
				break;
			e = s + 1;
			while (e < bits && repl_md_bm_test(v->md, e * v->chunk, 1))
				e++;
			runs[n][0] = s;
			runs[n][1] = e - s;
			n++;
			b = e;
		}
		if (n == 0)
			break;
		msg = repl_send(REPL_MSG_BITMAP, v, REPL_BM_RUNS + (size_t)n * REPL_BM_RUN_SIZE);
		if (!msg)
			return;
		put_be32(msg + REPL_BM_NRUNS, n);
		for (uint32_t i = 0; i < n; i++) {
			put_be64(msg + REPL_BM_RUNS + i * REPL_BM_RUN_SIZE, runs[i][0]);
			put_be64(msg + REPL_BM_RUNS + i * REPL_BM_RUN_SIZE + 8, runs[i][1]);
		}
		if (n < REPL_BM_MAX_RUNS)
			break;
	}
	msg = repl_send(REPL_MSG_BITMAP_DONE, v, REPL_BMD_SIZE);
	if (msg)
		put_be64(msg + REPL_BMD_TOTAL, total);
	v->rs_bm_sent = true;
	if (v->rs_peer_bm_done)
		rs_start_ready(v);
}

int repl_h_bitmap(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = msg_vol(c, m);
	uint32_t n = get_be32(m->body + REPL_BM_NRUNS);

	if (!v || (v->vs != VS_SYNC_SOURCE && v->vs != VS_SYNC_TARGET))
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t s = get_be64(m->body + REPL_BM_RUNS + i * REPL_BM_RUN_SIZE);
		uint64_t cnt = get_be64(m->body + REPL_BM_RUNS + i * REPL_BM_RUN_SIZE + 8);
		uint64_t bits = repl_md_bm_bits(v->md);
		if (s >= bits || cnt > bits - s) {
			repl_conn_fail(c, "BITMAP run beyond the device");
			return -1;
		}
		repl_md_bm_set(v->md, s * v->chunk, cnt * v->chunk);
	}
	return 0;
}

static void rs_start_ready(struct repl_vol *v)
{
	v->rs_ready = true;
	v->rs_cursor = 0;
	v->rs_read_errors = 0;
	v->rs_total_bits = repl_md_bm_count(v->md);
	v->rs_start_ms = reactor_now_ms();
	v->rs_sent_start = v->rs_bytes_sent;
	qb_log(LOG_NOTICE, "repl: %s: resync as %s: %" PRIu64 " KiB to transfer", v->name,
	       v->vs == VS_SYNC_SOURCE ? "source" : "target",
	       v->rs_total_bits * v->chunk / 1024);
	repl_sync_pump(v);
	repl_publish(v);
}

int repl_h_bitmap_done(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = msg_vol(c, m);

	if (!v || (v->vs != VS_SYNC_SOURCE && v->vs != VS_SYNC_TARGET))
		return 0;
	v->rs_peer_bm_done = true;
	if (v->rs_bm_sent)
		rs_start_ready(v);
	return 0;
}

void repl_begin_sync(struct repl_vol *v, bool source, bool full)
{
	v->rs_full = full;
	v->rs_ready = v->rs_bm_sent = v->rs_peer_bm_done = v->rs_finishing = false;
	v->rs_total_bits = 0;
	v->rs_cursor = 0;
	if (full)
		repl_md_bm_set_all(v->md);
	if (source)
		send_bitmap(v);
	else
		md_job(v, J_TARGET_START, NULL);        /* Inconsistent on disk before any resync data */
}

int repl_h_sync_start(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = msg_vol(c, m);

	if (!v || v->vs != VS_CONNECTED)
		return 0;
	if (repl_get_role() == REPL_ROLE_PRIMARY) {
		qb_log(LOG_ERR, "repl: %s: refusing to become SyncTarget while Primary", v->name);
		return 0;
	}
	qb_log(LOG_NOTICE, "repl: %s: the peer starts a resync towards this node", v->name);
	enter_sync(v, false, m->body[REPL_SS_FULL] != 0);
	repl_publish(v);
	return 0;
}

/* ---------------------------------------------------------------- resync source */

static void rs_read_done(struct bdev_io *io);

static struct repl_req *range_read(struct repl_vol *v, enum repl_req_kind kind, uint64_t off, uint64_t len)
{
	struct repl_req *rq = repl_req_get_any(v);

	if (!rq)
		return NULL;
	rq->buf = buf_alloc(len);
	if (!rq->buf) {
		repl_req_put(rq);
		return NULL;
	}
	rq->bufcap = len;
	rq->kind = kind;
	rq->off = off;
	rq->len = len;
	rq->epoch = link_epoch();
	req_lower_io(rq, BDEV_IO_READ, off, len);
	rq->lower.cb = rs_read_done;
	rq->lower.cb_arg = rq;
	rl_add_tail(&v->active, &rq->link);     /* app writes to the range wait (range_reading) */
	bdev_submit(v->lower, &rq->lower);
	return rq;
}

/* A resync or verify read whose range an application write holds waits for
 * it, and the range is claimed meanwhile: new writes to it wait
 * (range_reading), the writes in flight end, and the read starts right after
 * the last (repl_sync_claim_kick). Before, the pump gave up until its next
 * tick and found the range busy again under a steady stream of writes (a
 * journal's head at a queue depth of two): the resync stopped there for as
 * long as the writes went on, the target Inconsistent (found by review). */
static void claim_set(struct repl_vol *v, uint64_t off, uint64_t len)
{
	if (v->rd_claim && (v->rd_claim_off != off || v->rd_claim_len != len))
		repl_vol_release_held(v);       /* writes held for the old range re-check */
	v->rd_claim = true;
	v->rd_claim_off = off;
	v->rd_claim_len = len;
}

void repl_sync_claim_clear(struct repl_vol *v)
{
	if (!v->rd_claim)
		return;
	v->rd_claim = false;
	repl_vol_release_held(v);
}

static void claim_pump(void *arg)
{
	struct repl_vol *v = arg;

	v->rd_claim_posted = false;
	if (v->rd_claim && atomic_load(&v->attached))
		repl_sync_pump(v);
}

void repl_sync_claim_kick(struct repl_vol *v)
{
	if (!v->rd_claim || v->rd_claim_posted || repl_vol_app_overlap(v, v->rd_claim_off, v->rd_claim_len))
		return;
	/* posted: this runs inside a completion, possibly in a link-down's loop */
	v->rd_claim_posted = true;
	reactor_post(repl_eng.r, claim_pump, v);
}

static void source_finish(struct repl_vol *v)
{
	repl_sync_claim_clear(v);
	v->rs_finishing = true;
	md_job(v, J_SOURCE_DONE, NULL);
}

static void rs_pump(struct repl_vol *v)
{
	uint64_t bits = repl_md_bm_bits(v->md);
	uint32_t max_chunks = REPL_RS_MAX_BYTES / v->chunk ? REPL_RS_MAX_BYTES / v->chunk : 1;
	bool wrapped = false;

	while (v->rs_ready && !v->rs_finishing && v->rs_inflight < REPL_RS_INFLIGHT &&
	       (int64_t)repl_eng.rs_budget > 0) {
		uint64_t bit = repl_md_bm_next(v->md, v->rs_cursor), end, off, len;

		if (bit == UINT64_MAX || bit >= bits) {
			if (v->rs_inflight)
				return;
			if (repl_md_bm_count(v->md) == 0) {
				source_finish(v);
				return;
			}
			if (wrapped)
				return;
			wrapped = true;
			v->rs_cursor = 0;
			continue;
		}
		end = bit + 1;
		while (end < bits && end - bit < max_chunks && repl_md_bm_test(v->md, end * v->chunk, 1))
			end++;
		off = bit * v->chunk;
		len = (end * v->chunk < v->size ? end * v->chunk : v->size) - off;
		if (repl_vol_app_overlap(v, off, len)) {
			claim_set(v, off, len);         /* its end pumps again */
			return;
		}
		if (!range_read(v, RQ_RS_READ, off, len)) {
			repl_sync_claim_clear(v);
			return;
		}
		v->rd_claim = false;            /* the read holds the range now (held writes wait for it) */
		v->rs_inflight++;
		repl_eng.rs_budget -= len;
		v->rs_cursor = end;
	}
}

static void ov_pump(struct repl_vol *v);
static void ov_read_done(struct repl_req *rq);

static bool read_stale(struct repl_req *rq)
{
	struct repl_vol *v = rq->v;

	if (rq->epoch != link_epoch())
		return true;
	if (rq->kind == RQ_RS_READ)
		return v->vs != VS_SYNC_SOURCE || !v->rs_ready;
	return !v->ov_running;
}

/* This node's disk failed a resync or verify read. A verify counts the
 * range as differing (the peer does the same for its own read errors) and
 * goes on. A resync leaves the bits set and reads the range again when its
 * cursor comes round, but only REPL_RS_READ_ERR_MAX times in one resync:
 * before, a bad sector was read again for ever while the target waited
 * Inconsistent. Then the volume stops replicating, loudly; the target stays
 * Inconsistent (it is not promotable: its data is part old, part new). */
/* Whether this node, which ran a verify, is the source of the resync its
 * differences start: the Primary, or either Secondary when no node is. */
static bool ov_source_here(const struct repl_vol *v)
{
	return repl_get_role() == REPL_ROLE_PRIMARY || v->peer_role != REPL_ROLE_PRIMARY;
}

static void read_failed(struct repl_req *rq, int err)
{
	struct repl_vol *v = rq->v;
	uint64_t off = rq->off, len = rq->len;
	bool verify = rq->kind == RQ_OV_READ;

	qb_log(LOG_ERR, "repl: %s: local read at %" PRIu64 "+%" PRIu64 " for %s failed: %s", v->name, off, len,
	       verify ? "verify" : "resync", strerror(err));
	repl_req_put(rq);
	if (verify) {
		uint64_t n = (len + v->chunk - 1) / v->chunk;

		v->ov_mismatch += n;
		v->ov_read_errors += n;
		/* marked only when the resync would rewrite it here (a Secondary
		 * facing a Primary); as the source this node would read the bad
		 * range again and stop, leaving the peer Inconsistent */
		if (v->ov_resync && !ov_source_here(v))
			repl_md_bm_set(v->md, off, len);
		else
			v->ov_unmarked += n;
		repl_vol_release_held(v);
		ov_pump(v);
		return;
	}
	if (++v->rs_read_errors < REPL_RS_READ_ERR_MAX) {
		repl_vol_release_held(v);
		return;
	}
	qb_log(LOG_CRIT, "repl: %s: resync stopped: this node's disk failed %u reads (last at %" PRIu64 "+%" PRIu64
	       ": %s). The volume is StandAlone and the peer stays Inconsistent. Repair or replace this disk, then "
	       "'tandemctl connect %s'.", v->name, v->rs_read_errors, off, len, strerror(err), v->name);
	repl_vol_stop_replicating(v);
}

static void rs_read_done(struct bdev_io *io)
{
	struct repl_req *rq = io->cb_arg;
	struct repl_vol *v = rq->v;
	uint8_t *f = rq->tx.hdr + REPL_HDR_SIZE;
	uint32_t crc;

	rl_del(&rq->link);
	wait_done(v, rq);
	if (read_stale(rq)) {
		repl_req_put(rq);
		repl_vol_release_held(v);
		return;
	}
	if (io->status) {
		read_failed(rq, -io->status);
		return;
	}
	if (rq->kind == RQ_OV_READ) {
		ov_read_done(rq);
		repl_vol_release_held(v);
		return;
	}
	memset(f, 0, REPL_RS_SIZE);
	put_be64(f + REPL_RS_OFFSET, rq->off);
	put_be32(f + REPL_RS_LENGTH, (uint32_t)rq->len);
	crc = repl_crc_iov(&rq->iov, 1, rq->len);
	if (repl_eng.corrupt_next_crc) {
		repl_eng.corrupt_next_crc = false;
		crc ^= 0x5a5a5a5au;
		qb_log(LOG_WARNING, "repl: test hook: sending RS_DATA with a corrupted CRC");
	}
	put_be32(f + REPL_RS_CRC, crc);
	rq->tx.iov = &rq->iov;
	rq->tx.iovcnt = 1;
	rq->tx.paylen = rq->len;
	/* queued before any later write to the range: the target applies them in this order */
	repl_tx_req(repl_eng.conn, rq, REPL_MSG_RS_DATA, (uint32_t)v->index, REPL_RS_SIZE);
	rl_add_tail(&v->rs_wait, &rq->qlink);
	v->rs_inflight++;
	v->rs_bytes_sent += rq->len;
	repl_vol_release_held(v);
}

static struct repl_req *rs_wait_find(struct repl_vol *v, enum repl_req_kind kind, uint64_t off, uint64_t len)
{
	for (struct repl_link *l = v->rs_wait.next; l != &v->rs_wait; l = l->next) {
		struct repl_req *rq = rl_entry(l, struct repl_req, qlink);
		if (rq->kind == kind && rq->off == off && rq->len == len)
			return rq;
	}
	return NULL;
}

int repl_h_rs_ack(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = msg_vol(c, m);
	uint64_t off = get_be64(m->body + REPL_RSA_OFFSET);
	uint32_t len = get_be32(m->body + REPL_RSA_LENGTH), st = get_be32(m->body + REPL_RSA_STATUS);
	struct repl_req *rq = v ? rs_wait_find(v, RQ_RS_READ, off, len) : NULL;

	if (!rq) {
		/* late answer to a resync this volume aborted (disconnect, detach):
		 * harmless while no resync runs; during a new one it could clear bits
		 * the old data does not cover, so that still drops the link */
		if (v ? v->vs != VS_SYNC_SOURCE : vol_stopped_here(c, m, NULL))
			return 0;
		repl_conn_fail(c, "RS_ACK does not match resync data in flight");
		return -1;
	}
	rl_del(&rq->qlink);
	v->rs_inflight--;
	bool redirtied = rq->redirtied;
	repl_req_put(rq);
	if (st) {
		/* stop rather than reconnect and resync into that disk again
		 * for ever; the peer stays Inconsistent */
		qb_log(LOG_CRIT, "repl: %s: resync stopped: the peer's disk failed resync data at %" PRIu64 "+%u (%s). "
		       "The volume is StandAlone here; repair the peer's disk, then 'tandemctl connect %s'.", v->name,
		       off, len, strerror((int)st), v->name);
		repl_vol_stop_replicating(v);
		return 0;
	}
	if (!redirtied)
		repl_md_bm_clear(v->md, off, len);
	rs_pump(v);
	return 0;
}

void repl_sync_redirty(struct repl_vol *v, uint64_t off, uint64_t len)
{
	for (struct repl_link *l = v->rs_wait.next; l != &v->rs_wait; l = l->next) {
		struct repl_req *rq = rl_entry(l, struct repl_req, qlink);
		if (rq->kind == RQ_RS_READ && rq->off < off + len && off < rq->off + rq->len)
			rq->redirtied = true;
	}
}

/* ---------------------------------------------------------------- resync target */

int repl_h_rs_data(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = msg_vol(c, m);
	uint64_t off = get_be64(m->body + REPL_RS_OFFSET);
	uint32_t len = get_be32(m->body + REPL_RS_LENGTH);
	struct repl_req *rq;

	if (vol_stopped_here(c, m, v)) {
		qb_log(LOG_DEBUG, "repl: RS_DATA for volume %u, which stopped its resync here: dropped", m->vol);
		return 0;
	}
	if (!v || v->vs != VS_SYNC_TARGET || off > v->size || len > v->size - off) {
		repl_conn_fail(c, "RS_DATA for a volume that is not SyncTarget here");
		return -1;
	}
	rq = repl_req_get_any(v);
	if (!rq) {
		repl_conn_fail(c, "out of memory");
		return -1;
	}
	rq->kind = RQ_RS_WRITE;
	rq->off = off;
	rq->len = len;
	rq->epoch = c->epoch;
	rq->sync_gen = v->sync_gen;
	rq->buf = repl_conn_take_payload(c, &rq->bufcap);
	req_lower_io(rq, BDEV_IO_WRITE, off, len);
	/* FUA: RS_ACK clears the chunk's bit here and at the source, and either
	 * bitmap page may reach the disk at any time (AL eviction, close); a
	 * write still in a volatile cache would then be lost for good */
	rq->lower.flags = BDEV_IO_F_FUA;
	repl_peer_submit(v, rq);
	return 0;
}

/* RS_DONE: the source has sent every dirty chunk. The target flushes its disk
 * and only then takes the source's generation ids (J_TARGET_DONE), which
 * carry the ids across the flush. The flush belongs to this resync only: a
 * link drop or a renegotiation while it is in flight must not let a new
 * resync begin (SyncTarget again) before it completed, or its completion
 * would finish the NEW resync with the old ids: UpToDate, whole bitmap
 * cleared, known current, without the new resync's data. So, like a metadata
 * job, it holds the next negotiation back (repl_vol_send_state) and counts
 * as pending work for a detach (idle_r). */
struct rs_done_flush {
	struct bdev_io io;
	struct repl_vol *v;
	struct repl_md_gen gen;
};

static void target_flush_done(struct bdev_io *io)
{
	struct rs_done_flush *f = io->cb_arg;
	struct repl_vol *v = f->v;
	struct repl_md_gen g = f->gen;
	int st = io->status;

	free(f);
	v->rs_done_flushing = false;
	if (st && v->vs == VS_SYNC_TARGET) {
		/* a failed flush is sticky (bdev.c) until the device is reopened:
		 * reconnecting resynced the whole device again and again, every
		 * few seconds, for nothing */
		qb_log(LOG_CRIT, "repl: %s: resync stopped: this node's disk failed the flush that ends it (%s). "
		       "The volume is StandAlone and stays Inconsistent. Repair the disk, restart tandemd (a failed "
		       "flush holds until the device is reopened), then 'tandemctl connect %s'.", v->name,
		       strerror(-st), v->name);
		repl_vol_stop_replicating(v);
		return;
	}
	if (st || v->vs != VS_SYNC_TARGET) {
		/* a negotiation that waited for this flush goes on */
		if (v->reply_pending && !v->job_busy && repl_conn_up())
			repl_vol_send_state(v);
		return;
	}
	md_job(v, J_TARGET_DONE, &g);
}

int repl_h_rs_done(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = msg_vol(c, m);
	struct rs_done_flush *f;

	if (!v || v->vs != VS_SYNC_TARGET || v->rs_done_flushing)
		return 0;
	f = calloc(1, sizeof(*f));
	if (!f) {
		/* staying SyncTarget for good would be worse: the reconnect resyncs again */
		repl_conn_fail(c, "out of memory");
		return -1;
	}
	f->v = v;
	repl_gen_get(m->body + REPL_RSD_GEN, &f->gen);
	f->io.type = BDEV_IO_FLUSH;
	f->io.cb = target_flush_done;
	f->io.cb_arg = f;
	v->rs_done_flushing = true;
	bdev_submit(v->lower, &f->io);
	return 0;
}

/* Peer side completion of RS_WRITE and OV_PEER (called before the request is freed). */
void repl_sync_peer_req_done(struct repl_req *rq)
{
	struct repl_vol *v = rq->v;
	uint8_t *b;

	if (rq->epoch != link_epoch())
		return;
	if (rq->kind == RQ_RS_WRITE && rq->sync_gen != v->sync_gen) {
		/* a write of a resync aborted on this same link (VOL_DETACH, a
		 * renegotiation): its RS_ACK would match the new resync's request
		 * for the same range at the source, which then clears bits the new
		 * data is not durable for yet. The new resync sends the range
		 * again; this one neither acknowledges nor clears. */
		return;
	}
	if (rq->kind == RQ_RS_WRITE) {
		if (rq->status == 0) {
			repl_md_bm_clear(v->md, rq->off, rq->len);
			v->rs_bytes_received += rq->len;
		}
		b = repl_send(REPL_MSG_RS_ACK, v, REPL_RSA_SIZE);
		if (b) {
			put_be64(b + REPL_RSA_OFFSET, rq->off);
			put_be32(b + REPL_RSA_LENGTH, (uint32_t)rq->len);
			put_be32(b + REPL_RSA_STATUS, (uint32_t)(rq->status < 0 ? -rq->status : rq->status));
		}
		return;
	}
	/* RQ_OV_PEER: compare chunk digests */
	uint32_t mask = 0;
	for (uint32_t i = 0; i < rq->nchunks; i++) {
		uint64_t o = (uint64_t)i * v->chunk;
		uint64_t n = rq->len - o < v->chunk ? rq->len - o : v->chunk;
		uint32_t crc = repl_crc_iov(&(struct iovec){ (uint8_t *)rq->buf + o, n }, 1, n);
		if (rq->status && rq->ovf_resync && repl_get_role() == REPL_ROLE_PRIMARY) {
			/* this node would be the resync source of a chunk it cannot
			 * read: reported (and marked by the peer) it would start a
			 * resync that stops with the peer Inconsistent */
			if (i == 0)
				qb_log(LOG_ERR, "repl: %s: verify: this node (Primary) cannot read %" PRIu64 "+%" PRIu64
				       " (%s): not marked for resync from here", v->name, rq->off, rq->len,
				       strerror(-rq->status));
			continue;
		}
		if (rq->status || crc != rq->crcs[i]) {
			mask |= 1u << i;
			/* a chunk this node cannot read is marked only when the
			 * resync rewrites it here, not when it would be read here */
			if (rq->ovf_resync)
				repl_md_bm_set(v->md, rq->off + o, n);
		}
	}
	b = repl_send(REPL_MSG_OV_REPLY, v, REPL_OVR_SIZE);
	if (b) {
		put_be64(b + REPL_OVR_OFFSET, rq->off);
		put_be32(b + REPL_OVR_LENGTH, (uint32_t)rq->len);
		put_be32(b + REPL_OVR_MISMATCH, mask);
	}
}

/* ---------------------------------------------------------------- verify */

void repl_verify_start(struct repl_vol *v, bool resync)
{
	v->ov_running = true;
	v->ov_resync = resync;
	v->ov_cursor = 0;
	v->ov_mismatch = 0;
	v->ov_read_errors = 0;
	v->ov_unmarked = 0;
	v->ov_start_ms = reactor_now_ms();
	qb_log(LOG_NOTICE, "repl: %s: online verify started%s", v->name, resync ? " (mark differences for resync)" : "");
	ov_pump(v);
	repl_publish(v);
}

static void ov_finish(struct repl_vol *v)
{
	uint8_t *b;
	bool source;

	v->ov_running = false;
	repl_sync_claim_clear(v);
	v->ov_runs++;
	qb_log(v->ov_mismatch ? LOG_WARNING : LOG_NOTICE, "repl: %s: online verify finished: %" PRIu64
	       " chunk(s) of %u KiB differ%s", v->name, v->ov_mismatch, v->chunk / 1024,
	       v->ov_read_errors ? " (some could not be read here)" : "");
	b = repl_send(REPL_MSG_OV_DONE, v, REPL_OVD_SIZE);
	if (b) {
		put_be64(b + REPL_OVD_MISMATCHES, v->ov_mismatch);
		put_be32(b + REPL_OVD_FLAGS, v->ov_resync ? REPL_OVF_RESYNC : 0);
	}
	source = ov_source_here(v);
	/* chunks only counted (unreadable here, not marked) start no resync:
	 * the peer would go Inconsistent for nothing */
	if (v->ov_resync && v->ov_mismatch > v->ov_unmarked && source && v->vs == VS_CONNECTED)
		verify_resync(v);
	repl_publish(v);
}

static void ov_pump(struct repl_vol *v)
{
	uint64_t step = (uint64_t)v->chunk * REPL_OV_MAX_CHUNKS;

	if (step > REPL_RS_MAX_BYTES)
		step = REPL_RS_MAX_BYTES - REPL_RS_MAX_BYTES % v->chunk;
	if (step < v->chunk)
		step = v->chunk;
	while (v->ov_running && v->ov_inflight < REPL_RS_INFLIGHT && (int64_t)repl_eng.rs_budget > 0 &&
	       v->ov_cursor < v->size) {
		uint64_t len = v->size - v->ov_cursor < step ? v->size - v->ov_cursor : step;

		if (repl_vol_app_overlap(v, v->ov_cursor, len)) {
			claim_set(v, v->ov_cursor, len);
			return;
		}
		if (!range_read(v, RQ_OV_READ, v->ov_cursor, len)) {
			repl_sync_claim_clear(v);
			return;
		}
		v->rd_claim = false;
		v->ov_inflight++;
		repl_eng.rs_budget -= len;
		v->ov_cursor += len;
	}
	if (v->ov_running && v->ov_cursor >= v->size && v->ov_inflight == 0)
		ov_finish(v);
}

static void ov_read_done(struct repl_req *rq)
{
	struct repl_vol *v = rq->v;
	uint32_t n = (uint32_t)((rq->len + v->chunk - 1) / v->chunk);
	uint8_t *b = repl_send(REPL_MSG_OV_REQ, v, REPL_OV_CRCS + 4 * (size_t)n);

	if (!b) {
		repl_req_put(rq);
		return;
	}
	put_be64(b + REPL_OV_OFFSET, rq->off);
	put_be32(b + REPL_OV_LENGTH, (uint32_t)rq->len);
	put_be32(b + REPL_OV_NCHUNKS, n);
	put_be32(b + REPL_OV_FLAGS, v->ov_resync ? REPL_OVF_RESYNC : 0);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t o = (uint64_t)i * v->chunk;
		uint64_t len = rq->len - o < v->chunk ? rq->len - o : v->chunk;
		put_be32(b + REPL_OV_CRCS + 4 * i, repl_crc_iov(&(struct iovec){ (uint8_t *)rq->buf + o, len }, 1, len));
	}
	buf_free(rq->buf, rq->bufcap);
	rq->buf = NULL;
	rl_add_tail(&v->rs_wait, &rq->qlink);
	v->ov_inflight++;
}

int repl_h_ov_req(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = msg_vol(c, m);
	uint64_t off = get_be64(m->body + REPL_OV_OFFSET);
	uint32_t len = get_be32(m->body + REPL_OV_LENGTH), n = get_be32(m->body + REPL_OV_NCHUNKS);
	struct repl_req *rq;

	if (vol_stopped_here(c, m, v))
		return 0;       /* the peer's verify ends with the VOL_DETACH it is about to read */
	if (!v || off > v->size || len > v->size - off || n != (len + v->chunk - 1) / v->chunk) {
		repl_conn_fail(c, "OV_REQ does not fit the volume");
		return -1;
	}
	rq = repl_req_get_any(v);
	if (!rq || !(rq->buf = buf_alloc(len))) {
		if (rq)
			repl_req_put(rq);
		repl_conn_fail(c, "out of memory");
		return -1;
	}
	rq->bufcap = len;
	rq->kind = RQ_OV_PEER;
	rq->off = off;
	rq->len = len;
	rq->epoch = c->epoch;
	rq->nchunks = n;
	rq->ovf_resync = (get_be32(m->body + REPL_OV_FLAGS) & REPL_OVF_RESYNC) != 0;
	for (uint32_t i = 0; i < n; i++)
		rq->crcs[i] = get_be32(m->body + REPL_OV_CRCS + 4 * i);
	req_lower_io(rq, BDEV_IO_READ, off, len);
	repl_peer_submit(v, rq);        /* after earlier overlapping writes, before later ones */
	return 0;
}

int repl_h_ov_reply(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = msg_vol(c, m);
	uint64_t off = get_be64(m->body + REPL_OVR_OFFSET);
	uint32_t len = get_be32(m->body + REPL_OVR_LENGTH), mask = get_be32(m->body + REPL_OVR_MISMATCH);
	struct repl_req *rq = v ? rs_wait_find(v, RQ_OV_READ, off, len) : NULL;

	if (!rq) {
		if ((v && !v->ov_running) || vol_stopped_here(c, m, v))
			return 0;       /* late answer to an aborted verify: nothing to record */
		repl_conn_fail(c, "OV_REPLY does not match a verify request");
		return -1;
	}
	rl_del(&rq->qlink);
	v->ov_inflight--;
	for (uint32_t i = 0; i < REPL_OV_MAX_CHUNKS; i++) {
		uint64_t o = off + (uint64_t)i * v->chunk;
		if (!(mask & (1u << i)) || o >= off + len)
			continue;
		uint64_t n = off + len - o < v->chunk ? off + len - o : v->chunk;
		v->ov_mismatch++;
		qb_log(LOG_WARNING, "repl: %s: verify: out of sync at offset %" PRIu64 " (%" PRIu64 " KiB)", v->name,
		       o, n / 1024);
		if (v->ov_resync)
			repl_md_bm_set(v->md, o, n);
	}
	repl_req_put(rq);
	ov_pump(v);
	return 0;
}

int repl_h_ov_done(struct repl_conn *c, const struct repl_msg *m)
{
	struct repl_vol *v = msg_vol(c, m);
	uint64_t mism = get_be64(m->body + REPL_OVD_MISMATCHES);
	bool resync = (get_be32(m->body + REPL_OVD_FLAGS) & REPL_OVF_RESYNC) != 0;

	if (!v)
		return 0;
	qb_log(LOG_NOTICE, "repl: %s: the peer's online verify finished: %" PRIu64 " chunk(s) differ", v->name, mism);
	if (resync && mism && repl_get_role() == REPL_ROLE_PRIMARY && v->vs == VS_CONNECTED)
		verify_resync(v);
	repl_publish(v);
	return 0;
}

/* ---------------------------------------------------------------- common */

void repl_sync_abort(struct repl_vol *v)
{
	v->sync_gen++;
	while (!rl_empty(&v->rs_wait)) {
		struct repl_req *rq = rl_entry(v->rs_wait.next, struct repl_req, qlink);
		rl_del(&rq->qlink);
		wait_done(v, rq);
		if (rl_linked(&rq->tx.link)) {
			/* still queued (maybe half written): unlinking it would tear the
			 * stream or leave a sequence gap; free it once the queue let go */
			rq->tx_orphan = true;
			continue;
		}
		repl_req_put(rq);
	}
	if (v->ov_running)
		qb_log(LOG_WARNING, "repl: %s: online verify aborted (link lost)", v->name);
	v->ov_running = false;
	v->rs_ready = false;
	v->rs_finishing = false;
	/* the writes it held go on with the others link-down releases at its end */
	v->rd_claim = false;
}

void repl_sync_pump(struct repl_vol *v)
{
	/* a claim outlives nothing that could use it */
	if (v->rd_claim && !(v->vs == VS_SYNC_SOURCE && v->rs_ready && !v->rs_finishing) && !v->ov_running)
		repl_sync_claim_clear(v);
	if (v->vs == VS_SYNC_SOURCE)
		rs_pump(v);
	if (v->ov_running)
		ov_pump(v);
}

/* The resync/verify byte budget after one tick of dt ms at `rate` B/s: it refills
 * up to 200 ms worth of the rate, and a budget above that (left from a higher
 * rate: a reload lowered resync_rate, application I/O took its share) is cut
 * down at once, so a lower rate holds from the next tick, not after a burst of
 * what the old rate had saved up (found by tests/repl/test_soak.sh: after a
 * reload from 200M back to 8M, 32 MiB resynced in one go). */
int64_t repl_rs_budget_next(int64_t budget, uint64_t rate, uint64_t dt)
{
	int64_t cap = (int64_t)(rate / 5);

	if (budget < cap)
		budget += (int64_t)(rate * dt / 1000);
	return budget > cap ? cap : budget;
}

void repl_sync_tick(uint64_t now)
{
	uint64_t dt = now - repl_eng.rs_last_ms, rate = repl_eng.resync_rate, app;

	if (!repl_eng.rs_last_ms || dt > 1000)
		dt = REPL_TICK_MS;
	repl_eng.rs_last_ms = now;
	/* application I/O wins above the floor */
	app = repl_eng.app_bytes_tick * 1000 / (dt ? dt : 1);
	repl_eng.app_bytes_tick = 0;
	if (app) {
		rate = rate > app ? rate - app : 0;
		if (rate < repl_eng.resync_min_rate)
			rate = repl_eng.resync_min_rate;
	}
	repl_eng.rs_budget = (uint64_t)repl_rs_budget_next((int64_t)repl_eng.rs_budget, rate, dt);
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];

		if (!atomic_load(&v->attached))
			continue;
		/* A Primary holds the volume's writes until the decision, so a peer
		 * that never answers costs it availability: after timeout_ms it drops
		 * the link (and goes on alone). Not while this node has not sent its
		 * own VOL_STATE (waiting for a fence answer or its metadata, which
		 * the link does not change), and not on a Secondary, which holds
		 * nothing: a Primary waiting for its fence answer would otherwise see
		 * the link flap every timeout_ms, each time through link-down for
		 * every volume. */
		if (v->vs == VS_NEGOTIATE && !v->reply_pending && repl_get_role() == REPL_ROLE_PRIMARY &&
		    now - v->neg_start_ms > repl_eng.timeout_ms && repl_eng.conn) {
			repl_conn_fail(repl_eng.conn, "the peer did not answer a volume negotiation in time");
			return;
		}
		repl_sync_pump(v);
	}
}
