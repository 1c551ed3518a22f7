/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sessions: the CmdSN window (ExpCmdSN/MaxCmdSN, immediate commands, commands
 * held until a CmdSN gap fills), membership of connections, the SCSI I_T
 * nexus, and teardown. All connections of a session live on the session's
 * reactor, so none of this needs a lock except the global registry. */
#include "iscsi/iscsi_int.h"
#include "util/stat.h"
#include <stdlib.h>
#include <string.h>

struct iscsi_session *iscsi_session_create(void)
{
	static _Atomic uint64_t next_uid = 1;
	struct iscsi_session *s = calloc(1, sizeof(*s));

	if (s) {
		s->created_ms = reactor_now_ms();
		s->uid = next_uid++;
	}
	return s;
}

uint32_t iscsi_session_exp_cmdsn(const struct iscsi_conn *c)
{
	return c->sess ? c->sess->exp_cmdsn : 0;
}

uint32_t iscsi_session_max_cmdsn(const struct iscsi_conn *c)
{
	return c->sess ? c->sess->max_cmdsn : 0;
}

/* A command finished (answered, or dropped once delivered): a non-immediate
 * one opens the window by one (RFC 7143 3.2.2.1); an immediate one never took
 * a slot. */
void iscsi_session_cmd_done(struct iscsi_task *t)
{
	struct iscsi_session *s = t->conn->sess;

	if (s && !t->immediate)
		STAT_INC(s->max_cmdsn);
}

static bool taken_has(const struct iscsi_session *s, uint32_t sn)
{
	for (unsigned i = 0; i < s->ntaken; i++)
		if (s->taken[i] == sn)
			return true;
	return false;
}

static bool taken_remove(struct iscsi_session *s, uint32_t sn)
{
	for (unsigned i = 0; i < s->ntaken; i++)
		if (s->taken[i] == sn) {
			s->taken[i] = s->taken[--s->ntaken];
			return true;
		}
	return false;
}

/* ExpCmdSN moves over delivered commands and over CmdSNs taken without a
 * task (whose window slot is free again at that point). */
static void drain_pending(struct iscsi_session *s)
{
	for (;;) {
		if (s->pending && s->pending->cmdsn == s->exp_cmdsn) {
			struct iscsi_task *t = s->pending;
			s->pending = t->snext;
			t->snext = NULL;
			STAT_INC(s->exp_cmdsn);
			iscsi_task_deliver(t);
		} else if (s->ntaken && taken_remove(s, s->exp_cmdsn)) {
			STAT_INC(s->exp_cmdsn);
			STAT_INC(s->max_cmdsn);
		} else {
			break;
		}
	}
}

/* Take CmdSN sn without a task (a non-SCSI request, or a command an ABORT TASK
 * named before it arrived). False when it cannot be taken: outside the
 * window, already taken, or a command waiting with it. */
bool iscsi_session_cmdsn_take(struct iscsi_session *s, uint32_t sn)
{
	if (sn == s->exp_cmdsn && !iscsi_sn_gt(sn, s->max_cmdsn)) {
		STAT_INC(s->exp_cmdsn);
		STAT_INC(s->max_cmdsn);     /* nothing runs for it: the slot is free again */
		drain_pending(s);
		return true;
	}
	if (!iscsi_sn_gt(sn, s->exp_cmdsn) || iscsi_sn_gt(sn, s->max_cmdsn) || taken_has(s, sn) ||
	    s->ntaken >= ISCSI_TAKEN_MAX)
		return false;
	for (struct iscsi_task *t = s->pending; t; t = t->snext)
		if (t->cmdsn == sn)
			return false;
	s->taken[s->ntaken++] = sn;
	return true;
}

/* RFC 7143 3.2.2.1: commands are delivered in CmdSN order; immediate ones at
 * once; a CmdSN outside [ExpCmdSN, MaxCmdSN] is silently dropped. */
