/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Engine lifetime and the daemon-facing contract of repl.h: start-up from the
 * config, the repl reactor and its tick, roles and promotion rules, operator
 * actions (connect, disconnect, discard-my-data, verify, test hooks), status,
 * and the helpers that move blocking metadata updates off the reactor. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "reactor.h"
#include "repl/repl_int.h"
#include "util/be.h"
#include "util/log.h"
#include "util/workq.h"

struct repl_engine repl_eng = { .listen_fd = -1, .quorate = true };

/* ---------------------------------------------------------------- names */

const char *repl_role_name(enum repl_role r)
{
	return r == REPL_ROLE_PRIMARY ? "primary" : "secondary";
}

const char *repl_disk_name(enum repl_disk_state d)
{
	static const char *const n[] = {
		[REPL_DISK_DISKLESS] = "Diskless", [REPL_DISK_INCONSISTENT] = "Inconsistent",
		[REPL_DISK_OUTDATED] = "Outdated", [REPL_DISK_UPTODATE] = "UpToDate", [REPL_DISK_DUNKNOWN] = "DUnknown",
	};
	return (unsigned)d < sizeof(n) / sizeof(n[0]) ? n[d] : "DUnknown";
}

const char *repl_conn_name(enum repl_conn_state c)
{
	static const char *const n[] = {
		[REPL_CONN_STANDALONE] = "StandAlone", [REPL_CONN_CONNECTING] = "Connecting",
		[REPL_CONN_CONNECTED] = "Connected", [REPL_CONN_SYNC_SOURCE] = "SyncSource",
		[REPL_CONN_SYNC_TARGET] = "SyncTarget",
	};
	return (unsigned)c < sizeof(n) / sizeof(n[0]) ? n[c] : "StandAlone";
}

bool repl_enabled(void) { return repl_eng.enabled; }

/* The replication section's rates and timers (start-up and reload). */
void repl_set_tunables(const struct tconf_replication *rc)
{
	repl_eng.resync_rate = rc->resync_rate;
	repl_eng.resync_min_rate = rc->resync_min_rate;
	repl_eng.ping_interval_ms = (unsigned)rc->ping_interval_ms;
	repl_eng.ping_timeout_ms = (unsigned)rc->ping_timeout_ms;
	repl_eng.timeout_ms = (unsigned)rc->timeout_ms;
	repl_eng.connect_retry_ms = (unsigned)rc->connect_retry_ms;
}

enum repl_role repl_get_role(void) { return (enum repl_role)atomic_load(&repl_eng.role); }

struct repl_vol *repl_vol_find_id(const char *volume_id)
{
	if (!volume_id)
		return NULL;
	for (int i = 0; i < repl_eng.nvols; i++)
		if (strcmp(repl_eng.vols[i]->volume_id, volume_id) == 0)
			return repl_eng.vols[i];
	return NULL;
}

enum repl_conn_state repl_vol_conn_state(const struct repl_vol *v)
{
	switch (v->vs) {
	case VS_STANDALONE: return REPL_CONN_STANDALONE;
	case VS_SYNC_SOURCE: return REPL_CONN_SYNC_SOURCE;
	case VS_SYNC_TARGET: return REPL_CONN_SYNC_TARGET;
	case VS_CONNECTED: return REPL_CONN_CONNECTED;
	default: return v->want_connect ? REPL_CONN_CONNECTING : REPL_CONN_STANDALONE;
	}
}

/* ---------------------------------------------------------------- metadata helpers */

int repl_md_edit(struct repl_vol *v, repl_md_edit_fn fn, void *arg)
{
	struct repl_md_gen gen;
	enum repl_disk_state disk;
	uint32_t flags;
	int rc;

	pthread_mutex_lock(&v->md_lock);
	gen = repl_md_get_gen(v->md);
	disk = repl_md_get_disk(v->md);
	flags = repl_md_get_flags(v->md);
	fn(&gen, &disk, &flags, arg);
	rc = repl_md_set(v->md, &gen, disk, flags);
	pthread_mutex_unlock(&v->md_lock);
	return rc;
}

struct wq_item {
	struct repl_vol *v;
	void (*work)(void *), (*done)(void *);
	void *arg;
	bool job;
	struct repl_link link;
};

static void vol_job_next(struct repl_vol *v);

static void wq_done(void *arg)
{
	struct wq_item *w = arg;
	struct repl_vol *v = w->v;
	bool job = w->job;

	atomic_fetch_sub(&v->wq_pending, 1);
	w->done(w->arg);
	free(w);
	if (job) {
		v->job_busy = false;
		vol_job_next(v);
		if (!v->job_busy && v->reply_pending && repl_conn_up())
			repl_vol_send_state(v);
	}
}

static void wq_work(void *arg)
{
	struct wq_item *w = arg;

	w->work(w->arg);
}

static int wq_submit(struct wq_item *w)
{
	int rc;

	atomic_fetch_add(&w->v->wq_pending, 1);
	rc = workq_submit(repl_eng.r, wq_work, wq_done, w);
	if (rc < 0) {
		atomic_fetch_sub(&w->v->wq_pending, 1);
		qb_log(LOG_ERR, "repl: %s: cannot queue work: %s", w->v->name, strerror(-rc));
	}
	return rc;
}

int repl_workq(struct repl_vol *v, void (*work)(void *), void (*done)(void *), void *arg)
{
	struct wq_item *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	*w = (struct wq_item){ .v = v, .work = work, .done = done, .arg = arg };
	if (wq_submit(w) < 0) {
		free(w);
		return -1;
	}
	return 0;
}

static void vol_job_next(struct repl_vol *v)
{
	while (!v->job_busy && !rl_empty(&v->jobs)) {
		struct wq_item *w = rl_entry(v->jobs.next, struct wq_item, link);
		rl_del(&w->link);
		v->job_busy = true;
		if (wq_submit(w) < 0) {
			v->job_busy = false;
			w->work(w->arg);    /* last resort: run it here rather than lose a state change */
			w->done(w->arg);
			free(w);
		}
	}
}

int repl_vol_job(struct repl_vol *v, void (*work)(void *), void (*done)(void *), void *arg)
{
	struct wq_item *w = calloc(1, sizeof(*w));

	if (!w)
		return -1;
	*w = (struct wq_item){ .v = v, .work = work, .done = done, .arg = arg, .job = true };
	rl_add_tail(&v->jobs, &w->link);
	vol_job_next(v);
	return 0;
}

