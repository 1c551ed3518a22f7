/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The built-in cluster manager's core (docs/CLUSTER.md): its one state
 * (struct cl_mgr g_cl, manager.h), timers, this node's replication view, the
 * decision loop (decide.c decides, this executes: promote, demote, fence, the
 * address converging with the role) and the public lifecycle (cluster_init,
 * cluster_shutdown). The rest of the manager: corosync.c, takeover.c,
 * fence.c, failover.c, status.c. Main thread only (except conns.c). */
#include "cluster/manager.h"
#include "repl/repl.h"
#include "scsi/scsi.h"
#include "util/log.h"
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <corosync/cpg.h>

/* after start, wait this long for the peer's tandemd before acting alone */
#define STARTUP_GRACE_MS() (uint64_t)(g_cl.cfg.announce_ms * 2 > 2000 ? g_cl.cfg.announce_ms * 2 : 2000)

struct cl_mgr g_cl = { .cpg_fd = -1, .vq_fd = -1, .conns_fd = -1, .rf = { .fd = -1 } };

uint64_t cl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void cl_timer_set(qb_loop_timer_handle *h, uint64_t ms, void (*fn)(void *))
{
	if (*h) {
		qb_loop_timer_del(g_cl.loop, *h);
		*h = 0;
	}
	if (qb_loop_timer_add(g_cl.loop, QB_LOOP_MED, ms * 1000000ull, NULL, fn, h) != 0)
		*h = 0;
}

void cl_timer_clear(qb_loop_timer_handle *h)
{
	if (*h) {
		qb_loop_timer_del(g_cl.loop, *h);
		*h = 0;
	}
}

/* ---- replication view --------------------------------------------------- */

/* Without a replication section the cluster treats the node's data as
 * UpToDate and keeps the role itself. */
bool cl_repl_on(void)
{
	return repl_enabled();
}

enum cl_role cl_my_role(void)
{
	if (cl_repl_on())
		return repl_get_role() == REPL_ROLE_PRIMARY ? CL_ROLE_PRIMARY : CL_ROLE_SECONDARY;
	return g_cl.local_role;
}

static enum cl_disk cl_disk_from_repl(enum repl_disk_state d)
{
	switch (d) {
	case REPL_DISK_DISKLESS: return CL_DISK_DISKLESS;
	case REPL_DISK_INCONSISTENT: return CL_DISK_INCONSISTENT;
	case REPL_DISK_OUTDATED: return CL_DISK_OUTDATED;
	case REPL_DISK_UPTODATE: return CL_DISK_UPTODATE;
	case REPL_DISK_DUNKNOWN: break;
	}
	return CL_DISK_DUNKNOWN;
}

struct repl_agg {
	enum cl_disk mine, theirs;
	bool sync, sb, first, current;
	uint64_t gen;
};

static void repl_agg_lun(const struct repl_lun_state *s, void *arg)
{
	struct repl_agg *a = arg;
	enum cl_disk d = cl_disk_from_repl(s->disk);
	enum cl_disk p = cl_disk_from_repl(s->peer_disk);

	if (d < a->mine)
		a->mine = d;
	if (p < a->theirs)
		a->theirs = p;
	if (p != CL_DISK_UPTODATE || s->conn != REPL_CONN_CONNECTED)
		a->sync = false;
	a->sb |= s->split_brain;
	a->current &= s->known_current;
	if (a->first) {
		a->gen = s->have_gen ? s->current_gen : 0;
		a->first = false;
	}
}

/* Aggregate the replicated LUNs: the worst disk state over all LUNs, in sync
 * when every LUN is connected with an UpToDate peer, split brain when any says
 * so, current when every LUN is known current, the generation of the first LUN. */
