/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Task management (RFC 7143 11.5, 11.6): abort one task, task sets, LUN and
 * target resets. Aborted tasks get no response; the TMF response waits until
 * the backend finished every affected task. */
#include "iscsi/iscsi_int.h"
#include <stdlib.h>
#include <string.h>

/* RFC 7143 11.5.1: a TARGET COLD RESET, once its warm reset part is complete,
 * drops every connection of every initiator of the target: the other
 * sessions at once (on their reactors), the issuer's after its response
 * left (cold_reset_sent). */
static void cold_reset_drop_others(struct iscsi_session *self)
{
	pthread_mutex_lock(&g_iscsi.lock);
	for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next)
		if (s != self && s->tgt == self->tgt && s->type == ISCSI_SESSION_NORMAL)
			iscsi_session_post_kill_locked(s, "target cold reset by another initiator");
	pthread_mutex_unlock(&g_iscsi.lock);
}

static void cold_reset_sent(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	(void)p;
	if (c->sess)
		iscsi_session_kill(c->sess, "target cold reset");
	else
		iscsi_conn_close(c, "target cold reset");
}

static void tmf_respond(struct iscsi_conn *c, const uint8_t *req, uint8_t response, bool cold)
{
	struct iscsi_txpdu *p;

	if (cold && c->sess)
		cold_reset_drop_others(c->sess);
	if (c->closing)
		return;
	p = iscsi_pdu_get(c);
	if (!p) {
		iscsi_conn_close(c, "out of memory for a TMF response");
		return;
	}
	p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_TMF_RSP;
	p->bhs[ISCSI_BHS_FLAGS] = ISCSI_FLAG_FINAL;
	p->bhs[ISCSI_RSP_BYTE] = response;
	put_be32(p->bhs + ISCSI_BHS_ITT, get_be32(req + ISCSI_BHS_ITT));
	iscsi_pdu_set_sn(c, p->bhs, true);
	if (cold)
		p->sent = cold_reset_sent;  /* not before: the response would be dropped unsent */
	iscsi_pdu_queue(c, p);
}

/* A TMF's wait for the tasks it aborted in another session: counted on that
 * session's reactor, reported to the TMF's reactor (home) when the last of
 * them left the backend. SAM-5 7.6 / 7.5: a LUN RESET or CLEAR TASK SET is
 * complete once every task of the task set is aborted, not when the abort was
 * asked for; an initiator that sees the response may reuse the LBAs at once. */
struct iscsi_tmf_remote {
	struct reactor *home;
	struct iscsi_tmf *m;
	int count;                          /* aborted tasks in the backend, +1 while scanning */
};

/* One TMF waiting for one task: m (this session's) or rw (another's). */
struct iscsi_tmf_wait {
	struct iscsi_tmf_wait *next;
	struct iscsi_tmf *m;
	struct iscsi_tmf_remote *rw;
};

static void tmf_waited(struct iscsi_tmf *m);

static void tmf_remote_home(void *arg)
{
	tmf_waited(arg);
}

static void tmf_remote_put(struct iscsi_tmf_remote *rw)
{
	if (--rw->count > 0)
		return;
	reactor_post(rw->home, tmf_remote_home, rw->m);
	free(rw);
}

/* One thing m waited for is done (on m's reactor): the last one answers. */
static void tmf_waited(struct iscsi_tmf *m)
{
	if (--m->waiting > 0)
		return;
	if (m->task) {
		struct iscsi_task *t = m->task;

		t->pr_wait = NULL;
		free(m);
		iscsi_task_complete(&t->scsi);
		return;
	}
	if (m->conn) {
		struct iscsi_tmf **pp;
		for (pp = &m->conn->tmfs; *pp; pp = &(*pp)->conn_next)
			if (*pp == m) {
				*pp = m->conn_next;
				break;
			}
		tmf_respond(m->conn, m->req, m->response, m->cold_reset);
	}
	free(m);
}

/* An aborted task TMFs waited for has left the backend. */
void iscsi_tmf_task_gone(struct iscsi_task *t)
{
	while (t->tmf_waits) {
		struct iscsi_tmf_wait *w = t->tmf_waits;
		t->tmf_waits = w->next;
		if (w->m)
			tmf_waited(w->m);
		else
			tmf_remote_put(w->rw);
		free(w);
	}
}