/* Run fn(arg) on the repl reactor and wait (main thread). */
struct repl_call {
	void (*fn)(void *);
	void *arg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void call_run(void *arg)
{
	struct repl_call *c = arg;

	c->fn(c->arg);
	pthread_mutex_lock(&c->lock);
	c->done = true;
	pthread_cond_signal(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void repl_call(void (*fn)(void *), void *arg)
{
	struct repl_call c = { .fn = fn, .arg = arg, .lock = PTHREAD_MUTEX_INITIALIZER,
			       .cond = PTHREAD_COND_INITIALIZER };

	if (!repl_eng.r) {
		fn(arg);
		return;
	}
	reactor_post(repl_eng.r, call_run, &c);
	pthread_mutex_lock(&c.lock);
	while (!c.done)
		pthread_cond_wait(&c.cond, &c.lock);
	pthread_mutex_unlock(&c.lock);
}

/* ---------------------------------------------------------------- status */

void repl_publish(struct repl_vol *v)
{
	struct repl_vol_status s = { 0 };
	bool att = atomic_load(&v->attached);
	uint64_t oos = 0;

	s.attached = att;
	s.disk = att && v->md ? repl_md_get_disk(v->md) : REPL_DISK_DISKLESS;
	s.conn = att ? repl_vol_conn_state(v) : REPL_CONN_STANDALONE;
	s.peer_disk = repl_conn_up() && repl_vs_negotiated(v->vs) ? v->peer_disk : REPL_DISK_DUNKNOWN;
	if (att && v->md) {
		oos = repl_md_bm_count(v->md) * v->chunk;
		if (oos > v->size)
			oos = v->size;
	}
	s.out_of_sync_bytes = oos;
	s.sync_percent = s.disk == REPL_DISK_INCONSISTENT ? 0.0 : 100.0;
	s.eta_s = -1;
	if ((v->vs == VS_SYNC_SOURCE || v->vs == VS_SYNC_TARGET) && v->rs_total_bits) {
		uint64_t left = repl_md_bm_count(v->md), total = v->rs_total_bits;
		uint64_t done = left < total ? total - left : 0;
		uint64_t el = reactor_now_ms() - v->rs_start_ms;

		s.sync_percent = 100.0 * (double)done / (double)total;
		if (el > 500 && done)
			s.eta_s = (int64_t)((double)left * el / (double)done / 1000.0);
	}
	s.resync_bytes_sent = v->rs_bytes_sent;
	s.resync_bytes_received = v->rs_bytes_received;
	s.split_brain = v->split_brain;
	s.known_current = att && v->known_current;
	s.verify_running = v->ov_running;
	s.verify_percent = v->size ? 100.0 * (double)v->ov_cursor / (double)v->size : 0;
	s.verify_mismatch_chunks = v->ov_mismatch;
	s.verify_runs = v->ov_runs;
	s.peer_failures = v->peer_failures;
	s.al_extents = att && v->md ? repl_md_al_active(v->md) : 0;
	s.al_pinned = repl_vc_pinned(v);
	s.al_waits = v->al_waits;
	snprintf(s.last_decision, sizeof(s.last_decision), "%s", v->last_decision);
	pthread_mutex_lock(&repl_eng.stat_lock);
	v->st = s;
	pthread_mutex_unlock(&repl_eng.stat_lock);
}

void repl_publish_all(void)
{
	for (int i = 0; i < repl_eng.nvols; i++)
		repl_publish(repl_eng.vols[i]);
	atomic_store(&repl_eng.conn_up_pub, repl_conn_up());
	atomic_store(&repl_eng.peer_role_pub, repl_conn_up() && repl_eng.peer_role_known ? (int)repl_eng.peer_role : -1);
}

void repl_status(struct json_writer *w)
{
	int pr;

	if (!repl_eng.enabled)
		return;
	pr = atomic_load(&repl_eng.peer_role_pub);
	json_obj_begin(w, "replication");
	json_str(w, "node", repl_eng.node);
	json_str(w, "peer", repl_eng.peer_name);
	json_str(w, "role", repl_role_name(repl_get_role()));
	json_str(w, "peer_role", pr < 0 ? "unknown" : repl_role_name((enum repl_role)pr));
	json_bool(w, "link_up", atomic_load(&repl_eng.conn_up_pub));
	json_uint(w, "resync_rate", repl_eng.resync_rate);
	pthread_mutex_lock(&repl_eng.stat_lock);
	json_str(w, "tcp_congestion", repl_eng.tcp_congestion_used[0] ? repl_eng.tcp_congestion_used : "unknown");
	json_arr_begin(w, "luns");
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];
		const struct repl_vol_status *s = &v->st;

		json_obj_begin(w, NULL);
		json_str(w, "name", v->name);
		json_str(w, "volume_id", v->volume_id);
		/* false: configured, but its LUN is not open here (taken out by a
		 * reload, or refused when it joined); its other fields mean nothing */
		json_bool(w, "open", atomic_load(&v->attached));
		if (v->md) {
			/* the data generation, as a string: JSON numbers lose 64-bit ids */
			char gen[24];
			snprintf(gen, sizeof(gen), "0x%016llx", (unsigned long long)repl_md_get_gen(v->md).current);
			json_str(w, "current_gen", gen);
		}
		json_str(w, "role", repl_role_name(repl_get_role()));
		json_str(w, "peer_role", pr < 0 ? "unknown" : repl_role_name((enum repl_role)pr));
		json_str(w, "disk", repl_disk_name(s->disk));
		json_str(w, "peer_disk", repl_disk_name(s->peer_disk));
		json_str(w, "connection", repl_conn_name(s->conn));
		json_int(w, "sync_percent", (int64_t)s->sync_percent);
		json_uint(w, "sync_permille", (uint64_t)(s->sync_percent * 10.0));
		json_uint(w, "out_of_sync_kib", s->out_of_sync_bytes / 1024);
		json_uint(w, "resync_bytes_sent", s->resync_bytes_sent);
		json_uint(w, "resync_bytes_received", s->resync_bytes_received);
		json_int(w, "eta_s", s->eta_s);
		json_bool(w, "split_brain", s->split_brain);
		json_bool(w, "known_current", s->known_current);
		json_str(w, "last_decision", s->last_decision);
		json_uint(w, "peer_failures", s->peer_failures);
		/* the activity log: extents in it, those pinned until the peer
		 * flushes its cache, and writes that waited for room */
		json_obj_begin(w, "activity_log");
		json_uint(w, "extents", s->al_extents);
		json_uint(w, "pinned", s->al_pinned);
		json_uint(w, "waits", s->al_waits);
		json_obj_end(w);
		json_str(w, "metadata", v->md_path);
		json_obj_begin(w, "verify");
		json_bool(w, "running", s->verify_running);
		json_int(w, "percent", (int64_t)s->verify_percent);
		json_uint(w, "mismatched_chunks", s->verify_mismatch_chunks);
		json_uint(w, "mismatched_kib", s->verify_mismatch_chunks * (v->chunk ? v->chunk : 65536) / 1024);
		json_uint(w, "runs", s->verify_runs);
		json_obj_end(w);
		json_obj_end(w);
	}
	pthread_mutex_unlock(&repl_eng.stat_lock);
	json_arr_end(w);
	json_obj_end(w);
}

void repl_lun_states(void (*fn)(const struct repl_lun_state *s, void *arg), void *arg)
{
	if (!repl_eng.enabled)
		return;
	pthread_mutex_lock(&repl_eng.stat_lock);
	for (int i = 0; i < repl_eng.nvols; i++) {
		const struct repl_vol *v = repl_eng.vols[i];
		/* not open on this node (taken out by a reload, or refused when it
		 * joined): it holds none of this node's data. An open one not yet
		 * published counts as Diskless (st is zero) until it is. */
		if (!atomic_load(&v->attached))
			continue;
		struct repl_lun_state s = {
			.disk = v->st.disk,
			.peer_disk = v->st.peer_disk,
			.conn = v->st.conn,
			.split_brain = v->st.split_brain,
			.known_current = v->st.known_current,
			.have_gen = v->md != NULL,
		};

		if (v->md)
			s.current_gen = repl_md_get_gen(v->md).current;
		fn(&s, arg);
	}
	pthread_mutex_unlock(&repl_eng.stat_lock);
}

/* ---------------------------------------------------------------- quorum */

/* Not connected to the peer while the cluster has no quorum here: a peer with
 * quorum (a qdevice vote) may count this node as gone and write alone, without
 * a word to it. Unless this node recorded the peer Outdated (then the peer
 * cannot be promoted: this node has the newest data), its data is no longer
 * known current until the generation ids are compared again. */
static void vol_behind(struct repl_vol *v)
{
	if (!v->known_current || repl_vs_negotiated(v->vs))
		return;
	if (v->md && (repl_md_get_flags(v->md) & REPL_MD_F_PEER_OUTDATED))
		return;
	v->known_current = false;
	qb_log(LOG_NOTICE, "repl: %s: not connected to the peer and no quorum: this node's data may fall behind "
	       "the peer's (not promoted alone until the two are compared again)", v->name);
}

/* The link went down: behind if the cluster has no quorum now. */
void repl_vol_maybe_behind(struct repl_vol *v)
{
	if (!atomic_load(&repl_eng.quorate))
		vol_behind(v);
}

/* Posted at each loss of quorum. It must not look at the quorum again: when
 * the quorum came back before this ran, the peer may still have written
 * alone in between. */
static void quorum_lost_r(void *arg)
{
	(void)arg;
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];
		if (!atomic_load(&v->attached))
			continue;
		vol_behind(v);
		repl_publish(v);
	}
}