void cl_refresh_repl(void)
{
	struct repl_agg a = { .mine = CL_DISK_UPTODATE, .theirs = CL_DISK_UPTODATE, .sync = true, .first = true,
			      .current = true };

	if (!cl_repl_on()) {
		g_cl.disk = CL_DISK_UPTODATE;
		g_cl.peer_disk_repl = CL_DISK_DUNKNOWN;
		g_cl.in_sync = true;
		g_cl.split_brain = false;
		g_cl.data_current = true;
		return;
	}
	repl_lun_states(repl_agg_lun, &a);
	g_cl.disk = a.mine;
	g_cl.peer_disk_repl = a.theirs;
	g_cl.in_sync = a.sync;
	g_cl.split_brain = a.sb;
	g_cl.data_current = a.current;
	g_cl.gen = a.gen;
}

/* ---- promote / demote ----------------------------------------------------- */

static int set_role_ex(enum cl_role r, bool force, char *err, size_t errlen)
{
	if (cl_repl_on())
		return repl_set_role(r == CL_ROLE_PRIMARY ? REPL_ROLE_PRIMARY : REPL_ROLE_SECONDARY, force, err, errlen);
	g_cl.local_role = r;
	return 0;
}

int cl_set_role(enum cl_role r, char *err, size_t errlen)
{
	return set_role_ex(r, false, err, errlen);
}

/* peer_gone: the decision was taken with the peer absent from the membership
 * and proven dead (or gone cleanly, or never a candidate): replication cannot
 * confirm the peer's role over its link then, and refuses an unforced
 * promotion. The cluster forces it, but only for a disk that is UpToDate on
 * every LUN (checked here again, never Outdated or Inconsistent): with fencing,
 * an UpToDate Secondary has every acknowledged write (a Primary that lost it
 * froze its writes until this node was Outdated or dead). */
static int do_promote_ex(const char *why, bool peer_gone)
{
	char err[256] = "";
	uint64_t t0 = cl_now_ms();
	bool force = false;

	qb_log(LOG_NOTICE, "cluster: promoting: %s", why);
	if (peer_gone && cl_repl_on() && cl_my_role() != CL_ROLE_PRIMARY) {
		cl_refresh_repl();
		force = g_cl.disk == CL_DISK_UPTODATE && g_cl.data_current;
		if (!force)
			qb_log(LOG_WARNING, "cluster: not forcing the promotion: disk %s%s", cl_disk_name(g_cl.disk),
			       g_cl.data_current ? "" : ", not compared with the peer's since start or quorum loss");
	}
	if (cl_my_role() != CL_ROLE_PRIMARY && set_role_ex(CL_ROLE_PRIMARY, force, err, sizeof(err)) < 0) {
		qb_log(LOG_WARNING, "cluster: replication refused the promotion: %s", err);
		snprintf(g_cl.last_error, sizeof(g_cl.last_error), "promotion refused: %.200s", err);
		g_cl.promote_block_until = cl_now_ms() + (uint64_t)g_cl.cfg.announce_ms;
		return -1;
	}
	g_cl.peer.transition = false;
	cl_apply_alua();                   /* Active/Optimized before the address answers */
	if (cl_take_ip() < 0) {
		cl_set_role(CL_ROLE_SECONDARY, err, sizeof(err));
		cl_apply_alua();
		g_cl.promote_block_until = cl_now_ms() + (uint64_t)g_cl.cfg.announce_ms;
		return -1;
	}
	g_cl.last_error[0] = '\0';
	qb_log(LOG_NOTICE, "cluster: %s is primary (%" PRIu64 " ms%s)", g_cl.cfg.node, cl_now_ms() - t0,
	       force ? ", forced: the peer is gone and this disk is UpToDate and current" : "");
	cl_announce();
	return 0;
}

int cl_do_promote(const char *why)
{
	return do_promote_ex(why, false);
}

static void do_demote(const char *why)
{
	char err[256] = "";

	qb_log(LOG_WARNING, "cluster: demoting: %s", why);
	if (g_cl.have_alua && g_cl.cfg.manager != TCONF_CLUSTER_NONE)
		scsi_alua_set_state(g_cl.alua_id, SCSI_ALUA_STANDBY);
	cl_release_ip();
	if (cl_my_role() == CL_ROLE_PRIMARY && cl_set_role(CL_ROLE_SECONDARY, err, sizeof(err)) < 0)
		qb_log(LOG_ERR, "cluster: replication refused the demotion: %s", err);
	cl_apply_alua();
	cl_announce();
}