void iscsi_session_cmdsn_received(struct iscsi_conn *c, struct iscsi_task *t)
{
	struct iscsi_session *s = c->sess;
	struct iscsi_task **pp;

	if (t->immediate) {
		iscsi_task_deliver(t);
		return;
	}
	/* the next one, unless the window is closed (MaxCmdSN = ExpCmdSN - 1:
	 * every slot runs a command; an initiator that ignores it must not
	 * queue commands without bound) */
	if (t->cmdsn == s->exp_cmdsn && !iscsi_sn_gt(t->cmdsn, s->max_cmdsn)) {
		STAT_INC(s->exp_cmdsn);
		iscsi_task_deliver(t);
		drain_pending(s);
		return;
	}
	if (!iscsi_sn_gt(t->cmdsn, s->exp_cmdsn) || iscsi_sn_gt(t->cmdsn, s->max_cmdsn)) {
		qb_log(LOG_NOTICE, "iscsi: %s: CmdSN %u outside window [%u, %u]: command dropped (ITT 0x%08x)",
		       c->peer, t->cmdsn, s->exp_cmdsn, s->max_cmdsn, t->itt);
		STAT_INC(c->st_errors);
		t->dead = true;
		iscsi_task_put(t);
		return;
	}
	for (pp = &s->pending; *pp && iscsi_sn_lt((*pp)->cmdsn, t->cmdsn); pp = &(*pp)->snext)
		;
	if ((*pp && (*pp)->cmdsn == t->cmdsn) || taken_has(s, t->cmdsn)) {
		qb_log(LOG_NOTICE, "iscsi: %s: duplicate CmdSN %u dropped", c->peer, t->cmdsn);
		iscsi_task_put(t);
		return;
	}
	t->snext = *pp;
	*pp = t;
	t->state = ISCSI_TASK_PENDING;
}

/* Non-SCSI requests (NOP-Out, Text, Logout, TMF) are answered at once; they
 * still take their CmdSN when not immediate. Returns false to drop the PDU. */
bool iscsi_session_cmdsn_check(struct iscsi_conn *c, const uint8_t *bhs)
{
	struct iscsi_session *s = c->sess;
	uint32_t sn = get_be32(bhs + ISCSI_BHS_CMDSN);

	if (!s || iscsi_bhs_immediate(bhs))
		return true;
	/* answered right away; ahead of a gap its CmdSN is remembered, so that
	 * ExpCmdSN moves past it once the gap fills (it used to stop there) */
	if (iscsi_session_cmdsn_take(s, sn))
		return true;
	qb_log(LOG_NOTICE, "iscsi: %s: %s CmdSN %u outside window [%u, %u]: dropped", c->peer,
	       iscsi_opcode_name(iscsi_bhs_opcode(bhs)), sn, s->exp_cmdsn, s->max_cmdsn);
	return false;
}

static void session_free(struct iscsi_session *s)
{
	struct iscsi_task *t, *n;

	for (t = s->pending; t; t = n) {
		n = t->snext;
		t->snext = NULL;
		iscsi_task_put(t);
	}
	s->pending = NULL;
	if (s->itn)
		scsi_itn_destroy(s->itn);
	if (s->tgt)
		iscsi_tgt_put(s->tgt);
	qb_log(s->type == ISCSI_SESSION_NORMAL ? LOG_INFO : LOG_DEBUG,
	       "iscsi: session TSIH %u initiator %s target %s ended", s->tsih, s->initiator,
	       s->target_name[0] ? s->target_name : "(discovery)");
	free(s);
}

