/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Fencing of the peer (DRBD's "fencing resource-and-stonith"; docs/REPLICATION.md
 * "Fencing"): when the Primary loses the peer and a write needs it, the write
 * is not acknowledged on the local disk alone. It is frozen (kept in the
 * volume's od_wait list, its region already in the bitmap) and the fence
 * handler (the cluster manager) is asked, on the main thread, to make sure the
 * peer can never be promoted without it: the peer marked its disks Outdated
 * durably, or it is dead. Only that answer (repl_fence_done(true)) starts the
 * one-time "peer is Outdated" generation bump of degraded mode and releases
 * the writes. A demotion (quorum lost, operator) fails the frozen writes with
 * NOT READY (transition): the initiator retries them elsewhere; nothing frozen was acknowledged.
 * Without a handler (no cluster manager: the operator decides) degraded mode
 * starts at once, as before.
 *
 * Also the peer's side of the protocol: repl_outdate_self() marks every
 * replicated LUN Outdated, durably, before the cluster answers the Primary. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "reactor.h"
#include "repl/repl_int.h"
#include "util/log.h"

static struct {
	pthread_mutex_t lock;           /* fn / arg (main thread writes, main thread reads) */
	void (*fn)(void *arg);
	void *arg;
	int efd;                        /* main thread polls it; the repl reactor writes */
	_Atomic bool on;                /* a handler is installed: writes freeze */
	_Atomic bool requested;         /* a request is outstanding (set on the reactor) */
	/* reactor-owned */
	bool asked;
	uint64_t frozen_since;
} F = { .lock = PTHREAD_MUTEX_INITIALIZER, .efd = -1 };

/* ---------------------------------------------------------------- reactor side */

bool repl_fence_gate(struct repl_vol *v)
{
	if (!atomic_load(&F.on))
		return true;
	if (!F.asked) {
		uint64_t one = 1;

		F.asked = true;
		F.frozen_since = reactor_now_ms();
		qb_log(LOG_WARNING, "repl: %s: the peer is gone and is not known to be Outdated: writes are frozen "
		       "(not acknowledged) until the cluster fences or outdates %s", v->name, repl_eng.peer_name);
		atomic_store(&F.requested, true);
		if (F.efd >= 0 && write(F.efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			qb_log(LOG_ERR, "repl: fence request: eventfd: %s", strerror(errno));
	}
	return false;
}

static void done_r(void *arg)
{
	bool ok = arg != NULL;
	unsigned released = 0;

	F.asked = false;
	atomic_store(&F.requested, false);
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];
		bool frozen;

		if (!atomic_load(&v->attached) || v->od_state != OD_NONE)
			continue;
		frozen = !rl_empty(&v->od_wait);
		if (!ok) {
			for (struct repl_link *l = v->od_wait.next; l != &v->od_wait; l = l->next)
				released++;
			repl_vol_fail_frozen(v, -BDEV_E_NOT_ACTIVE);
			continue;
		}
		released += frozen;
		/* the peer is Outdated or dead: record that durably (new current
		 * generation, PEER_OUTDATED) before any frozen write completes; on
		 * every volume, so that an Outdated peer's current generation is our
		 * bitmap id and it resyncs. A volume that meanwhile replicates again,
		 * or negotiates with the ids it announced before this bump, starts
		 * over with the new generation once the bump is durable, so the peer
		 * resyncs the bitmap (frozen writes included); a negotiation allowed
		 * to finish on the old ids decided "in sync" */
		repl_outdate_peer_start(v);
		if (repl_vol_replicating(v) || (v->vs == VS_NEGOTIATE && v->sent_state))
			repl_vol_link_down(v);
	}
	if (ok)
		qb_log(LOG_NOTICE, "repl: the peer %s is Outdated or dead: writes continue without it (frozen %llu ms)",
		       repl_eng.peer_name, (unsigned long long)(reactor_now_ms() - F.frozen_since));
	else if (released)
		qb_log(LOG_WARNING, "repl: fencing given up (demotion or quorum loss): %u frozen write(s) fail "
		       "with NOT READY (never acknowledged; the initiator retries them)", released);
}

/* ---------------------------------------------------------------- main thread */

int repl_set_fence_handler(void (*fn)(void *arg), void *arg)
{
	if (!repl_eng.enabled)
		return -1;
	pthread_mutex_lock(&F.lock);
	if (F.efd < 0)
		F.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	F.fn = fn;
	F.arg = arg;
	pthread_mutex_unlock(&F.lock);
	if (F.efd < 0) {
		qb_log(LOG_ERR, "repl: fence handler: eventfd: %s", strerror(errno));
		return -1;
	}
	atomic_store(&F.on, fn != NULL);
	if (!fn && repl_eng.r)
		reactor_post(repl_eng.r, done_r, NULL);       /* nobody answers any more: unfreeze by failing */
	qb_log(LOG_INFO, "repl: fence handler %s: writes %s while the peer is missing and not known Outdated",
	       fn ? "installed" : "removed", fn ? "freeze" : "continue degraded at once");
	return F.efd;
}

void repl_fence_dispatch(void)
{
	uint64_t n;
	void (*fn)(void *);
	void *arg;

	if (F.efd >= 0 && read(F.efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		qb_log(LOG_ERR, "repl: fence eventfd: %s", strerror(errno));
	pthread_mutex_lock(&F.lock);
	fn = F.fn;
	arg = F.arg;
	pthread_mutex_unlock(&F.lock);
	if (fn && atomic_load(&F.requested))
		fn(arg);
}

bool repl_fence_pending(void)
{
	return atomic_load(&F.requested);
}

void repl_fence_done(bool peer_outdated_or_dead)
{
	if (!repl_eng.enabled || !repl_eng.r)
		return;
	reactor_post(repl_eng.r, done_r, peer_outdated_or_dead ? (void *)1 : NULL);
}

/* A demotion fails the frozen writes (repl_set_role, main thread). */
void repl_fence_abort(void)
{
	if (repl_eng.enabled && repl_eng.r && atomic_load(&F.on))
		reactor_post(repl_eng.r, done_r, NULL);
}

/* ---------------------------------------------------------------- the peer's side: outdate myself */

struct outdate_ctx {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int refs;                       /* the main thread + one per job */
	int left;
	int failed;
	bool started;
};

static void ctx_put(struct outdate_ctx *c)
{
	bool last;

	pthread_mutex_lock(&c->lock);
	last = --c->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (last) {
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		free(c);
	}
}

struct outdate_job {
	struct outdate_ctx *c;
	struct repl_vol *v;
	int rc;
};

static void outdate_edit(struct repl_md_gen *gen, enum repl_disk_state *disk, uint32_t *flags, void *arg)
{
	if (*disk == REPL_DISK_UPTODATE)
		*disk = REPL_DISK_OUTDATED;
	*flags &= ~(uint32_t)REPL_MD_F_CONNECTED;
}

static void outdate_work(void *arg)
{
	struct outdate_job *j = arg;

	j->rc = repl_md_edit(j->v, outdate_edit, NULL);
}

static void outdate_done(void *arg)
{
	struct outdate_job *j = arg;
	struct outdate_ctx *c = j->c;

	if (j->rc < 0)
		qb_log(LOG_ERR, "repl: %s: cannot record Outdated in the metadata", j->v->name);
	else
		qb_log(LOG_WARNING, "repl: %s: marked Outdated at the Primary's request (it continues without "
		       "this node; a resync brings it back)", j->v->name);
	repl_publish(j->v);
	pthread_mutex_lock(&c->lock);
	if (j->rc < 0)
		c->failed++;
	c->left--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	free(j);
	ctx_put(c);
}

static void outdate_r(void *arg)
{
	struct outdate_ctx *c = arg;

	/* no resync may finish (J_TARGET_DONE: UpToDate) after the mark: drop the
	 * link first, so every job that could still come is already queued */
	if (repl_eng.conn)
		repl_conn_fail(repl_eng.conn, "the Primary asked this node to outdate itself");
	for (int i = 0; i < repl_eng.nvols; i++) {
		struct repl_vol *v = repl_eng.vols[i];
		struct outdate_job *j;

		if (!atomic_load(&v->attached))
			continue;
		j = calloc(1, sizeof(*j));
		pthread_mutex_lock(&c->lock);
		c->left++;
		c->refs++;
		pthread_mutex_unlock(&c->lock);
		if (j) {
			j->c = c;
			j->v = v;
			if (repl_vol_job(v, outdate_work, outdate_done, j) == 0)
				continue;
			free(j);
		}
		pthread_mutex_lock(&c->lock);
		c->failed++;
		c->left--;
		pthread_mutex_unlock(&c->lock);
		ctx_put(c);
	}
	pthread_mutex_lock(&c->lock);
	c->started = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	ctx_put(c);
}

int repl_outdate_self(char *err, size_t errlen)
{
	struct outdate_ctx *c;
	struct timespec dl;
	int rc = 0, failed, left;

	if (!repl_eng.enabled || !repl_eng.r) {
		snprintf(err, errlen, "replication is not configured");
		return -1;
	}
	if (repl_get_role() == REPL_ROLE_PRIMARY) {
		snprintf(err, errlen, "this node (%s) is Primary: it does not outdate itself", repl_eng.node);
		return -1;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	pthread_mutex_init(&c->lock, NULL);
	{
		pthread_condattr_t ca;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&c->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	c->refs = 2;                    /* main thread + outdate_r */
	reactor_post(repl_eng.r, outdate_r, c);
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&c->lock);
	while ((!c->started || c->left > 0) && rc == 0)
		rc = pthread_cond_timedwait(&c->cond, &c->lock, &dl);
	failed = c->failed;
	left = c->left + !c->started;
	pthread_mutex_unlock(&c->lock);
	ctx_put(c);
	if (left) {
		snprintf(err, errlen, "the metadata update did not finish within 10 s");
		return -1;
	}
	if (failed) {
		snprintf(err, errlen, "%d LUN(s) could not be marked Outdated (metadata write failed)", failed);
		return -1;
	}
	/* a promotion raced the request (main thread only: cannot happen, but
	 * an Outdated Primary must never answer "outdated") */
	if (repl_get_role() == REPL_ROLE_PRIMARY) {
		snprintf(err, errlen, "this node became Primary");
		return -1;
	}
	return 0;
}