/* ---- the decision loop ------------------------------------------------------------ */

static void delay_done(void *data)
{
	g_cl.delay_timer = 0;
	cl_evaluate();
}

static void fdelay_done(void *data)
{
	g_cl.fdelay_timer = 0;
	cl_evaluate();
}

/* A non-Primary whose peer's node vanished waits fence_delay_ms before it
 * fences: in a partition both nodes fence each other, and the Primary (no
 * delay) must win, or both die. */
static bool fence_delayed(enum cl_role role)
{
	uint64_t until, now = cl_now_ms();

	if (role == CL_ROLE_PRIMARY || !g_cl.peer.node_down || !g_cl.peer.lost_ms || g_cl.cfg.fence_delay_ms <= 0)
		return false;
	until = g_cl.peer.lost_ms + (uint64_t)g_cl.cfg.fence_delay_ms;
	if (now >= until)
		return false;
	if (!g_cl.fdelay_timer)
		cl_timer_set(&g_cl.fdelay_timer, until - now + 1, fdelay_done);
	return true;
}

void cl_evaluate(void)
{
	struct cl_view v;
	struct cl_decision d;
	enum cl_role role;

	if (!g_cl.on || g_cl.leaving)
		return;
	role = cl_my_role();
	if (g_cl.cfg.manager == TCONF_CLUSTER_BUILTIN)
		repl_set_quorate(g_cl.up && g_cl.quorate);
	v = (struct cl_view){
		.manager = (enum cl_manager)g_cl.cfg.manager,
		.fencing = (enum cl_fencing)g_cl.cfg.fencing,
		.corosync_up = g_cl.up,
		.quorate = g_cl.quorate,
		.qdevice_proof = g_cl.quorate && g_cl.qdevice_vote && !g_cl.two_node && g_cl.quorum_members == 1,
		.my_role = role,
		.my_disk = g_cl.disk,
		.my_data_current = g_cl.data_current,
		.my_standby = g_cl.standby,
		.split_brain = g_cl.split_brain,
		.failover_busy = g_cl.fo != FO_IDLE || g_cl.peer.transition,
		.peer_member = g_cl.peer.member,
		.peer_known = g_cl.peer.known,
		.peer_role = g_cl.peer.st.role,
		.peer_disk = g_cl.peer.st.disk,
		.peer_standby = (g_cl.peer.st.flags & CL_SF_STANDBY) != 0,
		.peer_lost = g_cl.peer.lost,
		.fence = g_cl.fence,
		.lower_id = !g_cl.peer.nodeid || g_cl.nodeid < g_cl.peer.nodeid,
		.peer_node_up = !g_cl.peer.node_down && g_cl.quorum_members >= 2,
		/* after the start, and after a corosync reconnect: the quorum
		 * answers at once, the peer's CPG membership comes later (until
		 * then a healthy peer looks vanished while its node is up) */
		.startup = !g_cl.peer.seen_since_connect && cl_now_ms() < g_cl.connected_ms + STARTUP_GRACE_MS(),
		.fence_delay = fence_delayed(role),
	};
	d = cl_decide(&v);
	if (d.action != g_cl.last.action || d.reason != g_cl.last.reason)
		qb_log(d.action == CL_ACT_WAIT || d.action == CL_ACT_NONE ? LOG_INFO : LOG_NOTICE,
		       "cluster: decision: %s (%s)", cl_action_name(d.action), d.reason);
	g_cl.last = d;
	if (d.action != CL_ACT_PROMOTE)
		g_cl.promote_since = 0;
	switch (d.action) {
	case CL_ACT_PROMOTE:
		if (cl_now_ms() < g_cl.promote_block_until)
			break;
		if (!g_cl.promote_since)
			g_cl.promote_since = cl_now_ms();
		if (cl_now_ms() - g_cl.promote_since < (uint64_t)g_cl.cfg.promote_delay_ms) {
			if (!g_cl.delay_timer)
				cl_timer_set(&g_cl.delay_timer, (uint64_t)g_cl.cfg.promote_delay_ms - (cl_now_ms() - g_cl.promote_since),
					  delay_done);
			break;
		}
		g_cl.promote_since = 0;
		do_promote_ex(d.reason, !g_cl.peer.member);
		break;
	case CL_ACT_DEMOTE:
		do_demote(d.reason);
		break;
	case CL_ACT_FENCE:
		cl_start_fence();
		break;
	default:
		break;
	}
	cl_rf_eval();
	/* converge the address with the role (e.g. `tandemctl primary/secondary` by hand) */
	if (g_cl.cfg.manager == TCONF_CLUSTER_BUILTIN && g_cl.fo == FO_IDLE) {
		role = cl_my_role();
		/* not after a demotion that failed (writes stuck in the local
		 * disk): the manager wants this node out, the other may hold it */
		if (role == CL_ROLE_PRIMARY && !g_cl.holds_ip && d.action != CL_ACT_DEMOTE)
			cl_take_ip();
		else if (role != CL_ROLE_PRIMARY && g_cl.holds_ip)
			cl_release_ip();
	} else if (g_cl.cfg.manager == TCONF_CLUSTER_PACEMAKER && g_cl.fip) {
		/* pacemaker (IPaddr2 or the agent) moves the address: notice it,
		 * announce our client connections while we hold it, and tickle
		 * the old owner's clients once after a takeover (PORTALS.md) */
		bool have = cl_have_addr(g_cl.fip);

		if (have && !g_cl.holds_ip) {
			g_cl.holds_ip = true;
			if (cl_my_role() == CL_ROLE_PRIMARY)
				cl_start_tickles();
			if (g_cl.up)
				cl_send_conns();
		} else if (!have && g_cl.holds_ip) {
			g_cl.holds_ip = false;
			g_cl.tickle_left = 0;
		}
	}
	cl_apply_alua();
}