/* The connection that issued TMFs still waiting for tasks (on its session's
 * other connections) is closing: nobody is there to answer any more. */
void iscsi_tmf_conn_gone(struct iscsi_conn *c)
{
	while (c->tmfs) {
		struct iscsi_tmf *m = c->tmfs;
		c->tmfs = m->conn_next;
		/* a TARGET COLD RESET still drops the target's other sessions
		 * (RFC 7143 11.5.1): now, while its own session is known */
		if (m->cold_reset && c->sess)
			cold_reset_drop_others(c->sess);
		m->cold_reset = false;
		m->conn = NULL;
		m->conn_next = NULL;
	}
}

/* Abort one task for the TMF m of this session, or rw of another session's TMF
 * (both NULL: nobody waits). Returns true when the response must wait for it. */
static bool tmf_abort_task(struct iscsi_task *t, struct iscsi_tmf *m, struct iscsi_tmf_remote *rw)
{
	bool in_queue = t->state == ISCSI_TASK_PENDING && !t->in_order;

	if (t->state == ISCSI_TASK_DONE)
		return false;
	if (t->state == ISCSI_TASK_EXEC) {
		/* in the backend, maybe aborted already by an earlier TMF that
		 * waits for it too: this one waits as well */
		if (!t->dead) {
			t->dead = true;
			t->scsi.aborted = true;
			iscsi_task_unhash(t);
		}
		if ((!m && !rw) || t->pr_backend_done)
			return false;   /* nobody waits, or a PR OUT that only waits to answer */
		struct iscsi_tmf_wait *w = malloc(sizeof(*w));
		if (!w) {
			qb_log(LOG_ERR, "iscsi: out of memory: a TMF answers before an aborted task left the backend");
			return false;
		}
		*w = (struct iscsi_tmf_wait){ .next = t->tmf_waits, .m = m, .rw = rw };
		t->tmf_waits = w;
		if (m)
			m->waiting++;
		else
			rw->count++;
		return true;
	}
	if (t->dead)
		return false;   /* queued for its CmdSN turn, never to execute */
	if (in_queue) {
		/* keep its CmdSN slot: it is released when its turn comes */
		t->dead = true;
		t->scsi.aborted = true;
		iscsi_task_unhash(t);
		return false;
	}
	/* collecting data (already delivered): free now and open its window slot */
	iscsi_session_cmd_done(t);
	iscsi_task_abort(t);
	return false;
}

/* Which aborted tasks of another nexus get COMMANDS CLEARED BY ANOTHER
 * INITIATOR on the task's own LUN (SAM-5 5.6). An EXTENDED COPY addressed to
 * LUN 2 that writes LUN 0 is aborted with LUN 0's task set, and its initiator
 * waits for it on LUN 2. */
enum abort_ua {
	ABORT_UA_NONE,          /* the issuer's own tasks */
	ABORT_UA_ALL,           /* another nexus' CLEAR TASK SET: every task */
	/* another nexus' LUN RESET or PREEMPT AND ABORT: the LUN itself gets
	 * its reset / preempted unit attention from the SCSI layer; only a task
	 * of another LUN (a copy touching this one) needs one */
	ABORT_UA_OTHER_LUN,
};

/* Abort every task of session s matching the LUN (all LUNs when lun < 0)
 * but skip (may be NULL: the PR OUT of a PREEMPT AND ABORT of its own
 * session's key, which waits for the others and must not wait for itself);
 * m or rw (may be NULL) is the TMF that waits for tasks already in the backend.
 * ua: which aborted tasks get s a unit attention on their own LUN. */
static void abort_session_tasks(struct iscsi_session *s, struct iscsi_tmf *m, struct iscsi_tmf_remote *rw,
				int64_t lun, const struct iscsi_task *skip, enum abort_ua ua)
{
	for (struct iscsi_conn *o = s->conns; o; o = o->snext) {
		struct iscsi_task *t, *next;
		for (t = o->active; t; t = next) {
			next = t->cnext;
			if (t == skip)
				continue;
			/* an EXTENDED COPY into or out of the LUN too */
			if (lun >= 0 && !scsi_task_touches_lun(&t->scsi, (uint64_t)lun))
				continue;
			/* a dying session's connections tear their own tasks
			 * down: only its tasks in the backend are waited for */
			if (s->dying && t->state != ISCSI_TASK_EXEC)
				continue;
			/* not done nor aborted before: this sweep aborts it (and
			 * may free it: its LUN is read first); a dying session's
			 * nexus is gone (reinstated, logged out): nobody to tell */
			bool aborts = t->state != ISCSI_TASK_DONE && !t->dead && !s->dying;
			uint64_t task_lun = t->scsi.lun;
			tmf_abort_task(t, m, rw);
			if (aborts && s->itn &&
			    (ua == ABORT_UA_ALL || (ua == ABORT_UA_OTHER_LUN && (int64_t)task_lun != lun)))
				scsi_itn_tasks_cleared(s->itn, task_lun);
		}
	}
}

