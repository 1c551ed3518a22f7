/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The built-in cluster manager's core (docs/CLUSTER.md): its one state
 * (struct cl_mgr cl, manager.h), timers, this node's replication view, the
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
#define STARTUP_GRACE_MS() (uint64_t)(cl.cfg.announce_ms * 2 > 2000 ? cl.cfg.announce_ms * 2 : 2000)

struct cl_mgr cl = { .cpg_fd = -1, .vq_fd = -1, .conns_fd = -1, .rf = { .fd = -1 } };

uint64_t cl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void cl_timer_set(qb_loop_timer_handle *h, uint64_t ms, void (*fn)(void *))
{
	if (*h) {
		qb_loop_timer_del(cl.loop, *h);
		*h = 0;
	}
	if (qb_loop_timer_add(cl.loop, QB_LOOP_MED, ms * 1000000ull, NULL, fn, h) != 0)
		*h = 0;
}

void cl_timer_clear(qb_loop_timer_handle *h)
{
	if (*h) {
		qb_loop_timer_del(cl.loop, *h);
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
	return cl.local_role;
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
		cl.disk = CL_DISK_UPTODATE;
		cl.peer_disk_repl = CL_DISK_DUNKNOWN;
		cl.in_sync = true;
		cl.split_brain = false;
		cl.data_current = true;
		return;
	}
	repl_lun_states(repl_agg_lun, &a);
	cl.disk = a.mine;
	cl.peer_disk_repl = a.theirs;
	cl.in_sync = a.sync;
	cl.split_brain = a.sb;
	cl.data_current = a.current;
	cl.gen = a.gen;
}

/* ---- promote / demote ----------------------------------------------------- */

static int set_role_ex(enum cl_role r, bool force, char *err, size_t errlen)
{
	if (cl_repl_on())
		return repl_set_role(r == CL_ROLE_PRIMARY ? REPL_ROLE_PRIMARY : REPL_ROLE_SECONDARY, force, err, errlen);
	cl.local_role = r;
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
		force = cl.disk == CL_DISK_UPTODATE && cl.data_current;
		if (!force)
			qb_log(LOG_WARNING, "cluster: not forcing the promotion: disk %s%s", cl_disk_name(cl.disk),
			       cl.data_current ? "" : ", not compared with the peer's since start or quorum loss");
	}
	if (cl_my_role() != CL_ROLE_PRIMARY && set_role_ex(CL_ROLE_PRIMARY, force, err, sizeof(err)) < 0) {
		qb_log(LOG_WARNING, "cluster: replication refused the promotion: %s", err);
		snprintf(cl.last_error, sizeof(cl.last_error), "promotion refused: %.200s", err);
		cl.promote_block_until = cl_now_ms() + (uint64_t)cl.cfg.announce_ms;
		return -1;
	}
	cl.peer.transition = false;
	cl_apply_alua();                   /* Active/Optimized before the address answers */
	if (cl_take_ip() < 0) {
		cl_set_role(CL_ROLE_SECONDARY, err, sizeof(err));
		cl_apply_alua();
		cl.promote_block_until = cl_now_ms() + (uint64_t)cl.cfg.announce_ms;
		return -1;
	}
	cl.last_error[0] = '\0';
	qb_log(LOG_NOTICE, "cluster: %s is primary (%" PRIu64 " ms%s)", cl.cfg.node, cl_now_ms() - t0,
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
	if (cl.have_alua && cl.cfg.manager != TCONF_CLUSTER_NONE)
		scsi_alua_set_state(cl.alua_id, SCSI_ALUA_STANDBY);
	cl_release_ip();
	if (cl_my_role() == CL_ROLE_PRIMARY && cl_set_role(CL_ROLE_SECONDARY, err, sizeof(err)) < 0)
		qb_log(LOG_ERR, "cluster: replication refused the demotion: %s", err);
	cl_apply_alua();
	cl_announce();
}