void repl_set_quorate(bool quorate)
{
	if (!repl_eng.enabled || atomic_exchange(&repl_eng.quorate, quorate) == quorate || quorate)
		return;
	reactor_post(repl_eng.r, quorum_lost_r, NULL);
}

/* ---------------------------------------------------------------- link and roles (reactor) */

static void send_role(void)
{
	uint8_t *b = repl_send(REPL_MSG_ROLE, NULL, REPL_ROLE_SIZE);

	if (b)
		b[REPL_ROLE_ROLE] = (uint8_t)repl_get_role();
}

void repl_link_changed(bool up)
{
	if (up) {
		repl_eng.peer_role_known = false;
		send_role();
		for (int i = 0; i < repl_eng.nvols; i++) {
			struct repl_vol *v = repl_eng.vols[i];
			if (!atomic_load(&v->attached) || !v->want_connect || v->detaching)
				continue;
			v->sent_state = false;
			v->have_peer_view = false;
			if (v->vs != VS_STANDALONE)
				v->vs = VS_WAIT;
			repl_vol_send_state(v);
		}
	} else {
		repl_eng.peer_role_known = false;
		for (int i = 0; i < repl_eng.nvols; i++)
			if (atomic_load(&repl_eng.vols[i]->attached))
				repl_vol_link_down(repl_eng.vols[i]);
	}
	repl_publish_all();
}

int repl_h_role(struct repl_conn *c, const struct repl_msg *m)
{
	enum repl_role r = m->body[REPL_ROLE_ROLE];

	if (!repl_eng.peer_role_known || repl_eng.peer_role != r)
		qb_log(LOG_NOTICE, "repl: peer %s is %s", repl_eng.peer_name, repl_role_name(r));
	repl_eng.peer_role = r;
	repl_eng.peer_role_known = true;
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];

		/* a verify of ours running on while the peer writes: what it
		 * finds from here may be writes in flight, not differences */
		if (r == REPL_ROLE_PRIMARY && v->peer_role != r && v->ov_running &&
		    repl_get_role() != REPL_ROLE_PRIMARY) {
			v->ov_resync = false;
			qb_log(LOG_WARNING, "repl: %s: the peer became Primary during this node's verify: differences "
			       "found from here on may be writes in flight and are not marked for resync (run the "
			       "verify on the Primary)", v->name);
		}
		v->peer_role = r;
	}
	repl_publish_all();
	return 0;
}

static int tick(struct reactor *r, void *arg)
{
	uint64_t now = reactor_now_ms();

	repl_conn_tick(now);
	repl_mirror_tick(now);
	repl_sync_tick(now);
	if (now - repl_eng.last_publish_ms >= 500) {
		repl_eng.last_publish_ms = now;
		repl_publish_all();
	}
	return repl_eng.stopping ? -1 : REPL_TICK_MS;
}

static void start_on_reactor(void *arg)
{
	reactor_timer_add(repl_eng.r, REPL_TICK_MS, tick, NULL);
	repl_publish_all();
}

void repl_vol_attached(struct repl_vol *v);
static void attached_r(void *arg)
{
	struct repl_vol *v = arg;

	if (repl_conn_up() && v->want_connect) {
		v->sent_state = false;
		repl_vol_send_state(v);
	}
	repl_publish(v);
}