static struct iscsi_task *find_in_session(struct iscsi_conn *c, uint32_t itt)
{
	for (struct iscsi_conn *o = c->sess->conns; o; o = o->snext) {
		struct iscsi_task *t = iscsi_task_find(o, itt);
		if (t)
			return t;
	}
	return NULL;
}

/* ---- tasks of other I_T nexuses (SAM-5 5.6: LUN RESET, TARGET RESET,
 * CLEAR TASK SET with a shared task set, PREEMPT AND ABORT) ----
 * Those tasks belong to sessions on other reactors. A message names the
 * session by pointer and uid; on the session's own reactor the registry tells
 * whether it still exists (sessions are freed on that reactor only; a dying
 * one, reinstated or logged out, stays registered until its last task left
 * the backend, and those tasks are waited for), so a stale message is dropped. Tasks are aborted without status (TAS=0, control
 * mode page); their initiators get the unit attention the SCSI layer queued. */
struct remote_abort {
	struct iscsi_session *s;
	uint64_t uid;
	int64_t lun;
	enum abort_ua ua;
	struct iscsi_tmf *m;    /* the TMF waiting (NULL: none), on reactor home */
	struct reactor *home;
	const struct iscsi_task *skip;  /* not aborted: the PR OUT that asked (compared only) */
};

static void remote_abort_run(void *arg)
{
	struct remote_abort *ra = arg;
	struct iscsi_tmf_remote *rw = NULL;
	bool alive = false;

	if (ra->m) {
		rw = malloc(sizeof(*rw));
		if (!rw)        /* answer without waiting rather than never */
			qb_log(LOG_ERR, "iscsi: out of memory: a TMF answers before the tasks it aborted ended");
		else
			*rw = (struct iscsi_tmf_remote){ .home = ra->home, .m = ra->m, .count = 1 };
	}

	pthread_mutex_lock(&g_iscsi.lock);
	for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next)
		if (s == ra->s && s->uid == ra->uid) {
			alive = true;
			break;
		}
	pthread_mutex_unlock(&g_iscsi.lock);
	if (alive) {
		qb_log(LOG_INFO, "iscsi: session TSIH %u: tasks of LUN %lld aborted by another nexus",
		       ra->s->tsih, (long long)ra->lun);
		abort_session_tasks(ra->s, NULL, rw, ra->lun, ra->skip, ra->ua);
	}
	if (rw)
		tmf_remote_put(rw);             /* the scan's own count */
	else if (ra->m)
		reactor_post(ra->home, tmf_remote_home, ra->m);
	free(ra);
}

/* m (may be NULL) waits until the aborted tasks left the backend; m's
 * reactor counts this session (m->waiting) before the post. skip: see
 * abort_session_tasks. */
static void remote_abort_post(struct iscsi_session *s, int64_t lun, enum abort_ua ua, struct iscsi_tmf *m,
			      struct reactor *home, const struct iscsi_task *skip)
{
	struct remote_abort *ra = malloc(sizeof(*ra));

	if (!ra) {
		qb_log(LOG_ERR, "iscsi: out of memory aborting tasks of session TSIH %u", s->tsih);
		return;
	}
	*ra = (struct remote_abort){ .s = s, .uid = s->uid, .lun = lun, .ua = ua, .m = m,
				     .home = home, .skip = skip };
	if (m)
		m->waiting++;
	reactor_post(s->r, remote_abort_run, ra);
}