static void tick(void *data)
{
	g_cl.tick_timer = 0;
	cl_refresh_repl();
	if (g_cl.up)
		cl_announce();
	cl_evaluate();
	cl_timer_set(&g_cl.tick_timer, (uint64_t)g_cl.cfg.announce_ms, tick);
}

static int32_t conns_fd_cb(int32_t fd, int32_t revents, void *data)
{
	if (cl_conns_consume() && g_cl.holds_ip && g_cl.up)
		cl_send_conns();
	return 0;
}

static void eval_cb(void *data)
{
	g_cl.eval_timer = 0;
	cl_evaluate();
}

/* Called from inside repl_set_role: a demotion notifies before it drains its
 * writes. Deciding here would nest a role change in the running one (a
 * node shutting down as primary demoted, decided "both UpToDate: the lower
 * id promotes", promoted itself again and left holding the floating IP), so
 * the decision runs from the loop, once the role change returned. */
static void role_changed(enum repl_role role, void *arg)
{
	qb_log(LOG_INFO, "cluster: replication role is now %s", role == REPL_ROLE_PRIMARY ? "primary" : "secondary");
	if (!g_cl.on || g_cl.leaving)
		return;
	if (g_cl.up)
		cl_announce();
	cl_apply_alua();
	cl_timer_set(&g_cl.eval_timer, 0, eval_cb);
}

/* ---- public ---------------------------------------------------------------------- */

bool cluster_enabled(void)
{
	return g_cl.on;
}

/* A floating IP configured on this node while no tandemd here holds it: one
 * that died without its shutdown (SIGKILL, a crash, the OOM killer) left it,
 * and this kernel answers ARP for it while the survivor takes it over.
 * Removes it; 1 removed (msg says so), 0 not configured here (msg empty), -1
 * msg the error. */
