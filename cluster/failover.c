/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Planned failover (tandemctl failover, standby): the Primary drains
 * (Transitioning), demotes, releases the address and hands over; the target
 * promotes or says it failed, and the old Primary takes the role back when
 * nothing happens in time. docs/CLUSTER.md describes the protocol. Main
 * thread only. */
#include "cluster/manager.h"
#include "repl/repl.h"
#include "util/log.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* How long the old Primary waits for the target to promote before it takes
 * the role back: longer than the target's own promotion may legitimately take
 * (repl_promote_wait_max_ms: it waits for the former Primary's last writes),
 * or both could commit a promotion within one ROLE message's transit. A target
 * that fails says so (HANDOVER_FAILED), and one that leaves is noticed at once. */
#define HANDOVER_TIMEOUT_MS_MIN 5000u
#define HANDOVER_MARGIN_MS 2000u
#define FAILOVER_DRAIN_DELAY_MS 20

static uint64_t handover_timeout_ms(void)
{
	uint64_t t = cl_repl_on() ? repl_promote_wait_max_ms() + HANDOVER_MARGIN_MS : 0;
	return t > HANDOVER_TIMEOUT_MS_MIN ? t : HANDOVER_TIMEOUT_MS_MIN;
}

void cl_fo_finish(const char *result)
{
	if (g_cl.fo != FO_IDLE) {
		g_cl.fo_last_ms = (int64_t)(cl_now_ms() - g_cl.fo_started);
		snprintf(g_cl.fo_last, sizeof(g_cl.fo_last), "%s", result);
		g_cl.fo_seq++;
		qb_log(LOG_NOTICE, "cluster: planned failover to %s: %s (%" PRId64 " ms)", g_cl.fo_target, result,
		       g_cl.fo_last_ms);
	}
	g_cl.fo = FO_IDLE;
	cl_timer_clear(&g_cl.fo_timer);
	cl_apply_alua();
}

/* Why the peer cannot take over now, or NULL. */
static const char *peer_unready(void)
{
	if (!g_cl.peer.member || !g_cl.peer.known)
		return "the peer is not in the membership";
	if (g_cl.peer.st.flags & CL_SF_STANDBY)
		return "the peer is in standby";
	if (g_cl.peer.st.disk != CL_DISK_UPTODATE)
		return "the peer's disk is not UpToDate";
	if (g_cl.split_brain || (g_cl.peer.st.flags & CL_SF_SPLIT_BRAIN))
		return "split brain";
	cl_refresh_repl();
	if (!g_cl.in_sync)
		return "the peer is not in sync (replication not connected or peer not UpToDate)";
	if (!g_cl.quorate)
		return "no quorum";
	return NULL;
}

static void handover_timeout(void *data)
{
	g_cl.fo_timer = 0;
	if (g_cl.fo != FO_HANDED)
		return;
	qb_log(LOG_ERR, "cluster: %s did not take over within %" PRIu64 " ms: taking the role back", g_cl.fo_target,
	       handover_timeout_ms());
	cl_send_ctl(CL_MSG_TRANSITION, g_cl.fo_target, 0, "aborted");
	cl_fo_finish("failed: the target did not take over");
	if (!g_cl.peer.member || !g_cl.peer.known || g_cl.peer.st.role != CL_ROLE_PRIMARY)
		cl_do_promote("failover aborted");
}

static void fo_drain(void *data)
{
	char err[256] = "";
	const char *why;

	g_cl.fo_timer = 0;
	if (g_cl.fo != FO_DRAINING)
		return;
	/* replication demotion waits for the writes in flight */
	if (cl_set_role(CL_ROLE_SECONDARY, err, sizeof(err)) < 0) {
		cl_send_ctl(CL_MSG_TRANSITION, g_cl.fo_target, 0, "aborted");
		snprintf(g_cl.fo_last, sizeof(g_cl.fo_last), "failed: %.120s", err);
		cl_fo_finish(g_cl.fo_last);
		return;
	}
	why = peer_unready();
	if (why) {
		char msg[160];
		snprintf(msg, sizeof(msg), "failed: %s", why);
		cl_send_ctl(CL_MSG_TRANSITION, g_cl.fo_target, 0, "aborted");
		cl_fo_finish(msg);
		cl_set_role(CL_ROLE_PRIMARY, err, sizeof(err));
		cl_apply_alua();
		return;
	}
	if (!cl_release_ip()) {
		/* the target would take an address this node still answers
		 * for: both would hold it (review, session 15) */
		cl_send_ctl(CL_MSG_TRANSITION, g_cl.fo_target, 0, "aborted");
		snprintf(g_cl.fo_last, sizeof(g_cl.fo_last), "failed: cannot release the floating IP: %.100s", g_cl.last_error);
		cl_fo_finish(g_cl.fo_last);
		cl_set_role(CL_ROLE_PRIMARY, err, sizeof(err));
		cl_apply_alua();
		return;
	}
	g_cl.fo = FO_HANDED;
	cl_apply_alua();
	cl_announce();
	cl_send_ctl(CL_MSG_HANDOVER, g_cl.fo_target, 1, "");
	cl_timer_set(&g_cl.fo_timer, handover_timeout_ms(), handover_timeout);
}

int cl_start_failover(const char *target, char *err, size_t errlen)
{
	const char *why = peer_unready();
	if (why) {
		snprintf(err, errlen, "cannot fail over to %s: %s", target, why);
		return -1;
	}
	g_cl.fo = FO_DRAINING;
	g_cl.epoch++;
	g_cl.fo_started = cl_now_ms();
	snprintf(g_cl.fo_target, sizeof(g_cl.fo_target), "%s", target);
	qb_log(LOG_NOTICE, "cluster: planned failover to %s", target);
	cl_send_ctl(CL_MSG_TRANSITION, target, 1, "");
	cl_apply_alua();                   /* Transitioning: initiators retry, no new writes */
	cl_timer_set(&g_cl.fo_timer, FAILOVER_DRAIN_DELAY_MS, fo_drain);
	return 0;
}

void cl_on_handover(const struct cl_msg *m)
{
	char text[160];
	if (strcmp(m->target, g_cl.cfg.node) != 0)
		return;
	g_cl.fo = FO_TAKING;
	g_cl.fo_started = cl_now_ms();
	snprintf(g_cl.fo_target, sizeof(g_cl.fo_target), "%s", g_cl.cfg.node);
	if (g_cl.disk != CL_DISK_UPTODATE || !g_cl.quorate || cl_do_promote("planned failover") < 0) {
		snprintf(text, sizeof(text), "%.150s", g_cl.last_error[0] ? g_cl.last_error : "not UpToDate or no quorum");
		/* the answer names the attempt (the HANDOVER's epoch): a late one
		 * must not abort the old primary's next failover */
		cl_send_ctl_epoch(CL_MSG_HANDOVER_FAILED, m->name, 0, text, m->epoch);
		cl_fo_finish("failed: could not promote");
		return;
	}
	cl_fo_finish("ok");
}

int cluster_failover(const char *node, char *err, size_t errlen)
{
	const char *target = node && *node ? node : NULL;
	bool primary = cl_my_role() == CL_ROLE_PRIMARY;

	if (!g_cl.on) {
		snprintf(err, errlen, "cluster manager not configured");
		return -1;
	}
	if (g_cl.cfg.manager != TCONF_CLUSTER_BUILTIN) {
		snprintf(err, errlen, "manager is not builtin: use pacemaker (crm_resource --move) or tandemctl primary/secondary");
		return -1;
	}
	if (g_cl.fo != FO_IDLE || g_cl.peer.transition) {
		snprintf(err, errlen, "a failover is already in progress");
		return -1;
	}
	if (!target)
		target = primary ? (g_cl.peer.name[0] ? g_cl.peer.name : "") : g_cl.cfg.node;
	if (!*target) {
		snprintf(err, errlen, "the peer is not known yet");
		return -1;
	}
	if (strcmp(target, g_cl.cfg.node) == 0) {
		if (primary) {
			snprintf(err, errlen, "%s is already primary", target);
			return -1;
		}
		if (!g_cl.peer.member || !g_cl.peer.known || g_cl.peer.st.role != CL_ROLE_PRIMARY) {
			snprintf(err, errlen, "no primary in the membership to take over from (the manager promotes by itself)");
			return -1;
		}
		if (g_cl.standby) {
			snprintf(err, errlen, "%s is in standby (tandemctl unstandby first)", target);
			return -1;
		}
		g_cl.fo_started = cl_now_ms();
		snprintf(g_cl.fo_last, sizeof(g_cl.fo_last), "requested");
		cl_send_ctl(CL_MSG_FAILOVER_REQUEST, target, 1, "");
		return 0;
	}
	if (!g_cl.peer.name[0] || strcmp(target, g_cl.peer.name) != 0) {
		snprintf(err, errlen, "unknown node '%.64s' (nodes: %s, %s)", target, g_cl.cfg.node,
			 g_cl.peer.name[0] ? g_cl.peer.name : "?");
		return -1;
	}
	if (!primary) {
		if (g_cl.peer.known && g_cl.peer.st.role == CL_ROLE_PRIMARY)
			snprintf(err, errlen, "%s is already primary", target);
		else
			snprintf(err, errlen, "%s is not primary: nothing to fail over", g_cl.cfg.node);
		return -1;
	}
	return cl_start_failover(target, err, errlen);
}

int cluster_set_standby(bool on, char *err, size_t errlen)
{
	if (!g_cl.on) {
		snprintf(err, errlen, "cluster manager not configured");
		return -1;
	}
	if (on && !g_cl.standby && cl_my_role() == CL_ROLE_PRIMARY && g_cl.cfg.manager == TCONF_CLUSTER_BUILTIN) {
		if (g_cl.fo != FO_IDLE) {
			snprintf(err, errlen, "a failover is in progress");
			return -1;
		}
		if (cl_start_failover(g_cl.peer.name, err, errlen) < 0)
			return -1;
	}
	if (g_cl.standby != on)
		qb_log(LOG_NOTICE, "cluster: %s %s standby", g_cl.cfg.node, on ? "enters" : "leaves");
	g_cl.standby = on;
	if (g_cl.up)
		cl_announce();
	cl_evaluate();
	return 0;
}