/* scsi_itn abort callback (PREEMPT AND ABORT): on the PR OUT's reactor, tgt
 * lock held. SPC-4 5.13.11.2.4.4 aborts the preempted nexuses' tasks as ABORT
 * TASK SET does, and SAM-5 completes that only once they have ended: the PR
 * OUT's response waits (fence_scsi's preempt-abort returns, and the cluster
 * trusts that the fenced node's writes are over). by's count starts at 1 for
 * its own completion (iscsi_tmf_pr_done). The PR OUT's own session is called
 * too when it preempts its own key (SPC-4 5.13.11.2.5): its other tasks are
 * aborted, the PR OUT itself is not (it would wait for itself for ever). */
void iscsi_session_abort_cb(void *arg, uint64_t lun, struct scsi_task *by)
{
	struct iscsi_task *pt = by && by->complete == iscsi_task_complete ? by->transport_ctx : NULL;

	if (pt && !pt->pr_wait) {
		pt->pr_wait = calloc(1, sizeof(*pt->pr_wait));
		if (pt->pr_wait) {
			pt->pr_wait->task = pt;
			pt->pr_wait->waiting = 1;
		} else {
			qb_log(LOG_ERR, "iscsi: out of memory: PREEMPT AND ABORT answers before the aborted tasks ended");
		}
	}
	if (pt && pt->pr_wait)
		remote_abort_post(arg, (int64_t)lun, arg == pt->conn->sess ? ABORT_UA_NONE : ABORT_UA_OTHER_LUN,
				  pt->pr_wait, pt->conn->r, pt);
	else if (!pt || arg != pt->conn->sess)
		/* nothing keeps pt alive until the sweep: compared with no task;
		 * the PR OUT's own session (out of memory above) keeps its tasks,
		 * or the sweep would abort the PR OUT itself */
		remote_abort_post(arg, (int64_t)lun, ABORT_UA_OTHER_LUN, NULL, NULL, NULL);
}

void iscsi_tmf_pr_done(struct iscsi_task *t)
{
	tmf_waited(t->pr_wait);
}

/* Abort the tasks of every other normal session of the same target; the TMF
 * m of self answers once they left the backend. */
static void abort_other_sessions(struct iscsi_session *self, int64_t lun, enum abort_ua ua, struct iscsi_tmf *m)
{
	pthread_mutex_lock(&g_iscsi.lock);
	/* dying sessions too: their tasks still in the backend land later */
	for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next)
		if (s != self && s->tgt == self->tgt && s->type == ISCSI_SESSION_NORMAL)
			remote_abort_post(s, lun, ua, m, self->r, NULL);
	pthread_mutex_unlock(&g_iscsi.lock);
}

/* ABORT TASK whose Referenced Task Tag names no task (RFC 7143 11.6.1 b, c):
 * a RefCmdSN inside the CmdSN window [ExpCmdSN, MaxCmdSN] and older than the
 * TMF's own CmdSN is a command not received yet, which the target considers
 * received: "Function complete". Anything else, in particular a RefCmdSN below
 * ExpCmdSN (the command arrived and its response is already gone), is "Task
 * does not exist": the initiator then knows the command completed normally. */
uint8_t iscsi_tmf_abort_unknown(uint32_t ref, uint32_t tmf_cmdsn, uint32_t exp_cmdsn, uint32_t max_cmdsn)
{
	bool in_window = !iscsi_sn_lt(ref, exp_cmdsn) && !iscsi_sn_gt(ref, max_cmdsn);

	return in_window && iscsi_sn_lt(ref, tmf_cmdsn) ? ISCSI_TMF_RSP_COMPLETE : ISCSI_TMF_RSP_NO_TASK;
}