void repl_vol_attached(struct repl_vol *v)
{
	if (repl_eng.r)
		reactor_post(repl_eng.r, attached_r, v);
}

struct idle_q {
	struct repl_vol *v;
	bool idle;
};

static void detach_r(void *arg)
{
	struct repl_vol *v = arg;

	v->detaching = true;
	if (repl_conn_up() && v->vs != VS_STANDALONE && v->vs != VS_WAIT)
		(void)repl_send(REPL_MSG_VOL_DETACH, v, REPL_DETACH_SIZE);
	repl_vol_link_down(v);
}

static void idle_r(void *arg)
{
	struct idle_q *q = arg;
	struct repl_vol *v = q->v;

	q->idle = rl_empty(&v->active) && rl_empty(&v->papply) && rl_empty(&v->rs_wait) && rl_empty(&v->held) &&
		  rl_empty(&v->od_wait) && rl_empty(&v->al_wait) && !v->job_busy && rl_empty(&v->jobs) && atomic_load(&v->wq_pending) == 0 &&
		  !v->rs_done_flushing &&
		  !v->slot_wait_head;
}

struct final_q {
	struct repl_vol *v;
	bool keep;                      /* work pending: md and lower stay for it */
	struct repl_md *md;
	struct bdev *lower;
};

static void final_r(void *arg)
{
	struct final_q *q = arg;
	struct repl_vol *v = q->v;

	atomic_store(&v->attached, false);
	v->wrapper = NULL;
	if (!q->keep) {
		q->md = v->md;
		q->lower = v->lower;
		v->md = NULL;
		v->lower = NULL;
	}
	repl_publish(v);
}

static bool vol_idle(struct repl_vol *v)
{
	struct idle_q q = { .v = v };

	repl_call(idle_r, &q);
	return q.idle;
}

int repl_detach_wait_ms = 10000;

/* The LUN closes (reload removed it, or shutdown). Its replication work still
 * running (writes, resync, metadata jobs on the work queue) uses the metadata
 * and the backing device, so they close only once it ended: after up to
 * repl_detach_wait_ms here, else later (repl_vol_finish_close). */
void repl_vol_detach(struct repl_vol *v)
{
	struct final_q f = { .v = v };
	bool idle = false;

	repl_call(detach_r, v);
	for (int i = 0; i <= repl_detach_wait_ms && !(idle = vol_idle(v)); i++)
		usleep(1000);
	if (!idle)
		qb_log(LOG_ERR, "repl: %s: replication work still pending after %d ms (local disk stuck?): its "
		       "metadata and backing device stay open until that work ends", v->name, repl_detach_wait_ms);
	f.keep = !idle;
	repl_call(final_r, &f);
	v->close_deferred = !idle;
	/* no record reaches the closed LUN any more (kept for the next open) */
	pthread_mutex_lock(&v->st_lock);
	v->st_h = NULL;
	v->st_arg = NULL;
	pthread_mutex_unlock(&v->st_lock);
	if (idle) {
		repl_md_close(f.md);
		bdev_close(f.lower);
	}
	qb_log(LOG_INFO, "repl: %s detached", v->name);
}

bool repl_vol_finish_close(struct repl_vol *v)
{
	struct final_q f = { .v = v };

	if (!v->close_deferred)
		return true;
	if (!vol_idle(v))
		return false;
	repl_call(final_r, &f);
	repl_md_close(f.md);
	bdev_close(f.lower);
	v->close_deferred = false;
	qb_log(LOG_NOTICE, "repl: %s: the work pending at its close has ended: metadata and device closed", v->name);
	return true;
}

/* ---------------------------------------------------------------- roles (main thread) */

struct role_q {
	bool force;
	char *err;
	size_t errlen;
	int rc;
	unsigned busy;
	bool idle;
};

static void promote_check_r(void *arg)
{
	struct role_q *q = arg;

	q->rc = 0;
	if (repl_conn_up() && repl_eng.peer_role_known && repl_eng.peer_role == REPL_ROLE_PRIMARY) {
		snprintf(q->err, q->errlen, "the peer %s is Primary: demote it first", repl_eng.peer_name);
		q->rc = -1;
		return;
	}
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];
		enum repl_disk_state d;

		if (!atomic_load(&v->attached))
			continue;
		/* writes of the former Primary still going to the local disk (or
		 * queued behind an overlapping one): a write of ours would go
		 * before them and be overwritten by an older one once it was
		 * acknowledged (repl_set_role waits for them first) */
		if (!rl_empty(&v->papply)) {
			snprintf(q->err, q->errlen, "%s: writes of the former Primary are still being applied here "
				 "(local disk slow or stuck?): try again", v->name);
			q->rc = -1;
			return;
		}
		d = repl_md_get_disk(v->md);
		/* a fresh pair (create-md, never held data): --force names the initial sync
		 * source; a disk that started receiving a resync is half synced, not fresh */
		if (d == REPL_DISK_INCONSISTENT && q->force && repl_md_get_gen(v->md).current == 0 &&
		    !(repl_md_get_flags(v->md) & REPL_MD_F_SYNC_TARGET) &&
		    v->vs != VS_SYNC_TARGET && !(v->vs == VS_CONNECTED && v->peer_disk == REPL_DISK_UPTODATE))
			continue;
		if (d == REPL_DISK_INCONSISTENT || d == REPL_DISK_DISKLESS || v->vs == VS_SYNC_TARGET) {
			snprintf(q->err, q->errlen, "%s is %s%s: it can never be promoted", v->name, repl_disk_name(d),
				 v->vs == VS_SYNC_TARGET ? " (resync target)" : "");
			q->rc = -1;
			return;
		}
		if (q->force)
			continue;
		if (d != REPL_DISK_UPTODATE) {
			snprintf(q->err, q->errlen, "%s is %s: not promoting without --force", v->name,
				 repl_disk_name(d));
			q->rc = -1;
			return;
		}
		if (v->vs != VS_CONNECTED && v->vs != VS_SYNC_SOURCE) {
			snprintf(q->err, q->errlen, "%s is not connected to the peer (%s), so the peer's state is "
				 "unknown: use --force if the peer is surely not Primary", v->name,
				 repl_conn_name(repl_vol_conn_state(v)));
			q->rc = -1;
			return;
		}
	}
}

/* The check again, and the role switch in the same reactor turn: no
 * negotiation can make a volume SyncTarget between the two. */