static int stale_ip_remove(const struct tconf_cluster *cfg, uint32_t fip, char *msg, size_t len)
{
	msg[0] = '\0';
	if (!cl_have_addr(fip))
		return 0;
	if (cl_nl_addr(false, cfg->interface, fip, cfg->floating_prefix, msg, len) < 0)
		return -1;
	/* the kernel answers "not there" as success (cl_nl_addr) */
	if (cl_have_addr(fip)) {
		snprintf(msg, len, "floating IP %s is still configured here (on another interface than %s, or with "
			 "another prefix): remove it by hand", cfg->floating_ip, cfg->interface);
		return -1;
	}
	snprintf(msg, len, "removed floating IP %s from %s", cfg->floating_ip, cfg->interface);
	return 1;
}

int cluster_release_stale_ip(const struct tconf *conf, char *msg, size_t len)
{
	uint32_t fip = 0;

	msg[0] = '\0';
	if (!conf->cluster.enabled || conf->cluster.manager != TCONF_CLUSTER_BUILTIN || !conf->cluster.floating_addr[0]) {
		snprintf(msg, len, "no floating IP managed by tandemd in this configuration");
		return 0;
	}
	if (inet_pton(AF_INET, conf->cluster.floating_addr, &fip) != 1) {
		snprintf(msg, len, "bad floating_ip '%s'", conf->cluster.floating_ip);
		return -1;
	}
	int rc = stale_ip_remove(&conf->cluster, fip, msg, len);
	if (rc == 0)
		snprintf(msg, len, "floating IP %s is not configured here", conf->cluster.floating_ip);
	return rc;
}

