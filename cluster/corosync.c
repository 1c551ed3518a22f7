/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The manager's corosync side: CPG messages out (STATE, CONNS and the
 * control messages; msg.c encodes them) and in (the peer's state, its client
 * connections, membership changes), votequorum, and the connection itself,
 * its fds on the main qb_loop and the reconnect timer. Main thread only. */
#include "cluster/manager.h"
#include "util/log.h"
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <corosync/cpg.h>
#include <corosync/votequorum.h>

/* ---- messages -------------------------------------------------------------- */

int cl_send_msg(struct cl_msg *m)
{
	static uint8_t buf[CL_MSG_MAX];
	struct iovec iov;
	int n, tries = 0;
	cs_error_t rc;

	if (!g_cl.up)
		return -1;
	snprintf(m->name, sizeof(m->name), "%s", g_cl.cfg.node);
	m->seq = ++g_cl.seq;
	n = cl_msg_encode(m, buf, sizeof(buf));
	if (n < 0) {
		qb_log(LOG_ERR, "cluster: cannot encode %s", cl_msg_type_name(m->type));
		return -1;
	}
	iov.iov_base = buf;
	iov.iov_len = (size_t)n;
	do {
		rc = cpg_mcast_joined(g_cl.cpg, CPG_TYPE_AGREED, &iov, 1);
	} while (rc == CS_ERR_TRY_AGAIN && ++tries < 10);
	if (rc != CS_OK) {
		qb_log(rc == CS_ERR_TRY_AGAIN ? LOG_INFO : LOG_WARNING, "cluster: cannot send %s: corosync error %d%s",
		       cl_msg_type_name(m->type), rc, rc == CS_ERR_TRY_AGAIN ? " (busy; the next announcement repeats it)" : "");
		return -1;
	}
	return 0;
}

void cl_announce(void)
{
	struct cl_msg m = { .type = CL_MSG_STATE };
	cl_refresh_repl();
	m.role = cl_my_role();
	m.disk = g_cl.disk;
	m.peer_disk = g_cl.peer_disk_repl;
	m.gen = g_cl.gen;
	m.flags = (uint8_t)((g_cl.standby ? CL_SF_STANDBY : 0) | (g_cl.split_brain ? CL_SF_SPLIT_BRAIN : 0) |
			    (g_cl.in_sync ? CL_SF_IN_SYNC : 0) | (g_cl.holds_ip ? CL_SF_HOLDS_IP : 0) |
			    (g_cl.fo != FO_IDLE ? CL_SF_FAILOVER : 0));
	for (size_t i = 0; g_cl.conf && i < g_cl.conf->nportal_groups && m.nportals < CL_MAX_PORTALS; i++) {
		const struct tconf_portal_group *pg = &g_cl.conf->portal_groups[i];
		for (size_t j = 0; j < pg->nlisten && m.nportals < CL_MAX_PORTALS; j++) {
			struct cl_portal *p = &m.portals[m.nportals++];
			snprintf(p->addr, sizeof(p->addr), "%.45s", pg->listen[j].addr);
			p->port = pg->listen[j].port;
			p->rel_port_id = pg->rel_port_id ? pg->rel_port_id : pg->tag;
		}
	}
	cl_send_msg(&m);
}

void cl_send_conns(void)
{
	struct cl_msg m = { .type = CL_MSG_CONNS };
	struct cl_conn *v = calloc(CL_MAX_CONNS, sizeof(*v));
	if (!v)
		return;
	size_t n = cl_conns_snapshot(v, CL_MAX_CONNS);
	m.nconns = (uint32_t)(n > CL_MAX_CONNS ? CL_MAX_CONNS : n);
	m.conns = v;
	cl_send_msg(&m);
	free(v);
}

