/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Proving a lost peer cannot be promoted without this node's writes: the
 * fence (or, under pacemaker, outdate-peer) command as a child process, and
 * replication's fence requests (DRBD's fence-peer handler): the Primary's
 * frozen writes wait for the peer to be Outdated (asked over CPG,
 * OUTDATE_REQUEST) or dead; the Secondary's answer to such a request. Main
 * thread only. */
#include "cluster/manager.h"
#include "repl/repl.h"
#include "util/log.h"
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#define FENCE_RETRY_MS 5000

/* ---- fencing ---------------------------------------------------------------- */

bool cl_under_pacemaker(void)
{
	return g_cl.cfg.manager == TCONF_CLUSTER_PACEMAKER;
}

/* What proves a lost peer cannot be promoted without this node's writes: the
 * built-in manager's fence command (it powers the peer off), or under
 * pacemaker the outdate-peer command (it marks the peer outdated in the CIB,
 * DRBD's crm-fence-peer), run while replication holds the writes frozen. */
static const char *fence_cmd(void)
{
	return cl_under_pacemaker() ? g_cl.cfg.outdate_peer_command : g_cl.cfg.fence_command;
}

static const char *fence_cmd_name(void)
{
	return cl_under_pacemaker() ? "outdate-peer" : "fence";
}

/* The fence command's whole process group (it ran setsid()): what an agent
 * started (ipmitool under fence_ipmilan) must not power a node off after the
 * fence counted as failed (review, session 15); the command itself if it had
 * not reached setsid() yet. */
void cl_fence_kill(void)
{
	if (kill(-g_cl.fence_pid, SIGKILL) < 0)
		kill(g_cl.fence_pid, SIGKILL);
}

static void fence_poll(void *data)
{
	int status;
	g_cl.fence_timer = 0;
	if (g_cl.fence_pid <= 0)
		return;
	pid_t r = waitpid(g_cl.fence_pid, &status, WNOHANG);
	if (r == 0) {
		if (cl_now_ms() - g_cl.fence_started > (uint64_t)g_cl.cfg.fence_timeout_ms) {
			qb_log(LOG_ERR, "cluster: %s command timed out after %d ms: killing it", fence_cmd_name(),
			       g_cl.cfg.fence_timeout_ms);
			cl_fence_kill();
			waitpid(g_cl.fence_pid, &status, 0);
			status = -1;
		} else {
			cl_timer_set(&g_cl.fence_timer, 100, fence_poll);
			return;
		}
	}
	g_cl.fence_pid = 0;
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		qb_log(LOG_NOTICE, cl_under_pacemaker() ? "cluster: outdate-peer command succeeded: %s is marked outdated"
						     : "cluster: fence command succeeded: %s is dead",
		       g_cl.peer.name[0] ? g_cl.peer.name : "peer");
		g_cl.fence = CL_FENCE_OK;
	} else {
		qb_log(LOG_ERR, "cluster: %s command failed (%s %d); retrying in %d s", fence_cmd_name(),
		       status != -1 && WIFEXITED(status) ? "exit" : "signal/timeout",
		       status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, FENCE_RETRY_MS / 1000);
		g_cl.fence = CL_FENCE_FAILED;
		g_cl.fence_next = cl_now_ms() + FENCE_RETRY_MS;
		cl_timer_set(&g_cl.fence_timer, FENCE_RETRY_MS, fence_poll);
	}
	cl_evaluate();
}

void cl_start_fence(void)
{
	char nodeid[16];
	if (g_cl.fence == CL_FENCE_RUNNING || (g_cl.fence == CL_FENCE_FAILED && cl_now_ms() < g_cl.fence_next))
		return;
	snprintf(nodeid, sizeof(nodeid), "%u", g_cl.peer.nodeid);
	qb_log(LOG_NOTICE, "cluster: %s %s: %s", cl_under_pacemaker() ? "marking outdated" : "fencing",
	       g_cl.peer.name[0] ? g_cl.peer.name : "the peer", fence_cmd());
	pid_t pid = fork();
	if (pid < 0) {
		qb_log(LOG_ERR, "cluster: fork for the fence command: %s", strerror(errno));
		g_cl.fence = CL_FENCE_FAILED;
		g_cl.fence_next = cl_now_ms() + FENCE_RETRY_MS;
		return;
	}
	if (pid == 0) {
		setsid();
		setenv("TANDEM_PEER", g_cl.peer.name[0] ? g_cl.peer.name : g_cl.cfg.peer, 1);
		setenv("TANDEM_PEER_NODEID", nodeid, 1);
		execl("/bin/sh", "sh", "-c", fence_cmd(), (char *)NULL);
		_exit(127);
	}
	g_cl.fence_pid = pid;
	g_cl.fence = CL_FENCE_RUNNING;
	g_cl.fence_started = cl_now_ms();
	cl_timer_set(&g_cl.fence_timer, 100, fence_poll);
}

/* ---- replication's fence requests -------------------------------------------- */

static void rf_timer_cb(void *data)
{
	g_cl.rf_timer = 0;
	cl_evaluate();
}