static void promote_commit_r(void *arg)
{
	struct role_q *q = arg;

	promote_check_r(q);
	if (q->rc != 0)
		return;
	atomic_store(&repl_eng.role, REPL_ROLE_PRIMARY);
	/* the new Primary's reservation records replace the peer's: the whole
	 * record goes first, in this reactor turn, ahead of any change a PR OUT
	 * can make now */
	for (int i = 0; i < repl_eng.nvols; i++)
		if (atomic_load(&repl_eng.vols[i]->attached))
			repl_lus_push(repl_eng.vols[i]);
}

static void role_changed_r(void *arg)
{
	send_role();
	if (repl_eng.test_faults & REPL_TF_ROLE_STALL)
		repl_conn_hold_tx(REPL_TF_STALL_MS);
	for (int i = 0; i < repl_eng.nvols; i++)
		if (atomic_load(&repl_eng.vols[i]->attached))
			repl_vol_release_held(repl_eng.vols[i]);
	repl_publish_all();
}

static void busy_r(void *arg)
{
	struct role_q *q = arg;

	q->busy = 0;
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];
		if (atomic_load(&v->attached))
			q->busy += v->n_app + !rl_empty(&v->held) + !rl_empty(&v->al_wait) +
				   (v->slot_wait_head != NULL);
	}
	q->idle = q->busy == 0;
}

static void initial_source(struct repl_md_gen *gen, enum repl_disk_state *disk, uint32_t *flags, void *arg)
{
	*disk = REPL_DISK_UPTODATE;
	repl_md_gen_new_current(gen);
	*flags |= REPL_MD_F_PEER_OUTDATED;
}

/* Our generation changed (a bump that set PEER_OUTDATED) under an
 * established connection: negotiate again from scratch with the new ids. */
void repl_vol_renegotiate(struct repl_vol *v, bool peer_outdated)
{
	/* the writes the negotiation held wait for the next one: released in
	 * between they would run as if the link were down (the peer counts as
	 * missing them: a fence request for a connected, healthy peer) */
	v->keep_held = true;
	if (v->vs != VS_STANDALONE)
		repl_vol_link_down(v);
	v->keep_held = false;
	if (repl_conn_up() && v->want_connect) {
		v->vs = VS_WAIT;
		if (peer_outdated)
			v->od_state = OD_DONE;
		repl_vol_send_state(v);
	}
	if (v->vs != VS_NEGOTIATE)
		repl_vol_release_held(v);
}

/* a forced Primary on a fresh disk: the peer holds no data yet */
static void renegotiate_r(void *arg)
{
	repl_vol_renegotiate(arg, true);
}

static void set_primary_flag(struct repl_md_gen *gen, enum repl_disk_state *disk, uint32_t *flags, void *arg)
{
	if (arg)
		*flags |= REPL_MD_F_PRIMARY;
	else
		*flags &= ~(uint32_t)REPL_MD_F_PRIMARY;
}

/* Tell every subscriber (main thread) about a role change. */
static void role_notify(enum repl_role role)
{
	for (int i = 0; i < repl_eng.nrole_cb; i++)
		repl_eng.role_cb[i].fn(role, repl_eng.role_cb[i].arg);
}

void repl_drain_kick(void)
{
	if (!atomic_load(&repl_eng.drain_waiters))
		return;
	pthread_mutex_lock(&repl_eng.drain_lock);
	repl_eng.drain_gen++;
	pthread_cond_broadcast(&repl_eng.drain_cond);
	pthread_mutex_unlock(&repl_eng.drain_lock);
}

/* Main thread: run check(q) on the repl reactor until it sets *done, or
 * timeout_ms passed; returns *done. Sleeps on drain_cond between checks: the
 * repl reactor bumps drain_gen (repl_drain_kick) when a write finishes or a
 * barrier is answered, and drain_gen is read before each check, so no wake-up
 * is lost. */
static bool wait_repl(void (*check)(void *), void *q, const bool *done, uint64_t timeout_ms)
{
	struct timespec dl;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += (time_t)(timeout_ms / 1000);
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	atomic_fetch_add(&repl_eng.drain_waiters, 1);
	for (;;) {
		uint64_t gen;
		int rc = 0;

		pthread_mutex_lock(&repl_eng.drain_lock);
		gen = repl_eng.drain_gen;
		pthread_mutex_unlock(&repl_eng.drain_lock);
		repl_call(check, q);
		if (*done)
			break;
		pthread_mutex_lock(&repl_eng.drain_lock);
		while (repl_eng.drain_gen == gen && rc == 0)
			rc = pthread_cond_timedwait(&repl_eng.drain_cond, &repl_eng.drain_lock, &dl);
		pthread_mutex_unlock(&repl_eng.drain_lock);
		if (rc == ETIMEDOUT) {
			repl_call(check, q);
			break;
		}
	}
	atomic_fetch_sub(&repl_eng.drain_waiters, 1);
	return *done;
}

/* The former Primary's writes being applied here (papply) are all done. */
static void papply_idle_r(void *arg)
{
	struct role_q *q = arg;

	q->idle = true;
	for (int i = 0; i < repl_eng.nvols; i++)
		if (atomic_load(&repl_eng.vols[i]->attached) && !rl_empty(&repl_eng.vols[i]->papply))
			q->idle = false;
}

/* Main thread: wait until no application write is in flight, or timeout_ms
 * passed; returns the writes still in flight. */
static unsigned drain_writes(uint64_t timeout_ms)
{
	struct role_q q = { 0 };

	wait_repl(busy_r, &q, &q.idle, timeout_ms);
	return q.busy;
}

/* The peer barrier: a PING queued behind our ROLE; done when its answer came,
 * or the link went down or was replaced (a new link starts with our ROLE). */
struct barrier_q {
	uint64_t token, epoch;
	bool done;
};

static void barrier_send_r(void *arg)
{
	struct barrier_q *q = arg;

	q->token = repl_conn_barrier();
	q->epoch = repl_eng.conn ? repl_eng.conn->epoch : 0;
}

static void barrier_check_r(void *arg)
{
	struct barrier_q *q = arg;

	q->done = !q->token || !repl_conn_up() || repl_eng.conn->epoch != q->epoch ||
		  repl_eng.barrier_acked >= q->token;
}

/* Main thread, after a demotion: return once the peer has handled our ROLE
 * (or timeout_ms passed). Whoever promotes the peer next (the cluster manager
 * handing over through CPG, pacemaker, an operator) must not find it still
 * seeing us as Primary: the ROLE travels on the replication link, the
 * handover on another channel, and either may arrive first. */