/* ---- the decision loop ------------------------------------------------------------ */

static void delay_done(void *data)
{
	cl.delay_timer = 0;
	cl_evaluate();
}

static void fdelay_done(void *data)
{
	cl.fdelay_timer = 0;
	cl_evaluate();
}

/* A non-Primary whose peer's node vanished waits fence_delay_ms before it
 * fences: in a partition both nodes fence each other, and the Primary (no
 * delay) must win, or both die. */
static bool fence_delayed(enum cl_role role)
{
	uint64_t until, now = cl_now_ms();

	if (role == CL_ROLE_PRIMARY || !cl.peer.node_down || !cl.peer.lost_ms || cl.cfg.fence_delay_ms <= 0)
		return false;
	until = cl.peer.lost_ms + (uint64_t)cl.cfg.fence_delay_ms;
	if (now >= until)
		return false;
	if (!cl.fdelay_timer)
		cl_timer_set(&cl.fdelay_timer, until - now + 1, fdelay_done);
	return true;
}

void cl_evaluate(void)
{
	struct cl_view v;
	struct cl_decision d;
	enum cl_role role;

	if (!cl.on || cl.leaving)
		return;
	role = cl_my_role();
	if (cl.cfg.manager == TCONF_CLUSTER_BUILTIN)
		repl_set_quorate(cl.up && cl.quorate);
	v = (struct cl_view){
		.manager = (enum cl_manager)cl.cfg.manager,
		.fencing = (enum cl_fencing)cl.cfg.fencing,
		.corosync_up = cl.up,
		.quorate = cl.quorate,
		.qdevice_proof = cl.quorate && cl.qdevice_vote && !cl.two_node && cl.quorum_members == 1,
		.my_role = role,
		.my_disk = cl.disk,
		.my_data_current = cl.data_current,
		.my_standby = cl.standby,
		.split_brain = cl.split_brain,
		.failover_busy = cl.fo != FO_IDLE || cl.peer.transition,
		.peer_member = cl.peer.member,
		.peer_known = cl.peer.known,
		.peer_role = cl.peer.st.role,
		.peer_disk = cl.peer.st.disk,
		.peer_standby = (cl.peer.st.flags & CL_SF_STANDBY) != 0,
		.peer_lost = cl.peer.lost,
		.fence = cl.fence,
		.lower_id = !cl.peer.nodeid || cl.nodeid < cl.peer.nodeid,
		.peer_node_up = !cl.peer.node_down && cl.quorum_members >= 2,
		/* after the start, and after a corosync reconnect: the quorum
		 * answers at once, the peer's CPG membership comes later (until
		 * then a healthy peer looks vanished while its node is up) */
		.startup = !cl.peer.seen_since_connect && cl_now_ms() < cl.connected_ms + STARTUP_GRACE_MS(),
		.fence_delay = fence_delayed(role),
	};
	d = cl_decide(&v);
	if (d.action != cl.last.action || d.reason != cl.last.reason)
		qb_log(d.action == CL_ACT_WAIT || d.action == CL_ACT_NONE ? LOG_INFO : LOG_NOTICE,
		       "cluster: decision: %s (%s)", cl_action_name(d.action), d.reason);
	cl.last = d;
	if (d.action != CL_ACT_PROMOTE)
		cl.promote_since = 0;
	switch (d.action) {
	case CL_ACT_PROMOTE:
		if (cl_now_ms() < cl.promote_block_until)
			break;
		if (!cl.promote_since)
			cl.promote_since = cl_now_ms();
		if (cl_now_ms() - cl.promote_since < (uint64_t)cl.cfg.promote_delay_ms) {
			if (!cl.delay_timer)
				cl_timer_set(&cl.delay_timer, (uint64_t)cl.cfg.promote_delay_ms - (cl_now_ms() - cl.promote_since),
					  delay_done);
			break;
		}
		cl.promote_since = 0;
		do_promote_ex(d.reason, !cl.peer.member);
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
	if (cl.cfg.manager == TCONF_CLUSTER_BUILTIN && cl.fo == FO_IDLE) {
		role = cl_my_role();
		/* not after a demotion that failed (writes stuck in the local
		 * disk): the manager wants this node out, the other may hold it */
		if (role == CL_ROLE_PRIMARY && !cl.holds_ip && d.action != CL_ACT_DEMOTE)
			cl_take_ip();
		else if (role != CL_ROLE_PRIMARY && cl.holds_ip)
			cl_release_ip();
	} else if (cl.cfg.manager == TCONF_CLUSTER_PACEMAKER && cl.fip) {
		/* pacemaker (IPaddr2 or the agent) moves the address: notice it,
		 * announce our client connections while we hold it, and tickle
		 * the old owner's clients once after a takeover (PORTALS.md) */
		bool have = cl_have_addr(cl.fip);

		if (have && !cl.holds_ip) {
			cl.holds_ip = true;
			if (cl_my_role() == CL_ROLE_PRIMARY)
				cl_start_tickles();
			if (cl.up)
				cl_send_conns();
		} else if (!have && cl.holds_ip) {
			cl.holds_ip = false;
			cl.tickle_left = 0;
		}
	}
	cl_apply_alua();
}

static void tick(void *data)
{
	cl.tick_timer = 0;
	cl_refresh_repl();
	if (cl.up)
		cl_announce();
	cl_evaluate();
	cl_timer_set(&cl.tick_timer, (uint64_t)cl.cfg.announce_ms, tick);
}

static int32_t conns_fd_cb(int32_t fd, int32_t revents, void *data)
{
	if (cl_conns_consume() && cl.holds_ip && cl.up)
		cl_send_conns();
	return 0;
}

static void eval_cb(void *data)
{
	cl.eval_timer = 0;
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
	if (!cl.on || cl.leaving)
		return;
	if (cl.up)
		cl_announce();
	cl_apply_alua();
	cl_timer_set(&cl.eval_timer, 0, eval_cb);
}

/* ---- public ---------------------------------------------------------------------- */

bool cluster_enabled(void)
{
	return cl.on;
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
	cl.cfg = conf->cluster;
	cl.conf = conf;
	cl.loop = loop;
	cl.local_role = CL_ROLE_SECONDARY;
	cl.peer.lost = true;             /* never seen: must be proven dead before we promote alone */
	snprintf(cl.peer.name, sizeof(cl.peer.name), "%s", cl.cfg.peer);
	snprintf(cl.fo_last, sizeof(cl.fo_last), "none");
	if (cl.cfg.floating_addr[0] && inet_pton(AF_INET, cl.cfg.floating_addr, &cl.fip) != 1) {
		snprintf(err, errlen, "cluster: bad floating_ip '%s'", cl.cfg.floating_ip);
		return -1;
	}
	if (scsi_alua_find_group(cl.cfg.alua_group[0] ? cl.cfg.alua_group : "1", &cl.alua_id) == 0)
		cl.have_alua = true;
	else if (cl.cfg.alua_group[0]) {
		snprintf(err, errlen, "cluster: unknown ALUA group '%s'", cl.cfg.alua_group);
		return -1;
	}
	/* the floating portal's port, for tickles */
	cl.fport = htons(3260);
	for (size_t i = 0; i < conf->nportal_groups; i++)
		for (size_t j = 0; j < conf->portal_groups[i].nlisten; j++)
			if (strcmp(conf->portal_groups[i].listen[j].addr, cl.cfg.floating_addr) == 0)
				cl.fport = htons(conf->portal_groups[i].listen[j].port);
	if (cl.fip && cl.cfg.manager == TCONF_CLUSTER_PACEMAKER) {
		/* connections on the floating portal are tracked for tickles */
		cl.conns_fd = cl_conns_init(cl.fip);
		if (cl.conns_fd >= 0)
			qb_loop_poll_add(loop, QB_LOOP_MED, cl.conns_fd, POLLIN, NULL, conns_fd_cb);
	}
	if (cl.fip && cl.cfg.manager == TCONF_CLUSTER_BUILTIN) {
		if (stale_ip_remove(&cl.cfg, cl.fip, cerr, sizeof(cerr)) < 0) {
			qb_log(LOG_ERR, "cluster: %s", cerr);
			cl.holds_ip = cl_have_addr(cl.fip);       /* announced, and released again later */
		}
		else if (cerr[0])
			qb_log(LOG_WARNING, "cluster: %s at start (we start secondary)", cerr);
		cl.conns_fd = cl_conns_init(cl.fip);
		if (cl.conns_fd >= 0)
			qb_loop_poll_add(loop, QB_LOOP_MED, cl.conns_fd, POLLIN, NULL, conns_fd_cb);
	}
	repl_on_role_change(role_changed, NULL);
	cl.rf.id = (uint32_t)time(NULL) << 8;    /* ids of an earlier incarnation do not match */
	if ((cl.cfg.manager == TCONF_CLUSTER_BUILTIN || (cl_under_pacemaker() && cl.cfg.outdate_peer_command[0])) &&
	    cl_repl_on()) {
		cl.rf.fd = repl_set_fence_handler(cl_rf_request, NULL);
		if (cl.rf.fd >= 0)
			qb_loop_poll_add(loop, QB_LOOP_HIGH, cl.rf.fd, POLLIN, NULL, cl_rf_fd_cb);
	} else if (cl_under_pacemaker() && cl_repl_on()) {
		qb_log(LOG_WARNING, "cluster: manager pacemaker without outdate_peer_command: a primary that loses its "
		       "peer writes on alone at once, and the agent marks the peer outdated only at its next monitor "
		       "(docs/PACEMAKER.md)");
	}
	cl.on = true;
	cl.started = cl_now_ms();
	cl_refresh_repl();
	cl_apply_alua();
	qb_log(LOG_NOTICE, "cluster: manager %s, node %s, floating IP %s on %s, fencing %s, replication %s",
	       cl.cfg.manager == TCONF_CLUSTER_BUILTIN ? "builtin" : cl.cfg.manager == TCONF_CLUSTER_PACEMAKER ? "pacemaker" : "none",
	       cl.cfg.node, cl.cfg.floating_ip[0] ? cl.cfg.floating_ip : "-", cl.cfg.interface[0] ? cl.cfg.interface : "-",
	       cl.cfg.fencing == TCONF_FENCING_QDEVICE ? "qdevice" : cl.cfg.fencing == TCONF_FENCING_COMMAND ? "command" : "none",
	       cl_repl_on() ? "on" : "off (data counts as UpToDate)");
	if (cl.cfg.fencing == TCONF_FENCING_NONE && cl.cfg.manager == TCONF_CLUSTER_BUILTIN)
		qb_log(LOG_WARNING, "cluster: fencing none: a network split makes two primaries (test setting)");
	if (cl_corosync_connect(cerr, sizeof(cerr)) < 0) {
		qb_log(LOG_WARNING, "cluster: corosync not reachable (%s): retrying every %d ms", cerr, cl.cfg.reconnect_ms);
		cl_timer_set(&cl.retry_timer, (uint64_t)cl.cfg.reconnect_ms, cl_corosync_retry);
	} else {
		cl_announce();
	}
	cl_timer_set(&cl.tick_timer, (uint64_t)cl.cfg.announce_ms, tick);
	cl_evaluate();
	return 0;
}

void cluster_reload(const struct tconf *conf)
{
	if (!cl.on && !conf->cluster.enabled)
		return;
	if (!cl.on || memcmp(&cl.cfg, &conf->cluster, sizeof(cl.cfg)) != 0)
		qb_log(LOG_WARNING, "cluster: the cluster section changed: it takes effect at the next restart of tandemd");
	if (cl.on)
		cl.conf = conf;
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
	bool peer_primary = cl.peer.member && cl.peer.known && cl.peer.st.role == CL_ROLE_PRIMARY &&
			    !(cl.peer.st.flags & CL_SF_LEAVING);

	if (!cl_repl_on() || cl_my_role() == CL_ROLE_PRIMARY || !peer_primary)
		return;
	cl_refresh_repl();
	if (cl.disk != CL_DISK_UPTODATE)
		return;         /* not current anyway, and its STATE says so */
	if (repl_outdate_self(err, sizeof(err)) == 0)
		qb_log(LOG_NOTICE, "cluster: leaving while %s is primary: this node's disks are Outdated", cl.peer.name);
	else
		qb_log(LOG_ERR, "cluster: leaving while %s is primary: cannot mark this node's disks Outdated (%s); "
		       "the primary has to fence this node before it writes on", cl.peer.name, err);
	cl_refresh_repl();
}

void cluster_shutdown(void)
{
	char err[256];
	if (!cl.on)
		return;
	cl.leaving = true;
	if (cl_my_role() == CL_ROLE_PRIMARY && cl.cfg.manager == TCONF_CLUSTER_BUILTIN) {
		qb_log(LOG_NOTICE, "cluster: shutting down as primary: releasing the floating IP");
		if (cl.have_alua)
			scsi_alua_set_state(cl.alua_id, SCSI_ALUA_STANDBY);
		cl_release_ip();
		if (cl_set_role(CL_ROLE_SECONDARY, err, sizeof(err)) < 0)
			qb_log(LOG_ERR, "cluster: replication refused the demotion: %s", err);
	}
	if (cl.up) {
		leave_outdated();
		struct cl_msg m = { .type = CL_MSG_STATE, .role = cl_my_role(), .disk = cl.disk, .peer_disk = cl.peer_disk_repl,
				    .flags = CL_SF_LEAVING | (cl.standby ? CL_SF_STANDBY : 0) };
		cl_send_msg(&m);
	}
	cl.on = false;
	if (cl.fence_pid > 0) {
		cl_fence_kill();
		waitpid(cl.fence_pid, NULL, 0);
		cl.fence_pid = 0;
	}
	cl_timer_clear(&cl.retry_timer);
	cl_timer_clear(&cl.tick_timer);
	cl_timer_clear(&cl.fence_timer);
	cl_timer_clear(&cl.arp_timer);
	cl_timer_clear(&cl.tickle_timer);
	cl_timer_clear(&cl.fo_timer);
	cl_timer_clear(&cl.delay_timer);
	cl_timer_clear(&cl.fdelay_timer);
	cl_timer_clear(&cl.rf_timer);
	cl_timer_clear(&cl.eval_timer);
	if (cl.rf.fd >= 0) {
		qb_loop_poll_del(cl.loop, cl.rf.fd);
		repl_set_fence_handler(NULL, NULL);
		cl.rf.fd = -1;
	}
	if (cl.conns_fd >= 0) {
		qb_loop_poll_del(cl.loop, cl.conns_fd);
		cl_conns_fini();
		cl.conns_fd = -1;
	}
	if (cl.cpg) {
		struct cpg_name name = { .length = (uint32_t)strlen(cl.cfg.cpg_group) };
		memcpy(name.value, cl.cfg.cpg_group, name.length);
		cpg_leave(cl.cpg, &name);
	}
	cl.up = false;   /* so cl_corosync_down does not log a loss */
	cl_corosync_down("shutdown");
	cl_timer_clear(&cl.retry_timer);
	free(cl.peer.conns);
	free(cl.tickles);
	cl.peer.conns = NULL;
	cl.tickles = NULL;
}