void cl_send_ctl_epoch(enum cl_msg_type t, const char *target, uint8_t on, const char *text, uint32_t epoch)
{
	struct cl_msg m = { .type = t, .on = on, .epoch = epoch };
	/* both are cut to their field on purpose: the precision says so to gcc */
	snprintf(m.target, sizeof(m.target), "%.*s", (int)sizeof(m.target) - 1, target ? target : "");
	snprintf(m.text, sizeof(m.text), "%.*s", (int)sizeof(m.text) - 1, text ? text : "");
	cl_send_msg(&m);
}

void cl_send_ctl(enum cl_msg_type t, const char *target, uint8_t on, const char *text)
{
	cl_send_ctl_epoch(t, target, on, text, g_cl.epoch);
}

/* ---- incoming ------------------------------------------------------------------- */

static void on_state(const struct cl_msg *m)
{
	bool was_primary = g_cl.peer.known && g_cl.peer.st.role == CL_ROLE_PRIMARY;
	struct cl_conn *keep = g_cl.peer.conns;
	uint32_t nkeep = g_cl.peer.nconns;

	g_cl.peer.st = *m;
	g_cl.peer.st.conns = NULL;
	g_cl.peer.conns = keep;
	g_cl.peer.nconns = nkeep;
	g_cl.peer.known = true;
	snprintf(g_cl.peer.name, sizeof(g_cl.peer.name), "%s", m->name);
	/* its planned failover is over once its STATE stops saying so: a lost
	 * TRANSITION(0) (a send refused during a membership change) left this
	 * node Transitioning, unable to promote and refusing failovers for good */
	if (!(m->flags & CL_SF_FAILOVER))
		g_cl.peer.transition = false;
	if (m->role == CL_ROLE_PRIMARY) {
		g_cl.peer.transition = false;
		if (!was_primary)
			qb_log(LOG_NOTICE, "cluster: %s is primary", m->name);
		if (g_cl.fo == FO_HANDED && strcmp(g_cl.fo_target, m->name) == 0)
			cl_fo_finish("ok");
	}
}

static void on_conns(struct cl_msg *m)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < m->nconns; i++)
		if (cl_conn_tickle_ok(&m->conns[i], g_cl.fip, 0))    /* any port: portals may listen on a wildcard */
			m->conns[n++] = m->conns[i];
	if (n < m->nconns)
		qb_log(LOG_WARNING, "cluster: %s announced %u client connection(s) not on the floating address %s: ignored",
		       m->name, m->nconns - n, g_cl.cfg.floating_addr);
	free(g_cl.peer.conns);
	g_cl.peer.conns = m->conns;
	g_cl.peer.nconns = n;
	m->conns = NULL;
	qb_log(LOG_DEBUG, "cluster: %s announced %u client connection(s)", m->name, g_cl.peer.nconns);
}

static void deliver_cb(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid, void *msg,
		       size_t len)
{
	struct cl_msg m;
	char why[128];

	if (nodeid == g_cl.nodeid && pid == (uint32_t)getpid())
		return;
	if (cl_msg_decode(msg, len, &m, why, sizeof(why)) < 0) {
		qb_log(LOG_WARNING, "cluster: dropping a message from node %u: %s", nodeid, why);
		return;
	}
	if (strcmp(m.name, g_cl.cfg.node) == 0) {
		qb_log(LOG_ERR, "cluster: node %u announces my own name '%s': check cluster { node: }", nodeid, m.name);
		cl_msg_clear(&m);
		return;
	}
	g_cl.peer.nodeid = nodeid;
	g_cl.peer.pid = pid;
	switch (m.type) {
	case CL_MSG_STATE:
		on_state(&m);
		break;
	case CL_MSG_CONNS:
		on_conns(&m);
		break;
	case CL_MSG_TRANSITION:
		g_cl.peer.transition = m.on != 0;
		cl_apply_alua();
		break;
	case CL_MSG_HANDOVER:
		cl_on_handover(&m);
		break;
	case CL_MSG_FAILOVER_REQUEST:
		if (cl_my_role() == CL_ROLE_PRIMARY && g_cl.fo == FO_IDLE) {
			char err[256];
			if (cl_start_failover(m.target, err, sizeof(err)) < 0) {
				qb_log(LOG_WARNING, "cluster: failover requested by %s refused: %s", m.name, err);
				cl_send_ctl(CL_MSG_HANDOVER_FAILED, m.name, 0, err);
			}
		}
		break;
	case CL_MSG_OUTDATE_REQUEST:
		if (strcmp(m.target, g_cl.cfg.node) == 0)
			cl_on_outdate_request(&m);
		break;
	case CL_MSG_OUTDATE_ANSWER:
		cl_on_outdate_answer(&m);
		break;
	case CL_MSG_HANDOVER_FAILED:
		if (strcmp(m.target, g_cl.cfg.node) == 0) {
			qb_log(LOG_ERR, "cluster: %s: failover failed: %s", m.name, m.text);
			snprintf(g_cl.fo_last, sizeof(g_cl.fo_last), "failed: %s", m.text);
			g_cl.fo_seq++;
			if (g_cl.fo == FO_HANDED && m.epoch == g_cl.epoch) {
				cl_send_ctl(CL_MSG_TRANSITION, g_cl.fo_target, 0, "aborted");
				cl_fo_finish(g_cl.fo_last);
				cl_do_promote("failover failed on the target");
			}
		}
		break;
	}
	cl_msg_clear(&m);
	cl_evaluate();
}