static void rf_answer(bool ok, const char *why)
{
	uint64_t ms = cl_now_ms() - g_cl.rf.since;

	qb_log(ok ? LOG_NOTICE : LOG_WARNING, "cluster: fence request %u answered after %" PRIu64 " ms: %s (%s)",
	       g_cl.rf.id, ms, ok ? "writes continue without the peer" : "frozen writes fail, retryable", why);
	snprintf(g_cl.rf.last_result, sizeof(g_cl.rf.last_result), "%s: %.80s", ok ? "released" : "failed", why);
	g_cl.rf.last_answer_ms = ms;
	g_cl.rf.want = false;
	g_cl.rf.asked_ms = 0;
	cl_timer_clear(&g_cl.rf_timer);
	repl_fence_done(ok);
}

/* A STATE announcing a clean exit, not as primary (cluster_shutdown demoted
 * first): the built-in manager's fence decision counts it as settled
 * (peer_left_clean). */
bool cl_leaving_clean(const struct cl_msg *m)
{
	return (m->flags & CL_SF_LEAVING) && m->role != CL_ROLE_PRIMARY;
}

/* ... with that node's disks durably Outdated (or Inconsistent): it cannot be
 * promoted with stale data any more, which is what fencing has to prove, under
 * any manager (leave_outdated marks a Secondary leaving its Primary first). */
bool cl_leaving_behind(const struct cl_msg *m)
{
	return cl_leaving_clean(m) && (m->disk == CL_DISK_OUTDATED || m->disk == CL_DISK_INCONSISTENT);
}

/* The Primary's side (DRBD's fence-peer handler): its writes stay frozen until
 * the peer is Outdated (asked over CPG) or dead (fence command, qdevice). */
void cl_rf_eval(void)
{
	struct cl_fence_view fv;
	struct cl_fence_decision d;

	if (!g_cl.rf.want)
		return;
	if (cl_my_role() != CL_ROLE_PRIMARY) {
		rf_answer(false, "this node is not primary any more");
		return;
	}
	/* under pacemaker: ask the peer over CPG, else the outdate-peer command */
	fv = (struct cl_fence_view){
		.fencing = cl_under_pacemaker() ? CL_FENCING_COMMAND : (enum cl_fencing)g_cl.cfg.fencing,
		.quorate = g_cl.up && g_cl.quorate,
		.qdevice_proof = !cl_under_pacemaker() && g_cl.quorate && g_cl.qdevice_vote && !g_cl.two_node && g_cl.quorum_members == 1,
		.peer_member = g_cl.peer.member,
		.peer_node_up = !g_cl.peer.node_down && g_cl.quorum_members >= 2,
		.peer_outdated = g_cl.rf.outdated || g_cl.peer.left_behind ||
				 (g_cl.peer.known && cl_leaving_behind(&g_cl.peer.st)),
		/* the built-in manager promotes a node alone only with its data
		 * known current (compared with the peer since its start): one
		 * that left cleanly cannot come back as a stale primary; under
		 * pacemaker the outdate-peer command marks it in the CIB */
		.peer_left_clean = g_cl.cfg.manager == TCONF_CLUSTER_BUILTIN &&
				   (g_cl.peer.left_clean || (g_cl.peer.known && cl_leaving_clean(&g_cl.peer.st))),
		.peer_refused = g_cl.rf.refused,
		.peer_primary = g_cl.peer.known && g_cl.peer.st.role == CL_ROLE_PRIMARY,
		.asked = g_cl.rf.asked_ms != 0,
		.ask_expired = g_cl.rf.asked_ms && cl_now_ms() - g_cl.rf.asked_ms >= CL_OUTDATE_TIMEOUT_MS,
		.fence = g_cl.fence,
		.pacemaker = cl_under_pacemaker(),
	};
	d = cl_decide_fence(&fv);
	if (d.action != g_cl.rf.last.action || d.reason != g_cl.rf.last.reason)
		qb_log(d.action == CL_FA_WAIT ? LOG_INFO : LOG_NOTICE, "cluster: fence request %u: %s (%s)", g_cl.rf.id,
		       cl_fence_action_name(d.action), d.reason);
	g_cl.rf.last = d;
	switch (d.action) {
	case CL_FA_OUTDATED:
	case CL_FA_DEAD:
		rf_answer(true, d.reason);
		break;
	case CL_FA_ASK: {
		struct cl_msg m = { .type = CL_MSG_OUTDATE_REQUEST, .on = 1, .epoch = g_cl.rf.id };
		snprintf(m.target, sizeof(m.target), "%s", g_cl.peer.name);
		if (cl_send_msg(&m) == 0) {
			g_cl.rf.asked_ms = cl_now_ms();
			g_cl.rf.refused = false;   /* the answer to this ask decides */
			cl_timer_set(&g_cl.rf_timer, CL_OUTDATE_TIMEOUT_MS + 10, rf_timer_cb);
		} else {
			cl_timer_set(&g_cl.rf_timer, 100, rf_timer_cb);       /* corosync busy: again soon */
		}
		break;
	}
	case CL_FA_FENCE:
		cl_start_fence();
		break;
	case CL_FA_WAIT:
		break;
	}
}