int iscsi_op_tmf(struct iscsi_conn *c, const uint8_t *bhs, uint8_t *data, uint32_t dlen)
{
	uint8_t func = bhs[ISCSI_BHS_FLAGS] & ISCSI_TMF_FUNC_MASK;
	struct iscsi_session *s = c->sess;
	uint64_t lun = scsi_lun_decode(bhs + ISCSI_BHS_LUN);
	struct iscsi_tmf *m;
	uint8_t response = ISCSI_TMF_RSP_COMPLETE;

	if (!iscsi_session_cmdsn_check(c, bhs))
		return 0;
	if (!s || s->type != ISCSI_SESSION_NORMAL) {
		tmf_respond(c, bhs, ISCSI_TMF_RSP_REJECTED, false);
		return 0;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		iscsi_conn_close(c, "out of memory for a TMF");
		return -1;
	}
	memcpy(m->req, bhs, ISCSI_BHS_LEN);
	m->conn = c;
	m->waiting = 1;     /* ourselves, dropped below */
	qb_log(LOG_INFO, "iscsi: %s: task management function %u LUN %llu RTT 0x%08x", c->peer, func,
	       (unsigned long long)lun, get_be32(bhs + ISCSI_TMF_RTT));
	switch (func) {
	case ISCSI_TMF_ABORT_TASK: {
		uint32_t rtt = get_be32(bhs + ISCSI_TMF_RTT);
		uint32_t ref = get_be32(bhs + ISCSI_TMF_REFCMDSN);
		uint32_t sn = get_be32(bhs + ISCSI_BHS_CMDSN);
		struct iscsi_task *t = find_in_session(c, rtt);
		if (t && t->scsi.lun == lun && t->state == ISCSI_TASK_DONE) {
			/* its status is queued and goes out before this answer: the
			 * task completed, it was not aborted */
			response = ISCSI_TMF_RSP_NO_TASK;
		} else if (t && t->scsi.lun == lun) {
			tmf_abort_task(t, m, NULL);
		} else if (t) {
			response = ISCSI_TMF_RSP_NO_TASK;
		} else {
			response = iscsi_tmf_abort_unknown(ref, sn, s->exp_cmdsn, s->max_cmdsn);
			/* RFC 7143 11.5.1: such a CmdSN counts as received (this is how
			 * an initiator fills the gap of a command the target dropped);
			 * the command, should it still come, is dropped */
			if (response == ISCSI_TMF_RSP_COMPLETE)
				(void)iscsi_session_cmdsn_take(s, ref);
		}
		break;
	}
	case ISCSI_TMF_ABORT_TASK_SET:
	case ISCSI_TMF_CLEAR_TASK_SET:
		if (!scsi_target_find_lun(s->tgt->st, lun)) {
			response = ISCSI_TMF_RSP_NO_LUN;
			break;
		}
		abort_session_tasks(s, m, NULL, (int64_t)lun, NULL, ABORT_UA_NONE);
		/* SAM-5 7.4: the task set is shared (TST=000), so CLEAR TASK SET
		 * reaches every nexus; ABORT TASK SET only the caller's. */
		if (func == ISCSI_TMF_CLEAR_TASK_SET)
			abort_other_sessions(s, (int64_t)lun, ABORT_UA_ALL, m);
		break;
	case ISCSI_TMF_LUN_RESET:
		if (!scsi_target_find_lun(s->tgt->st, lun)) {
			response = ISCSI_TMF_RSP_NO_LUN;
			break;
		}
		abort_session_tasks(s, m, NULL, (int64_t)lun, NULL, ABORT_UA_NONE);
		abort_other_sessions(s, (int64_t)lun, ABORT_UA_OTHER_LUN, m);
		scsi_lun_reset(s->tgt->st, lun, s->itn);
		break;
	case ISCSI_TMF_TARGET_WARM_RESET:
		abort_session_tasks(s, m, NULL, -1, NULL, ABORT_UA_NONE);
		abort_other_sessions(s, -1, ABORT_UA_NONE, m);
		scsi_target_reset(s->tgt->st, s->itn);
		break;
	case ISCSI_TMF_TARGET_COLD_RESET:
		abort_session_tasks(s, m, NULL, -1, NULL, ABORT_UA_NONE);
		abort_other_sessions(s, -1, ABORT_UA_NONE, m);
		scsi_target_reset(s->tgt->st, s->itn);
		m->cold_reset = true;
		break;
	case ISCSI_TMF_CLEAR_ACA:
		response = ISCSI_TMF_RSP_NOT_SUPPORTED;
		break;
	case ISCSI_TMF_TASK_REASSIGN:
		/* RFC 7143 11.5.1: reassignment needs ErrorRecoveryLevel 2 */
		response = ISCSI_TMF_RSP_NO_REASSIGN;
		break;
	default:
		response = ISCSI_TMF_RSP_REJECTED;
		break;
	}
	m->response = response;
	if (--m->waiting == 0) {
		tmf_respond(c, m->req, m->response, m->cold_reset);
		free(m);
	} else {
		m->conn_next = c->tmfs;     /* answered by tmf_waited, unless c closes first */
		c->tmfs = m;
	}
	return 0;
}