static void peer_left(const char *why)
{
	/* A node that announced its clean exit (LEAVING) after demoting is no
	 * candidate; one still Primary (its demotion failed: writes stuck in its
	 * disk) is one whatever it announced, and must be proven dead first */
	bool cand = !g_cl.peer.known || g_cl.peer.st.role == CL_ROLE_PRIMARY ||
		    (g_cl.peer.st.disk == CL_DISK_UPTODATE && !(g_cl.peer.st.flags & CL_SF_STANDBY) &&
		     !(g_cl.peer.st.flags & CL_SF_LEAVING));
	qb_log(LOG_WARNING, "cluster: %s left (%s)%s", g_cl.peer.name[0] ? g_cl.peer.name : "peer", why,
	       cand ? ": it could be primary; it must be proven dead before a takeover" : "");
	g_cl.peer.left_behind = g_cl.peer.known && cl_leaving_behind(&g_cl.peer.st);
	g_cl.peer.left_clean = g_cl.peer.known && cl_leaving_clean(&g_cl.peer.st);
	g_cl.peer.member = g_cl.peer.known = g_cl.peer.transition = false;
	g_cl.peer.lost = cand;
	g_cl.peer.lost_ms = g_cl.peer.node_down ? cl_now_ms() : 0;
	/* a fence already running (or done) for this peer stays valid */
	if (g_cl.fence == CL_FENCE_FAILED)
		g_cl.fence = CL_FENCE_IDLE;
	g_cl.rf.asked_ms = 0;              /* it cannot answer any more */
	g_cl.rf.refused = false;
	cl_outdate_forget();             /* its next incarnation numbers from 1 */
	if (g_cl.fo == FO_HANDED || g_cl.fo == FO_DRAINING) {
		cl_send_ctl(CL_MSG_TRANSITION, g_cl.fo_target, 0, "aborted");
		cl_fo_finish("failed: the target left");
	}
}