/* repl's fence handler (main thread, from the eventfd) */
void cl_rf_request(void *arg)
{
	if (!g_cl.rf.want) {
		g_cl.rf.want = true;
		g_cl.rf.id++;
		g_cl.rf.since = cl_now_ms();
		g_cl.rf.asked_ms = 0;
		g_cl.rf.outdated = g_cl.rf.refused = false;
		g_cl.rf.refused_why[0] = '\0';
		g_cl.rf.last = (struct cl_fence_decision){ 0 };
		/* A fence or mark done for an earlier loss proves nothing about
		 * this one: the peer may have resumed, resynced and been unmarked
		 * since without ever leaving the group (the only other reset). One
		 * still running counts: its effect comes after this loss began. So
		 * does a fence command's kill while the peer has not rejoined the
		 * group since (a rejoin resets it): the same loss, whose takeover
		 * fenced the node a moment ago; fencing it again killed the node
		 * while it was booting back (found by tests/cluster/test_soak.sh
		 * kill-primary in CI, session 12). */
		bool fenced_since = g_cl.fence == CL_FENCE_OK && !cl_under_pacemaker() && !g_cl.peer.member;
		if (g_cl.fence != CL_FENCE_RUNNING && !fenced_since)
			g_cl.fence = CL_FENCE_IDLE;
		qb_log(LOG_WARNING, "cluster: replication lost %s while primary: writes are frozen until it is "
		       "Outdated or dead (fence request %u)", g_cl.peer.name[0] ? g_cl.peer.name : "the peer", g_cl.rf.id);
	}
	cl_evaluate();
}

int32_t cl_rf_fd_cb(int32_t fd, int32_t revents, void *data)
{
	repl_fence_dispatch();
	return 0;
}

/* The last outdate request done here: the Primary asks again every 5 s while
 * no Outdated answer came (lost, or still being worked on here: the metadata
 * writes block this thread up to 10 s); a repeat of a done Outdated answer is
 * answered again without the work, so the repeats cannot pile up behind a slow
 * disk. Forgotten when the requester leaves the group (a restarted tandemd
 * numbers its requests from 1 again). */
static struct {
	char name[CL_NAME_MAX];
	uint32_t epoch;
	bool ok;
} od_last;

/* The peer (Primary) lost its replication link to us and asks us to make sure
 * we are never promoted without the writes it continues with. */
void cl_on_outdate_request(const struct cl_msg *m)
{
	struct cl_msg a = { .type = CL_MSG_OUTDATE_ANSWER, .epoch = m->epoch };
	char err[128] = "";
	uint64_t t0 = cl_now_ms();
	bool ok;

	if (od_last.ok && od_last.epoch == m->epoch && strcmp(od_last.name, m->name) == 0 &&
	    cl_my_role() != CL_ROLE_PRIMARY) {
		qb_log(LOG_INFO, "cluster: %s repeats outdate request %u: answered again (disks already Outdated)",
		       m->name, m->epoch);
		a.on = 1;
		snprintf(a.target, sizeof(a.target), "%s", m->name);
		cl_send_msg(&a);
		return;
	}
	if (cl_my_role() == CL_ROLE_PRIMARY) {
		snprintf(err, sizeof(err), "%s is primary: it does not outdate itself", g_cl.cfg.node);
		ok = false;
	} else if (!cl_repl_on()) {
		ok = true;              /* nothing replicated here */
	} else {
		ok = repl_outdate_self(err, sizeof(err)) == 0;
	}
	qb_log(ok ? LOG_WARNING : LOG_ERR, "cluster: %s asked this node to outdate itself (request %u): %s%s (%" PRIu64 " ms)",
	       m->name, m->epoch, ok ? "done, disks Outdated" : "refused: ", err, cl_now_ms() - t0);
	a.on = ok;
	snprintf(a.target, sizeof(a.target), "%s", m->name);
	snprintf(a.text, sizeof(a.text), "%s", err);
	cl_send_msg(&a);
	snprintf(od_last.name, sizeof(od_last.name), "%s", m->name);
	od_last.epoch = m->epoch;
	od_last.ok = ok;
	cl_announce();
}

void cl_on_outdate_answer(const struct cl_msg *m)
{
	if (strcmp(m->target, g_cl.cfg.node) != 0 || !g_cl.rf.want || m->epoch != g_cl.rf.id)
		return;
	if (m->on) {
		g_cl.rf.outdated = true;
	} else {
		g_cl.rf.refused = true;
		snprintf(g_cl.rf.refused_why, sizeof(g_cl.rf.refused_why), "%.120s", m->text);
		qb_log(LOG_ERR, "cluster: %s refused to outdate itself: %s", m->name, m->text);
	}
}

/* The requester left the group (peer_left): a restarted tandemd numbers its
 * requests from 1 again. */
void cl_outdate_forget(void)
{
	od_last.ok = false;
}