static void peer_learns_role(uint64_t timeout_ms)
{
	struct barrier_q q = { 0 };

	repl_call(barrier_send_r, &q);
	if (!q.token)
		return;
	if (!wait_repl(barrier_check_r, &q, &q.done, timeout_ms))
		qb_log(LOG_WARNING, "repl: the peer did not confirm our role change within %llu ms",
		       (unsigned long long)timeout_ms);
}

static void set_primary_flags(bool on)
{
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];
		if (atomic_load(&v->attached) && repl_md_edit(v, set_primary_flag, on ? (void *)1 : NULL) < 0)
			qb_log(LOG_ERR, "repl: %s: cannot %s the Primary flag in the metadata", v->name,
			       on ? "set" : "clear");
	}
}

uint64_t repl_promote_wait_max_ms(void)
{
	return (uint64_t)repl_eng.timeout_ms + REPL_DEMOTE_GRACE_MS;
}

int repl_set_role(enum repl_role role, bool force, char *err, size_t errlen)
{
	struct role_q q = { .force = force, .err = err, .errlen = errlen };

	if (!repl_eng.enabled) {
		snprintf(err, errlen, "replication is not configured (no replication section)");
		return -1;
	}
	if (role == repl_get_role())
		return 0;
	if (role == REPL_ROLE_PRIMARY) {
		struct role_q pq = { 0 };

		/* the former Primary's last writes land first (bounded; the
		 * check below refuses while any is left) */
		wait_repl(papply_idle_r, &pq, &pq.idle, repl_promote_wait_max_ms());
		repl_call(promote_check_r, &q);
		if (q.rc < 0) {
			qb_log(LOG_WARNING, "repl: promotion refused: %s", err);
			return -1;
		}
		for (int i = 0; i < repl_eng.nvols; i++) {
			struct repl_vol *v = repl_eng.vols[i];
			if (atomic_load(&v->attached) && repl_md_get_disk(v->md) == REPL_DISK_INCONSISTENT &&
			    repl_md_get_gen(v->md).current == 0 && !(repl_md_get_flags(v->md) & REPL_MD_F_SYNC_TARGET)) {
				if (repl_md_edit(v, initial_source, NULL) < 0) {
					snprintf(err, errlen, "%s: cannot update the metadata", v->name);
					return -1;
				}
				qb_log(LOG_WARNING, "repl: %s: forced Primary on a fresh disk: its data is now the "
				       "reference (UpToDate); the peer receives a full sync", v->name);
				repl_call(renegotiate_r, v);
			}
			if (atomic_load(&v->attached) && repl_md_edit(v, set_primary_flag, (void *)1) < 0) {
				snprintf(err, errlen, "%s: cannot record the Primary role in the metadata", v->name);
				set_primary_flags(false);
				return -1;
			}
		}
		if (repl_eng.test_faults & REPL_TF_PROMOTE_DELAY)
			usleep(300 * 1000);
		/* the volumes may have negotiated meanwhile (e.g. become SyncTarget) */
		repl_call(promote_commit_r, &q);
		if (q.rc < 0) {
			qb_log(LOG_WARNING, "repl: promotion refused: %s", err);
			set_primary_flags(false);
			return -1;
		}
		qb_log(LOG_NOTICE, "repl: node %s is now Primary%s", repl_eng.node, force ? " (forced)" : "");
	} else {
		uint64_t bound = (uint64_t)repl_eng.timeout_ms + REPL_DEMOTE_GRACE_MS;
		unsigned busy;

		atomic_store(&repl_eng.role, REPL_ROLE_SECONDARY);
		repl_fence_abort();     /* frozen writes (repl_fence.c) fail: never acknowledged */
		role_notify(REPL_ROLE_SECONDARY);
		/* writes waiting for the peer resolve within timeout_ms (DATA_ACK
		 * timeout, then degraded); what is still in flight after that waits
		 * for a stuck local disk or metadata file: a Secondary must not have
		 * writes completing behind its back, so the demotion fails */
		busy = drain_writes(bound);
		if (busy) {
			snprintf(err, errlen, "%u write(s) still in flight after %llu ms (local disk or metadata "
				 "stuck?): demotion failed, this node stays Primary", busy, (unsigned long long)bound);
			qb_log(LOG_ERR, "repl: %s", err);
			atomic_store(&repl_eng.role, REPL_ROLE_PRIMARY);
			repl_call(role_changed_r, NULL);
			role_notify(REPL_ROLE_PRIMARY);
			return -1;
		}
		for (int i = 0; i < repl_eng.nvols; i++) {
			struct repl_vol *v = repl_eng.vols[i];
			if (atomic_load(&v->attached)) {
				repl_md_bm_flush(v->md);
				repl_md_edit(v, set_primary_flag, NULL);
			}
		}
		qb_log(LOG_NOTICE, "repl: node %s is now Secondary", repl_eng.node);
	}
	repl_call(role_changed_r, NULL);
	if (role == REPL_ROLE_PRIMARY)
		role_notify(role);
	else
		peer_learns_role(repl_eng.ping_timeout_ms);  /* a dead link costs at most this */
	return 0;
}

void repl_on_role_change(void (*fn)(enum repl_role role, void *arg), void *arg)
{
	if (repl_eng.nrole_cb >= REPL_ROLE_CB_MAX) {
		qb_log(LOG_ERR, "repl: too many role-change subscribers");
		return;
	}
	repl_eng.role_cb[repl_eng.nrole_cb].fn = fn;
	repl_eng.role_cb[repl_eng.nrole_cb].arg = arg;
	repl_eng.nrole_cb++;
}

/* ---------------------------------------------------------------- operator actions */

enum { OP_CONNECT = 1, OP_DISCONNECT, OP_DISCARD, OP_VERIFY, OP_VERIFY_RESYNC };

struct op_q {
	int op;
	const char *lun;
	char *err;
	size_t errlen;
	int rc, matched;
};

static bool name_match(const struct repl_vol *v, const char *lun)
{
	const char *slash;

	if (!lun || !*lun)
		return true;
	slash = strrchr(v->name, '/');
	return strcasecmp(v->name, lun) == 0 ||
	       (slash && strchr(lun, '/') == NULL && strcmp(slash + 1, lun) == 0 && repl_eng.nvols == 1);
}