static void confchg_cb(cpg_handle_t h, const struct cpg_name *group, const struct cpg_address *members, size_t nm,
		       const struct cpg_address *left, size_t nl, const struct cpg_address *joined, size_t nj)
{
	bool peer_now = false;
	for (size_t i = 0; i < nm; i++)
		if (members[i].nodeid != g_cl.nodeid) {
			peer_now = true;
			g_cl.peer.nodeid = members[i].nodeid;
			g_cl.peer.pid = members[i].pid;
		}
	if (g_cl.peer.member && !peer_now) {
		g_cl.peer.node_down = true;
		for (size_t i = 0; i < nl; i++)
			if (left[i].nodeid != g_cl.nodeid &&
			    (left[i].reason == CPG_REASON_LEAVE || left[i].reason == CPG_REASON_PROCDOWN))
				g_cl.peer.node_down = false;
	}
	if (g_cl.peer.member && !peer_now)
		peer_left(left && nl ? (left[0].reason == CPG_REASON_LEAVE ? "left the group" :
					left[0].reason == CPG_REASON_PROCDOWN ? "process down" : "node down") : "gone");
	if (!g_cl.peer.member && peer_now) {
		qb_log(LOG_NOTICE, "cluster: peer (node %u) joined", g_cl.peer.nodeid);
		g_cl.peer.member = true;
		g_cl.peer.node_down = false;
		g_cl.peer.ever_seen = true;
		g_cl.peer.seen_since_connect = true;
		g_cl.peer.known = false;
		g_cl.peer.lost = false;
		g_cl.peer.left_behind = g_cl.peer.left_clean = false;     /* asked again if it matters */
		g_cl.peer.lost_ms = 0;
		if (g_cl.fence != CL_FENCE_RUNNING)
			g_cl.fence = CL_FENCE_IDLE;
		g_cl.rf.asked_ms = 0;      /* a new incarnation: ask it again */
		g_cl.rf.refused = false;
	}
	if (nj) {
		cl_announce();
		if (g_cl.holds_ip)
			cl_send_conns();
	}
	cl_evaluate();
}

/* ---- votequorum ---------------------------------------------------------------- */

static void quorum_refresh(void)
{
	struct votequorum_info info;
	if (votequorum_getinfo(g_cl.vq, g_cl.nodeid, &info) == CS_OK) {
		g_cl.two_node = (info.flags & VOTEQUORUM_INFO_TWONODE) != 0;
		g_cl.qdevice_vote = (info.flags & VOTEQUORUM_INFO_QDEVICE_CAST_VOTE) != 0;
	}
}

static void quorum_cb(votequorum_handle_t h, uint64_t ctx, uint32_t quorate, uint32_t n, votequorum_node_t nodes[])
{
	uint32_t members = 0;
	for (uint32_t i = 0; i < n; i++)
		members += nodes[i].state == VOTEQUORUM_NODESTATE_MEMBER;
	if ((bool)quorate != g_cl.quorate)
		qb_log(quorate ? LOG_NOTICE : LOG_WARNING, "cluster: %s (%u node(s) in the membership)",
		       quorate ? "quorate" : "quorum lost", members);
	g_cl.quorate = quorate != 0;
	g_cl.quorum_members = members;
	quorum_refresh();
	cl_evaluate();
}

/* ---- corosync connection ---------------------------------------------------------- */

static int32_t cpg_fd_cb(int32_t fd, int32_t revents, void *data)
{
	cs_error_t rc = cpg_dispatch(g_cl.cpg, CS_DISPATCH_ALL);
	if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN)
		cl_corosync_down("CPG dispatch failed");
	return 0;
}

static int32_t vq_fd_cb(int32_t fd, int32_t revents, void *data)
{
	cs_error_t rc = votequorum_dispatch(g_cl.vq, CS_DISPATCH_ALL);
	if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN)
		cl_corosync_down("votequorum dispatch failed");
	return 0;
}

/* Let go of the CPG and votequorum handles (either may be unset). */
static void corosync_release(void)
{
	if (g_cl.cpg)
		cpg_finalize(g_cl.cpg);
	if (g_cl.vq)
		votequorum_finalize(g_cl.vq);
	g_cl.cpg = 0;
	g_cl.vq = 0;
	g_cl.cpg_fd = g_cl.vq_fd = -1;
}

void cl_corosync_down(const char *why)
{
	if (g_cl.cpg_fd >= 0)
		qb_loop_poll_del(g_cl.loop, g_cl.cpg_fd);
	if (g_cl.vq_fd >= 0)
		qb_loop_poll_del(g_cl.loop, g_cl.vq_fd);
	corosync_release();
	if (g_cl.up)
		qb_log(LOG_ERR, "cluster: lost corosync (%s): retrying every %d ms", why, g_cl.cfg.reconnect_ms);
	g_cl.up = false;
	g_cl.quorate = false;
	if (g_cl.peer.member)
		peer_left("corosync connection lost");
	cl_evaluate();
	cl_timer_set(&g_cl.retry_timer, (uint64_t)g_cl.cfg.reconnect_ms, cl_corosync_retry);
}