int cluster_init(const struct tconf *conf, qb_loop_t *loop, char *err, size_t errlen)
{
	char cerr[256];

	if (!conf->cluster.enabled)
		return 0;
	g_cl.cfg = conf->cluster;
	g_cl.conf = conf;
	g_cl.loop = loop;
	g_cl.local_role = CL_ROLE_SECONDARY;
	g_cl.peer.lost = true;             /* never seen: must be proven dead before we promote alone */
	snprintf(g_cl.peer.name, sizeof(g_cl.peer.name), "%s", g_cl.cfg.peer);
	snprintf(g_cl.fo_last, sizeof(g_cl.fo_last), "none");
	if (g_cl.cfg.floating_addr[0] && inet_pton(AF_INET, g_cl.cfg.floating_addr, &g_cl.fip) != 1) {
		snprintf(err, errlen, "cluster: bad floating_ip '%s'", g_cl.cfg.floating_ip);
		return -1;
	}
	if (scsi_alua_find_group(g_cl.cfg.alua_group[0] ? g_cl.cfg.alua_group : "1", &g_cl.alua_id) == 0)
		g_cl.have_alua = true;
	else if (g_cl.cfg.alua_group[0]) {
		snprintf(err, errlen, "cluster: unknown ALUA group '%s'", g_cl.cfg.alua_group);
		return -1;
	}
	/* the floating portal's port, for tickles */
	g_cl.fport = htons(3260);
	for (size_t i = 0; i < conf->nportal_groups; i++)
		for (size_t j = 0; j < conf->portal_groups[i].nlisten; j++)
			if (strcmp(conf->portal_groups[i].listen[j].addr, g_cl.cfg.floating_addr) == 0)
				g_cl.fport = htons(conf->portal_groups[i].listen[j].port);
	if (g_cl.fip && g_cl.cfg.manager == TCONF_CLUSTER_PACEMAKER) {
		/* connections on the floating portal are tracked for tickles */
		g_cl.conns_fd = cl_conns_init(g_cl.fip);
		if (g_cl.conns_fd >= 0)
			qb_loop_poll_add(loop, QB_LOOP_MED, g_cl.conns_fd, POLLIN, NULL, conns_fd_cb);
	}
	if (g_cl.fip && g_cl.cfg.manager == TCONF_CLUSTER_BUILTIN) {
		if (stale_ip_remove(&g_cl.cfg, g_cl.fip, cerr, sizeof(cerr)) < 0) {
			qb_log(LOG_ERR, "cluster: %s", cerr);
			g_cl.holds_ip = cl_have_addr(g_cl.fip);       /* announced, and released again later */
		}
		else if (cerr[0])
			qb_log(LOG_WARNING, "cluster: %s at start (we start secondary)", cerr);
		g_cl.conns_fd = cl_conns_init(g_cl.fip);
		if (g_cl.conns_fd >= 0)
			qb_loop_poll_add(loop, QB_LOOP_MED, g_cl.conns_fd, POLLIN, NULL, conns_fd_cb);
	}
	repl_on_role_change(role_changed, NULL);
	g_cl.rf.id = (uint32_t)time(NULL) << 8;    /* ids of an earlier incarnation do not match */
	if ((g_cl.cfg.manager == TCONF_CLUSTER_BUILTIN || (cl_under_pacemaker() && g_cl.cfg.outdate_peer_command[0])) &&
	    cl_repl_on()) {
		g_cl.rf.fd = repl_set_fence_handler(cl_rf_request, NULL);
		if (g_cl.rf.fd >= 0)
			qb_loop_poll_add(loop, QB_LOOP_HIGH, g_cl.rf.fd, POLLIN, NULL, cl_rf_fd_cb);
	} else if (cl_under_pacemaker() && cl_repl_on()) {
		qb_log(LOG_WARNING, "cluster: manager pacemaker without outdate_peer_command: a primary that loses its "
		       "peer writes on alone at once, and the agent marks the peer outdated only at its next monitor "
		       "(docs/PACEMAKER.md)");
	}
	g_cl.on = true;
	g_cl.started = cl_now_ms();
	cl_refresh_repl();
	cl_apply_alua();
	qb_log(LOG_NOTICE, "cluster: manager %s, node %s, floating IP %s on %s, fencing %s, replication %s",
	       g_cl.cfg.manager == TCONF_CLUSTER_BUILTIN ? "builtin" : g_cl.cfg.manager == TCONF_CLUSTER_PACEMAKER ? "pacemaker" : "none",
	       g_cl.cfg.node, g_cl.cfg.floating_ip[0] ? g_cl.cfg.floating_ip : "-", g_cl.cfg.interface[0] ? g_cl.cfg.interface : "-",
	       g_cl.cfg.fencing == TCONF_FENCING_QDEVICE ? "qdevice" : g_cl.cfg.fencing == TCONF_FENCING_COMMAND ? "command" : "none",
	       cl_repl_on() ? "on" : "off (data counts as UpToDate)");
	if (g_cl.cfg.fencing == TCONF_FENCING_NONE && g_cl.cfg.manager == TCONF_CLUSTER_BUILTIN)
		qb_log(LOG_WARNING, "cluster: fencing none: a network split makes two primaries (test setting)");
	if (cl_corosync_connect(cerr, sizeof(cerr)) < 0) {
		qb_log(LOG_WARNING, "cluster: corosync not reachable (%s): retrying every %d ms", cerr, g_cl.cfg.reconnect_ms);
		cl_timer_set(&g_cl.retry_timer, (uint64_t)g_cl.cfg.reconnect_ms, cl_corosync_retry);
	} else {
		cl_announce();
	}
	cl_timer_set(&g_cl.tick_timer, (uint64_t)g_cl.cfg.announce_ms, tick);
	cl_evaluate();
	return 0;
}

void cluster_reload(const struct tconf *conf)
{
	if (!g_cl.on && !conf->cluster.enabled)
		return;
	if (!g_cl.on || memcmp(&g_cl.cfg, &conf->cluster, sizeof(g_cl.cfg)) != 0)
		qb_log(LOG_WARNING, "cluster: the cluster section changed: it takes effect at the next restart of tandemd");
	if (g_cl.on)
		g_cl.conf = conf;
}

/* A clean exit of a Secondary while the peer is Primary (DRBD marks a
 * Secondary that disconnects gracefully from its Primary the same way): this
 * node's disks become Outdated, durably, before its leaving STATE says so, so
 * the Primary writes on without fencing it and the node, back, resyncs and is
 * never promoted from its older data in between (pacemaker's promotion
 * scores follow the disk state). Only towards a Primary: two nodes stopped
 * together (both Secondary once the Primary demoted) must not both end
 * Outdated. A Primary leaving demotes first; its peer takes over without
 * fencing it (peer_left_clean). Before, every clean stop of tandemd whose
 * corosync stayed up froze the peer's writes (fencing: qdevice) or powered
 * this node off (fence command) (review, session 15). */