static void op_r(void *arg)
{
	struct op_q *q = arg;

	q->rc = 0;
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];

		if (!name_match(v, q->lun))
			continue;
		q->matched++;
		if (!atomic_load(&v->attached)) {
			snprintf(q->err, q->errlen, "%s is not open", v->name);
			q->rc = -1;
			continue;
		}
		switch (q->op) {
		case OP_CONNECT:
			if (v->want_connect && v->vs != VS_STANDALONE)
				break;
			qb_log(LOG_NOTICE, "repl: %s: connect requested by the operator", v->name);
			v->want_connect = true;
			v->vs = VS_WAIT;
			v->sent_state = false;
			if (repl_conn_up())
				repl_vol_send_state(v);
			break;
		case OP_DISCONNECT:
			qb_log(LOG_NOTICE, "repl: %s: disconnect requested by the operator", v->name);
			repl_vol_stop_replicating(v);
			break;
		case OP_DISCARD:
			if (repl_get_role() == REPL_ROLE_PRIMARY) {
				snprintf(q->err, q->errlen, "this node is Primary: demote it before discarding its data");
				q->rc = -1;
				return;
			}
			if (v->vs != VS_STANDALONE && v->vs != VS_WAIT) {
				snprintf(q->err, q->errlen, "%s is %s: disconnect it first", v->name,
					 repl_conn_name(repl_vol_conn_state(v)));
				q->rc = -1;
				return;
			}
			v->discard_my_data = true;
			qb_log(LOG_WARNING, "repl: %s: the operator chose to discard this node's changes; it becomes "
			       "SyncTarget on the next connect", v->name);
			break;
		case OP_VERIFY:
		case OP_VERIFY_RESYNC:
			if (v->vs != VS_CONNECTED || !repl_conn_up()) {
				snprintf(q->err, q->errlen, "%s is %s: verify needs Connected", v->name,
					 repl_conn_name(repl_vol_conn_state(v)));
				q->rc = -1;
				return;
			}
			if (v->ov_running) {
				snprintf(q->err, q->errlen, "%s: a verify is already running", v->name);
				q->rc = -1;
				return;
			}
			/* the Primary's writes are ordered against a verify's
			 * reads only where the verify runs: from here both sides
			 * could checksum different generations of a chunk */
			if (repl_get_role() != REPL_ROLE_PRIMARY && v->peer_role == REPL_ROLE_PRIMARY) {
				snprintf(q->err, q->errlen, "%s: the peer %s is Primary: run the verify there", v->name,
					 repl_eng.peer_name);
				q->rc = -1;
				return;
			}
			repl_verify_start(v, q->op == OP_VERIFY_RESYNC);
			break;
		}
		repl_publish(v);
	}
	if (!q->matched && q->rc == 0) {
		snprintf(q->err, q->errlen, "no replicated LUN '%s' (use TARGET/LUN)", q->lun ? q->lun : "");
		q->rc = -1;
	}
}

static int run_op(int op, const char *lun, char *err, size_t errlen)
{
	struct op_q q = { .op = op, .lun = lun, .err = err, .errlen = errlen };

	if (!repl_eng.enabled) {
		snprintf(err, errlen, "replication is not configured (no replication section)");
		return -1;
	}
	repl_call(op_r, &q);
	return q.rc;
}

int repl_connect(const char *lun_name, char *err, size_t errlen) { return run_op(OP_CONNECT, lun_name, err, errlen); }
int repl_disconnect(const char *lun_name, char *err, size_t errlen)
{
	return run_op(OP_DISCONNECT, lun_name, err, errlen);
}
int repl_discard_my_data(const char *lun_name, char *err, size_t errlen)
{
	return run_op(OP_DISCARD, lun_name, err, errlen);
}
int repl_verify(const char *lun_name, char *err, size_t errlen) { return run_op(OP_VERIFY, lun_name, err, errlen); }
int repl_verify_ex(const char *lun_name, bool resync, char *err, size_t errlen)
{
	return run_op(resync ? OP_VERIFY_RESYNC : OP_VERIFY, lun_name, err, errlen);
}

static void corrupt_r(void *arg)
{
	repl_eng.corrupt_next_crc = true;
}

int repl_debug(const char *what, char *err, size_t errlen)
{
	if (!repl_eng.enabled) {
		snprintf(err, errlen, "replication is not configured (no replication section)");
		return -1;
	}
	if (what && strcmp(what, "corrupt-next-crc") == 0) {
		repl_call(corrupt_r, NULL);
		qb_log(LOG_WARNING, "repl: test hook armed: the next DATA/RS_DATA message carries a wrong CRC32C");
		return 0;
	}
	snprintf(err, errlen, "unknown debug action '%.40s' (corrupt-next-crc)", what ? what : "");
	return -1;
}

/* ---------------------------------------------------------------- init / shutdown */

static struct repl_vol *vol_new(const struct tconf *conf, const struct tconf_target *t, const struct tconf_lun *l)
{
	struct repl_vol *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	snprintf(v->name, sizeof(v->name), "%s/%u", t->name, l->lun);
	snprintf(v->volume_id, sizeof(v->volume_id), "%s", l->serial);
	if (l->meta[0])
		snprintf(v->md_path, sizeof(v->md_path), "%s", l->meta);
	else        /* the parser fills meta; keep a default for hand-built configs */
		snprintf(v->md_path, sizeof(v->md_path), "%.3000s/md/%.64s.md", conf->global.state_dir, l->serial);
	pthread_mutex_init(&v->md_lock, NULL);
	pthread_mutex_init(&v->st_lock, NULL);
	rl_init(&v->od_wait);
	rl_init(&v->active);
	rl_init(&v->held);
	rl_init(&v->al_wait);
	rl_init(&v->inflight);
	rl_init(&v->papply);
	rl_init(&v->rs_wait);
	rl_init(&v->jobs);
	v->want_connect = true;
	v->vs = VS_WAIT;
	v->peer_disk = REPL_DISK_DUNKNOWN;
	snprintf(v->last_decision, sizeof(v->last_decision), "none");
	return v;
}

/* A volume for every replicated LUN of conf whose identity the engine does
 * not know yet. Returns how many were added, or -1 (err set). */