int cl_corosync_connect(char *err, size_t errlen)
{
	static cpg_model_v1_data_t model = {
		.model = CPG_MODEL_V1,
		.cpg_deliver_fn = deliver_cb,
		.cpg_confchg_fn = confchg_cb,
	};
	static votequorum_callbacks_t vcb = { .votequorum_quorum_notify_fn = quorum_cb };
	struct cpg_name name;
	cs_error_t rc;
	int tries = 0;

	rc = cpg_model_initialize(&g_cl.cpg, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL);
	if (rc != CS_OK) {
		snprintf(err, errlen, "cpg_model_initialize: corosync error %d", rc);
		g_cl.cpg = 0;
		return -1;
	}
	rc = votequorum_initialize(&g_cl.vq, &vcb);
	if (rc != CS_OK) {
		snprintf(err, errlen, "votequorum_initialize: corosync error %d", rc);
		g_cl.vq = 0;
		goto fail;
	}
	if (cpg_local_get(g_cl.cpg, &g_cl.nodeid) != CS_OK) {
		snprintf(err, errlen, "cpg_local_get failed");
		goto fail;
	}
	memset(&name, 0, sizeof(name));
	name.length = (uint32_t)strlen(g_cl.cfg.cpg_group);
	memcpy(name.value, g_cl.cfg.cpg_group, name.length);
	do {
		rc = cpg_join(g_cl.cpg, &name);
	} while (rc == CS_ERR_TRY_AGAIN && ++tries < 20);
	if (rc != CS_OK) {
		snprintf(err, errlen, "cpg_join %s: corosync error %d", g_cl.cfg.cpg_group, rc);
		goto fail;
	}
	if (cpg_fd_get(g_cl.cpg, &g_cl.cpg_fd) != CS_OK || votequorum_fd_get(g_cl.vq, &g_cl.vq_fd) != CS_OK) {
		snprintf(err, errlen, "cannot get the corosync file descriptors");
		goto fail;
	}
	if (votequorum_trackstart(g_cl.vq, 0, CS_TRACK_CURRENT | CS_TRACK_CHANGES) != CS_OK) {
		snprintf(err, errlen, "votequorum_trackstart failed");
		goto fail;
	}
	qb_loop_poll_add(g_cl.loop, QB_LOOP_HIGH, g_cl.cpg_fd, POLLIN, NULL, cpg_fd_cb);
	qb_loop_poll_add(g_cl.loop, QB_LOOP_HIGH, g_cl.vq_fd, POLLIN, NULL, vq_fd_cb);
	g_cl.up = true;
	g_cl.connected_ms = cl_now_ms();
	g_cl.peer.seen_since_connect = false;
	quorum_refresh();
	qb_log(LOG_NOTICE, "cluster: joined CPG group %s as node %u (%s)", g_cl.cfg.cpg_group, g_cl.nodeid, g_cl.cfg.node);
	return 0;
fail:
	corosync_release();
	return -1;
}

void cl_corosync_retry(void *data)
{
	char err[256];
	static char last[256];
	g_cl.retry_timer = 0;
	if (g_cl.up)
		return;
	if (cl_corosync_connect(err, sizeof(err)) < 0) {
		if (strcmp(err, last) != 0)
			qb_log(LOG_WARNING, "cluster: corosync not reachable (%s): retrying every %d ms", err,
			       g_cl.cfg.reconnect_ms);
		snprintf(last, sizeof(last), "%s", err);
		cl_timer_set(&g_cl.retry_timer, (uint64_t)g_cl.cfg.reconnect_ms, cl_corosync_retry);
		return;
	}
	last[0] = '\0';
	cl_announce();
	cl_evaluate();
}