static void leave_outdated(void)
{
	char err[256] = "";
	bool peer_primary = g_cl.peer.member && g_cl.peer.known && g_cl.peer.st.role == CL_ROLE_PRIMARY &&
			    !(g_cl.peer.st.flags & CL_SF_LEAVING);

	if (!cl_repl_on() || cl_my_role() == CL_ROLE_PRIMARY || !peer_primary)
		return;
	cl_refresh_repl();
	if (g_cl.disk != CL_DISK_UPTODATE)
		return;         /* not current anyway, and its STATE says so */
	if (repl_outdate_self(err, sizeof(err)) == 0)
		qb_log(LOG_NOTICE, "cluster: leaving while %s is primary: this node's disks are Outdated", g_cl.peer.name);
	else
		qb_log(LOG_ERR, "cluster: leaving while %s is primary: cannot mark this node's disks Outdated (%s); "
		       "the primary has to fence this node before it writes on", g_cl.peer.name, err);
	cl_refresh_repl();
}

void cluster_shutdown(void)
{
	char err[256];
	if (!g_cl.on)
		return;
	g_cl.leaving = true;
	if (cl_my_role() == CL_ROLE_PRIMARY && g_cl.cfg.manager == TCONF_CLUSTER_BUILTIN) {
		qb_log(LOG_NOTICE, "cluster: shutting down as primary: releasing the floating IP");
		if (g_cl.have_alua)
			scsi_alua_set_state(g_cl.alua_id, SCSI_ALUA_STANDBY);
		cl_release_ip();
		if (cl_set_role(CL_ROLE_SECONDARY, err, sizeof(err)) < 0)
			qb_log(LOG_ERR, "cluster: replication refused the demotion: %s", err);
	}
	if (g_cl.up) {
		leave_outdated();
		struct cl_msg m = { .type = CL_MSG_STATE, .role = cl_my_role(), .disk = g_cl.disk, .peer_disk = g_cl.peer_disk_repl,
				    .flags = CL_SF_LEAVING | (g_cl.standby ? CL_SF_STANDBY : 0) };
		cl_send_msg(&m);
	}
	g_cl.on = false;
	if (g_cl.fence_pid > 0) {
		cl_fence_kill();
		waitpid(g_cl.fence_pid, NULL, 0);
		g_cl.fence_pid = 0;
	}
	cl_timer_clear(&g_cl.retry_timer);
	cl_timer_clear(&g_cl.tick_timer);
	cl_timer_clear(&g_cl.fence_timer);
	cl_timer_clear(&g_cl.arp_timer);
	cl_timer_clear(&g_cl.tickle_timer);
	cl_timer_clear(&g_cl.fo_timer);
	cl_timer_clear(&g_cl.delay_timer);
	cl_timer_clear(&g_cl.fdelay_timer);
	cl_timer_clear(&g_cl.rf_timer);
	cl_timer_clear(&g_cl.eval_timer);
	if (g_cl.rf.fd >= 0) {
		qb_loop_poll_del(g_cl.loop, g_cl.rf.fd);
		repl_set_fence_handler(NULL, NULL);
		g_cl.rf.fd = -1;
	}
	if (g_cl.conns_fd >= 0) {
		qb_loop_poll_del(g_cl.loop, g_cl.conns_fd);
		cl_conns_fini();
		g_cl.conns_fd = -1;
	}
	if (g_cl.cpg) {
		struct cpg_name name = { .length = (uint32_t)strlen(g_cl.cfg.cpg_group) };
		memcpy(name.value, g_cl.cfg.cpg_group, name.length);
		cpg_leave(g_cl.cpg, &name);
	}
	g_cl.up = false;   /* so cl_corosync_down does not log a loss */
	cl_corosync_down("shutdown");
	cl_timer_clear(&g_cl.retry_timer);
	free(g_cl.peer.conns);
	free(g_cl.tickles);
	g_cl.peer.conns = NULL;
	g_cl.tickles = NULL;
}