static int vols_add_new(const struct tconf *conf, char *err, size_t errlen)
{
	int added = 0;

	for (size_t ti = 0; ti < conf->ntargets; ti++)
		for (size_t li = 0; li < conf->targets[ti].nluns; li++) {
			const struct tconf_lun *l = &conf->targets[ti].luns[li];
			int n = repl_eng.nvols;
			struct repl_vol *v;

			if (!l->replicated || repl_vol_find_id(l->serial))
				continue;
			if (n >= REPL_MAX_VOLS || !(v = vol_new(conf, &conf->targets[ti], l))) {
				snprintf(err, errlen, "%s/%u: more than %d replicated LUNs, or out of memory",
					 conf->targets[ti].name, l->lun, REPL_MAX_VOLS);
				return -1;
			}
			v->index = n;
			repl_eng.vols[n] = v;
			atomic_store(&repl_eng.nvols, n + 1);   /* after the slot: readers may look now */
			added++;
		}
	return added;
}

int repl_add_volumes(const struct tconf *conf, char *err, size_t errlen)
{
	int n;

	if (!repl_eng.enabled)
		return 0;
	n = vols_add_new(conf, err, errlen);
	if (n > 0)
		qb_log(LOG_NOTICE, "repl: reload: %d new replicated LUN(s); each joins when its LUN opens", n);
	return n < 0 ? -1 : 0;
}

int repl_init(const struct tconf *conf, char *err, size_t errlen)
{
	const struct tconf_replication *rc = &conf->repl;

	if (!rc->enabled)
		return 0;
	if (repl_eng.enabled) {
		snprintf(err, errlen, "replication already started");
		return -1;
	}
	pthread_mutex_init(&repl_eng.stat_lock, NULL);
	atomic_store(&repl_eng.quorate, true);
	{
		pthread_condattr_t ca;
		const char *tf = getenv("TANDEM_TEST_FAULTS");

		pthread_mutex_init(&repl_eng.drain_lock, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&repl_eng.drain_cond, &ca);
		pthread_condattr_destroy(&ca);
		repl_eng.test_faults = 0;
		if (tf && strstr(tf, "promote-delay"))
			repl_eng.test_faults |= REPL_TF_PROMOTE_DELAY;
		if (tf && strstr(tf, "role-stall"))
			repl_eng.test_faults |= REPL_TF_ROLE_STALL;
		if (tf && strstr(tf, "od-delay"))
			repl_eng.test_faults |= REPL_TF_OD_DELAY;
		if (repl_eng.test_faults)
			qb_log(LOG_WARNING, "repl: TEST FAULT HOOKS ACTIVE (TANDEM_TEST_FAULTS=%s)", tf);
	}
	snprintf(repl_eng.node, sizeof(repl_eng.node), "%s", rc->node);
	snprintf(repl_eng.peer_name, sizeof(repl_eng.peer_name), "%s", rc->peer_name);
	snprintf(repl_eng.secret, sizeof(repl_eng.secret), "%s", rc->secret);
	snprintf(repl_eng.listen_addr, sizeof(repl_eng.listen_addr), "%s", rc->listen.addr);
	snprintf(repl_eng.peer_addr, sizeof(repl_eng.peer_addr), "%s", rc->peer.addr);
	repl_eng.listen_port = rc->listen.port;
	repl_eng.peer_port = rc->peer.port;
	repl_set_tunables(rc);
	snprintf(repl_eng.tcp_congestion, sizeof(repl_eng.tcp_congestion), "%s", rc->tcp_congestion);
	atomic_store(&repl_eng.role, REPL_ROLE_SECONDARY);
	atomic_store(&repl_eng.peer_role_pub, -1);
	if (vols_add_new(conf, err, errlen) < 0)
		return -1;
	repl_eng.r = reactor_create("repl");
	if (!repl_eng.r) {
		snprintf(err, errlen, "cannot create the replication reactor");
		return -1;
	}
	repl_eng.ndoneq = 0;
	if (repl_conn_start(err, errlen) < 0 || reactor_add_idle_hook(repl_eng.r, repl_mirror_idle, NULL) < 0 ||
	    reactor_add_exit_hook(repl_eng.r, repl_mirror_idle, NULL) < 0 || reactor_start(repl_eng.r) < 0) {
		if (!err[0])
			snprintf(err, errlen, "cannot start the replication thread");
		reactor_destroy(repl_eng.r);
		repl_eng.r = NULL;
		return -1;
	}
	reactor_post(repl_eng.r, start_on_reactor, NULL);
	repl_eng.enabled = true;
	bdev_set_wrapper(repl_wrap);
	qb_log(LOG_NOTICE, "repl: %d replicated LUN(s); node %s starts as Secondary", repl_eng.nvols, repl_eng.node);
	return 0;
}

static void stop_r(void *arg)
{
	repl_conn_stop();
}

static void jobs_idle_r(void *arg)
{
	bool *idle = arg;

	*idle = true;
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];
		if (v->job_busy || !rl_empty(&v->jobs) || atomic_load(&v->wq_pending) || v->rs_done_flushing)
			*idle = false;
	}
}

void repl_shutdown(void)
{
	bool idle = false;

	if (!repl_eng.enabled)
		return;
	bdev_set_wrapper(NULL);
	for (int i = 0; i < repl_eng.nvols; i++)
		if (atomic_load(&repl_eng.vols[i]->attached) && repl_eng.vols[i]->wrapper)
			qb_log(LOG_WARNING, "repl: %s still open at shutdown", repl_eng.vols[i]->name);
	repl_call(stop_r, NULL);
	for (int i = 0; i < 5000 && !idle; i++) {
		repl_call(jobs_idle_r, &idle);
		if (!idle)
			usleep(1000);
	}
	reactor_stop(repl_eng.r);
	if (!idle) {
		/* a job still in the local disk posts its completion to the repl
		 * reactor and reads the volume's metadata when it ends (the work
		 * queue is drained after this): nothing of the engine is freed, the
		 * metadata stays as a crash leaves it (the next start resyncs the
		 * activity log's extents) */
		qb_log(LOG_ERR, "repl: replication work still pending at shutdown after 5 s (local disk stuck?): "
		       "the metadata is left as after a crash");
		repl_eng.enabled = false;
		return;
	}
	reactor_destroy(repl_eng.r);
	repl_eng.r = NULL;
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];
		if (v->md)
			repl_md_close(v->md);
		free(v->slots);
		repl_vc_free(v);
		repl_lus_free(v);
		free(v->st_iov.iov_base);       /* a push still in flight at shutdown */
		pthread_mutex_destroy(&v->st_lock);
		pthread_mutex_destroy(&v->md_lock);
		free(v);
		repl_eng.vols[i] = NULL;
	}
	repl_eng.nvols = 0;
	explicit_bzero(repl_eng.secret, sizeof(repl_eng.secret));
	repl_eng.enabled = false;
	qb_log(LOG_NOTICE, "repl: stopped");
}