/* Under g_iscsi.lock */
static void registry_remove(struct iscsi_session *s)
{
	struct iscsi_session **pp;

	if (!s->in_registry)
		return;
	for (pp = &g_iscsi.sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	s->in_registry = false;
	g_iscsi.nsessions--;
	if (s->type == ISCSI_SESSION_DISCOVERY)
		g_iscsi.ndiscovery--;
}

/* On the successor's reactor: the session it reinstated has ended, the last
 * of its tasks has left the backend. Its held login answer can go. */
static void predecessor_gone(void *arg)
{
	struct iscsi_session *s = arg;
	struct iscsi_conn *c;

	pthread_mutex_lock(&g_iscsi.lock);
	c = s->conns;
	pthread_mutex_unlock(&g_iscsi.lock);
	if (c)
		iscsi_login_resume(c);
	iscsi_session_release(s);
}

/* S has ended for its successor: killed, and its last connection freed, which
 * happens once that connection's last task has left the backend (a connection
 * add still logging in may keep the struct longer, with no task). Leave the
 * chain of reinstatements: a successor that waited only for S is returned
 * with a reference, to be woken (post_wake); when S itself still waited for
 * an older session, the successor waits for that one instead (a login retried
 * while the first retry was waiting reinstates the waiting session).
 * Under g_iscsi.lock. */
static struct iscsi_session *succession_leave_locked(struct iscsi_session *s)
{
	struct iscsi_session *p = s->predecessor, *n = s->successor;

	s->predecessor = s->successor = NULL;
	if (p)
		p->successor = n;
	if (!n)
		return NULL;
	n->predecessor = p;
	if (p)
		return NULL;
	n->nconns++;            /* held by the posted wake-up */
	return n;
}

static void post_wake(struct iscsi_session *n)
{
	if (n)
		reactor_post(n->r, predecessor_gone, n);
}

/* Drop one of the session's references (connections, posted kills). */
void iscsi_session_release(struct iscsi_session *s)
{
	struct iscsi_session *wake = NULL;
	bool last;

	pthread_mutex_lock(&g_iscsi.lock);
	last = --s->nconns <= 0 && !s->conns;
	if (last) {
		registry_remove(s);
		wake = succession_leave_locked(s);
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	if (last)
		session_free(s);
	post_wake(wake);
}

/* A connection is being freed: leave its session (last one ends it). */
void iscsi_session_conn_gone(struct iscsi_conn *c)
{
	struct iscsi_session *s = c->sess, *wake = NULL;
	struct iscsi_conn **pp;

	if (!s)
		return;
	pthread_mutex_lock(&g_iscsi.lock);
	for (pp = &s->conns; *pp; pp = &(*pp)->snext)
		if (*pp == c) {
			*pp = c->snext;
			break;
		}
	if (s->dying && !s->conns)
		wake = succession_leave_locked(s);
	pthread_mutex_unlock(&g_iscsi.lock);
	c->sess = NULL;
	iscsi_session_release(s);
	post_wake(wake);
}

/* On the session's reactor: close every connection (reinstatement, logout of
 * the session, target cold reset, shutdown). */
void iscsi_session_kill(struct iscsi_session *s, const char *why)
{
	struct iscsi_conn *conns[64];
	struct iscsi_session *wake = NULL;
	int n = 0;

	pthread_mutex_lock(&g_iscsi.lock);
	s->dying = true;        /* under the lock: logins on other reactors read it there */
	for (struct iscsi_conn *c = s->conns; c && n < 64; c = c->snext)
		conns[n++] = c;
	if (!s->conns)          /* nothing left to end (a connection add may hold it) */
		wake = succession_leave_locked(s);
	pthread_mutex_unlock(&g_iscsi.lock);
	post_wake(wake);
	for (int i = 0; i < n; i++)
		iscsi_conn_close(conns[i], why);
}

static void session_kill_posted(void *arg)
{
	struct iscsi_session *s = arg;

	iscsi_session_kill(s, s->kill_why);
	iscsi_session_release(s);
}

/* Kill S on its own reactor, from another one (reinstatement, another
 * session's TARGET COLD RESET): a connection reference holds it until then.
 * Caller holds g_iscsi.lock. */
void iscsi_session_post_kill_locked(struct iscsi_session *s, const char *why)
{
	s->nconns++;
	s->kill_why = why;
	reactor_post(s->r, session_kill_posted, s);
}

/* Ask the initiator to log out every connection (RFC 7143 11.9.1 AsyncEvent 1). */
void iscsi_session_request_logout(struct iscsi_session *s, uint16_t time2wait)
{
	pthread_mutex_lock(&g_iscsi.lock);
	struct iscsi_conn *conns[64];
	int n = 0;
	for (struct iscsi_conn *c = s->conns; c && n < 64; c = c->snext)
		conns[n++] = c;
	pthread_mutex_unlock(&g_iscsi.lock);
	for (int i = 0; i < n; i++)
		if (!conns[i]->closing && conns[i]->state == ISCSI_CONN_FULL)
			iscsi_send_async_logout(conns[i], time2wait);
}
