/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The built-in cluster manager (docs/CLUSTER.md): corosync CPG + votequorum on
 * the main qb_loop, this node's and the peer's announced state, the role
 * decision (decide.c) and its execution: replication role, ALUA state of the
 * floating portal's group, the floating IP (netlink), gratuitous ARPs, tickle
 * ACKs, fencing, planned failover. Main thread only (except conns.c). */
#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "repl/repl.h"
#include "scsi/scsi.h"
#include "util/log.h"
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/wait.h>
#include <corosync/cpg.h>
#include <corosync/votequorum.h>

#define FENCE_RETRY_MS 5000
/* How long the old Primary waits for the target to promote before it takes
 * the role back: longer than the target's own promotion may legitimately take
 * (repl_promote_wait_max_ms: it waits for the former Primary's last writes),
 * or both could commit a promotion within one ROLE message's transit. A target
 * that fails says so (HANDOVER_FAILED), and one that leaves is noticed at once. */
#define HANDOVER_TIMEOUT_MS_MIN 5000u
#define HANDOVER_MARGIN_MS 2000u
#define FAILOVER_DRAIN_DELAY_MS 20
/* after start, wait this long for the peer's tandemd before acting alone */
#define STARTUP_GRACE_MS() (uint64_t)(g.cfg.announce_ms * 2 > 2000 ? g.cfg.announce_ms * 2 : 2000)

enum fo_state { FO_IDLE, FO_DRAINING, FO_HANDED, FO_TAKING };
static const char *const fo_names[] = { "idle", "draining", "handed-over", "taking-over" };

static struct {
	bool on;
	bool leaving;                   /* cluster_shutdown began: decide nothing more */
	uint64_t connected_ms;          /* when corosync was (re)connected */
	struct tconf_cluster cfg;
	const struct tconf *conf;
	qb_loop_t *loop;
	uint32_t fip;                   /* floating address, network order (0 = none) */
	uint16_t fport;                 /* port of the floating portal (network order) */
	uint16_t alua_id;
	bool have_alua;

	/* corosync */
	cpg_handle_t cpg;
	votequorum_handle_t vq;
	int cpg_fd, vq_fd;
	bool up;
	uint32_t nodeid;
	qb_loop_timer_handle retry_timer, tick_timer, fence_timer, arp_timer, tickle_timer, fo_timer, delay_timer;
	qb_loop_timer_handle fdelay_timer, rf_timer, eval_timer;
	bool quorate, two_node, qdevice_vote;
	uint32_t quorum_members;
	uint32_t seq;

	/* this node */
	enum cl_role local_role;        /* without replication */
	enum cl_disk disk, peer_disk_repl;
	bool in_sync, split_brain, standby, holds_ip;
	bool data_current;      /* every replicated LUN known current (repl: known_current) */
	uint64_t gen;

	/* the peer */
	struct {
		bool member, known, lost, transition, ever_seen, seen_since_connect;
		bool node_down;         /* CPG said its node left the membership (not just the process) */
		bool left_behind;       /* it left cleanly, its disks durably not current (cluster_shutdown) */
		bool left_clean;        /* it left cleanly, not primary (its last STATE said LEAVING) */
		uint64_t lost_ms;       /* when its node vanished (fence_delay_ms counts from here) */
		uint32_t nodeid, pid;
		char name[CL_NAME_MAX];
		struct cl_msg st;       /* last STATE (conns unused) */
		struct cl_conn *conns;  /* its last CONNS snapshot */
		uint32_t nconns;
	} peer;

	/* fencing */
	enum cl_fence fence;
	pid_t fence_pid;
	uint64_t fence_started, fence_next;

	/* replication's fence requests (this node is Primary, lost the peer, and
	 * its writes are frozen until the peer is Outdated or dead) */
	struct {
		int fd;                 /* repl's eventfd, -1 = no handler */
		bool want;              /* a request is open */
		uint32_t id;            /* its id (epoch of OUTDATE_REQUEST) */
		uint64_t since, asked_ms;
		bool outdated, refused;
		char refused_why[128];
		struct cl_fence_decision last;
		uint64_t last_answer_ms;
		char last_result[96];
	} rf;

	/* decision */
	struct cl_decision last;
	uint64_t promote_since, promote_block_until, started;
	char last_error[256];

	/* planned failover */
	enum fo_state fo;
	char fo_target[CL_NAME_MAX];
	uint64_t fo_started;
	uint32_t epoch;
	char fo_last[160];
	uint64_t fo_seq;                /* bumped whenever fo_last gets a final result */
	int64_t fo_last_ms;

	/* takeover packets */
	int arp_left, tickle_left;
	struct cl_conn *tickles;
	uint32_t ntickles;
	int conns_fd;
} g = { .cpg_fd = -1, .vq_fd = -1, .conns_fd = -1, .rf = { .fd = -1 } };

static void evaluate(void);
static void announce(void);
static void corosync_down(const char *why);

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void timer_set(qb_loop_timer_handle *h, uint64_t ms, void (*fn)(void *))
{
	if (*h) {
		qb_loop_timer_del(g.loop, *h);
		*h = 0;
	}
	if (qb_loop_timer_add(g.loop, QB_LOOP_MED, ms * 1000000ull, NULL, fn, h) != 0)
		*h = 0;
}

static void timer_clear(qb_loop_timer_handle *h)
{
	if (*h) {
		qb_loop_timer_del(g.loop, *h);
		*h = 0;
	}
}

/* ---- replication view --------------------------------------------------- */

/* Without a replication section the cluster treats the node's data as
 * UpToDate and keeps the role itself. */
static bool repl_on(void)
{
	return repl_enabled();
}

static uint64_t handover_timeout_ms(void)
{
	uint64_t t = repl_on() ? repl_promote_wait_max_ms() + HANDOVER_MARGIN_MS : 0;
	return t > HANDOVER_TIMEOUT_MS_MIN ? t : HANDOVER_TIMEOUT_MS_MIN;
}

static enum cl_role my_role(void)
{
	if (repl_on())
		return repl_get_role() == REPL_ROLE_PRIMARY ? CL_ROLE_PRIMARY : CL_ROLE_SECONDARY;
	return g.local_role;
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
static void refresh_repl(void)
{
	struct repl_agg a = { .mine = CL_DISK_UPTODATE, .theirs = CL_DISK_UPTODATE, .sync = true, .first = true,
			      .current = true };

	if (!repl_on()) {
		g.disk = CL_DISK_UPTODATE;
		g.peer_disk_repl = CL_DISK_DUNKNOWN;
		g.in_sync = true;
		g.split_brain = false;
		g.data_current = true;
		return;
	}
	repl_lun_states(repl_agg_lun, &a);
	g.disk = a.mine;
	g.peer_disk_repl = a.theirs;
	g.in_sync = a.sync;
	g.split_brain = a.sb;
	g.data_current = a.current;
	g.gen = a.gen;
}

/* ---- ALUA, IP, ARP, tickles ------------------------------------------------ */

static enum scsi_alua_state wanted_alua(void)
{
	bool primary = my_role() == CL_ROLE_PRIMARY;
	if (g.fo == FO_DRAINING || (g.fo == FO_HANDED && !primary))
		return SCSI_ALUA_TRANSITIONING;
	if (primary)
		return SCSI_ALUA_ACTIVE_OPTIMIZED;
	if (g.peer.member && g.peer.transition)
		return SCSI_ALUA_TRANSITIONING;
	if (g.peer.member && g.peer.known && g.peer.st.role == CL_ROLE_PRIMARY)
		return SCSI_ALUA_ACTIVE_OPTIMIZED;    /* the port is served by the peer */
	return SCSI_ALUA_STANDBY;
}

static void apply_alua(void)
{
	enum scsi_alua_state cur, want;

	if (!g.have_alua || g.cfg.manager == TCONF_CLUSTER_NONE)
		return;
	want = wanted_alua();
	if (scsi_alua_get_state(g.alua_id, &cur) == 0 && cur == want)
		return;
	if (scsi_alua_set_state(g.alua_id, want) == 0)
		qb_log(LOG_NOTICE, "cluster: ALUA group %u -> %s", g.alua_id, scsi_alua_state_name(want));
}

static void arp_tick(void *data)
{
	g.arp_timer = 0;
	if (!g.holds_ip || g.arp_left <= 0)
		return;
	int rc = cl_send_garp(g.cfg.interface, g.fip);
	if (rc < 0)
		qb_log(LOG_WARNING, "cluster: gratuitous ARP on %s: %s", g.cfg.interface, strerror(-rc));
	if (--g.arp_left > 0)
		timer_set(&g.arp_timer, (uint64_t)g.cfg.arp_interval_ms, arp_tick);
}

static void tickle_tick(void *data)
{
	g.tickle_timer = 0;
	if (!g.holds_ip || g.tickle_left <= 0)
		return;
	for (uint32_t i = 0; i < g.ntickles; i++) {
		const struct cl_conn *c = &g.tickles[i];
		int rc = cl_send_tickle(c->server_ip, c->server_port, c->client_ip, c->client_port);
		if (rc < 0)
			qb_log(LOG_WARNING, "cluster: tickle ACK: %s", strerror(-rc));
	}
	if (--g.tickle_left > 0)
		timer_set(&g.tickle_timer, (uint64_t)g.cfg.tickle_interval_ms, tickle_tick);
}

/* After taking the address: tell every client the old owner announced that
 * its connection is gone (docs/PORTALS.md). */
static void start_tickles(void)
{
	free(g.tickles);
	g.tickles = NULL;
	g.ntickles = 0;
	if (!g.peer.nconns || g.cfg.tickle_count <= 0)
		return;
	g.tickles = malloc(g.peer.nconns * sizeof(*g.tickles));
	if (!g.tickles)
		return;
	memcpy(g.tickles, g.peer.conns, g.peer.nconns * sizeof(*g.tickles));
	g.ntickles = g.peer.nconns;
	g.tickle_left = g.cfg.tickle_count;
	qb_log(LOG_NOTICE, "cluster: sending tickle ACKs to %u client connection(s)", g.ntickles);
	tickle_tick(NULL);
}

static int take_ip(void)
{
	char err[256];
	if (!g.fip || g.cfg.manager != TCONF_CLUSTER_BUILTIN)
		return 0;
	if (cl_nl_addr(true, g.cfg.interface, g.fip, g.cfg.floating_prefix, err, sizeof(err)) < 0) {
		qb_log(LOG_ERR, "cluster: cannot take the floating IP: %s", err);
		snprintf(g.last_error, sizeof(g.last_error), "%s", err);
		return -1;
	}
	g.holds_ip = true;
	qb_log(LOG_NOTICE, "cluster: took floating IP %s on %s", g.cfg.floating_ip, g.cfg.interface);
	g.arp_left = g.cfg.arp_count;
	arp_tick(NULL);
	start_tickles();
	return 0;
}

/* False when the address could not be removed (it stays held: retried). */
static bool release_ip(void)
{
	char err[256];
	if (!g.fip || g.cfg.manager != TCONF_CLUSTER_BUILTIN)
		return true;
	if (!g.holds_ip && !cl_have_addr(g.fip))
		return true;
	if (cl_nl_addr(false, g.cfg.interface, g.fip, g.cfg.floating_prefix, err, sizeof(err)) < 0) {
		qb_log(LOG_ERR, "cluster: cannot release the floating IP: %s", err);
		snprintf(g.last_error, sizeof(g.last_error), "%s", err);
		g.holds_ip = true;
		return false;
	}
	if (g.holds_ip)
		qb_log(LOG_NOTICE, "cluster: released floating IP %s", g.cfg.floating_ip);
	g.holds_ip = false;
	g.arp_left = g.tickle_left = 0;
	return true;
}

/* ---- promote / demote ----------------------------------------------------- */

static int set_role_ex(enum cl_role r, bool force, char *err, size_t errlen)
{
	if (repl_on())
		return repl_set_role(r == CL_ROLE_PRIMARY ? REPL_ROLE_PRIMARY : REPL_ROLE_SECONDARY, force, err, errlen);
	g.local_role = r;
	return 0;
}

static int set_role(enum cl_role r, char *err, size_t errlen)
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
	uint64_t t0 = now_ms();
	bool force = false;

	qb_log(LOG_NOTICE, "cluster: promoting: %s", why);
	if (peer_gone && repl_on() && my_role() != CL_ROLE_PRIMARY) {
		refresh_repl();
		force = g.disk == CL_DISK_UPTODATE && g.data_current;
		if (!force)
			qb_log(LOG_WARNING, "cluster: not forcing the promotion: disk %s%s", cl_disk_name(g.disk),
			       g.data_current ? "" : ", not compared with the peer's since start or quorum loss");
	}
	if (my_role() != CL_ROLE_PRIMARY && set_role_ex(CL_ROLE_PRIMARY, force, err, sizeof(err)) < 0) {
		qb_log(LOG_WARNING, "cluster: replication refused the promotion: %s", err);
		snprintf(g.last_error, sizeof(g.last_error), "promotion refused: %.200s", err);
		g.promote_block_until = now_ms() + (uint64_t)g.cfg.announce_ms;
		return -1;
	}
	g.peer.transition = false;
	apply_alua();                   /* Active/Optimized before the address answers */
	if (take_ip() < 0) {
		set_role(CL_ROLE_SECONDARY, err, sizeof(err));
		apply_alua();
		g.promote_block_until = now_ms() + (uint64_t)g.cfg.announce_ms;
		return -1;
	}
	g.last_error[0] = '\0';
	qb_log(LOG_NOTICE, "cluster: %s is primary (%" PRIu64 " ms%s)", g.cfg.node, now_ms() - t0,
	       force ? ", forced: the peer is gone and this disk is UpToDate and current" : "");
	announce();
	return 0;
}

static int do_promote(const char *why)
{
	return do_promote_ex(why, false);
}

static void do_demote(const char *why)
{
	char err[256] = "";

	qb_log(LOG_WARNING, "cluster: demoting: %s", why);
	if (g.have_alua && g.cfg.manager != TCONF_CLUSTER_NONE)
		scsi_alua_set_state(g.alua_id, SCSI_ALUA_STANDBY);
	release_ip();
	if (my_role() == CL_ROLE_PRIMARY && set_role(CL_ROLE_SECONDARY, err, sizeof(err)) < 0)
		qb_log(LOG_ERR, "cluster: replication refused the demotion: %s", err);
	apply_alua();
	announce();
}

/* ---- fencing ---------------------------------------------------------------- */

static bool under_pacemaker(void)
{
	return g.cfg.manager == TCONF_CLUSTER_PACEMAKER;
}

/* What proves a lost peer cannot be promoted without this node's writes: the
 * built-in manager's fence command (it powers the peer off), or under
 * pacemaker the outdate-peer command (it marks the peer outdated in the CIB,
 * DRBD's crm-fence-peer), run while replication holds the writes frozen. */
static const char *fence_cmd(void)
{
	return under_pacemaker() ? g.cfg.outdate_peer_command : g.cfg.fence_command;
}

static const char *fence_cmd_name(void)
{
	return under_pacemaker() ? "outdate-peer" : "fence";
}

/* The fence command's whole process group (it ran setsid()): what an agent
 * started (ipmitool under fence_ipmilan) must not power a node off after the
 * fence counted as failed (review, session 15); the command itself if it had
 * not reached setsid() yet. */
static void fence_kill(void)
{
	if (kill(-g.fence_pid, SIGKILL) < 0)
		kill(g.fence_pid, SIGKILL);
}

static void fence_poll(void *data)
{
	int status;
	g.fence_timer = 0;
	if (g.fence_pid <= 0)
		return;
	pid_t r = waitpid(g.fence_pid, &status, WNOHANG);
	if (r == 0) {
		if (now_ms() - g.fence_started > (uint64_t)g.cfg.fence_timeout_ms) {
			qb_log(LOG_ERR, "cluster: %s command timed out after %d ms: killing it", fence_cmd_name(),
			       g.cfg.fence_timeout_ms);
			fence_kill();
			waitpid(g.fence_pid, &status, 0);
			status = -1;
		} else {
			timer_set(&g.fence_timer, 100, fence_poll);
			return;
		}
	}
	g.fence_pid = 0;
	if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		qb_log(LOG_NOTICE, under_pacemaker() ? "cluster: outdate-peer command succeeded: %s is marked outdated"
						     : "cluster: fence command succeeded: %s is dead",
		       g.peer.name[0] ? g.peer.name : "peer");
		g.fence = CL_FENCE_OK;
	} else {
		qb_log(LOG_ERR, "cluster: %s command failed (%s %d); retrying in %d s", fence_cmd_name(),
		       status != -1 && WIFEXITED(status) ? "exit" : "signal/timeout",
		       status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1, FENCE_RETRY_MS / 1000);
		g.fence = CL_FENCE_FAILED;
		g.fence_next = now_ms() + FENCE_RETRY_MS;
		timer_set(&g.fence_timer, FENCE_RETRY_MS, fence_poll);
	}
	evaluate();
}

static void start_fence(void)
{
	char nodeid[16];
	if (g.fence == CL_FENCE_RUNNING || (g.fence == CL_FENCE_FAILED && now_ms() < g.fence_next))
		return;
	snprintf(nodeid, sizeof(nodeid), "%u", g.peer.nodeid);
	qb_log(LOG_NOTICE, "cluster: %s %s: %s", under_pacemaker() ? "marking outdated" : "fencing",
	       g.peer.name[0] ? g.peer.name : "the peer", fence_cmd());
	pid_t pid = fork();
	if (pid < 0) {
		qb_log(LOG_ERR, "cluster: fork for the fence command: %s", strerror(errno));
		g.fence = CL_FENCE_FAILED;
		g.fence_next = now_ms() + FENCE_RETRY_MS;
		return;
	}
	if (pid == 0) {
		setsid();
		setenv("TANDEM_PEER", g.peer.name[0] ? g.peer.name : g.cfg.peer, 1);
		setenv("TANDEM_PEER_NODEID", nodeid, 1);
		execl("/bin/sh", "sh", "-c", fence_cmd(), (char *)NULL);
		_exit(127);
	}
	g.fence_pid = pid;
	g.fence = CL_FENCE_RUNNING;
	g.fence_started = now_ms();
	timer_set(&g.fence_timer, 100, fence_poll);
}

/* ---- replication's fence requests -------------------------------------------- */

static int send_msg(struct cl_msg *m);

static void rf_timer_cb(void *data)
{
	g.rf_timer = 0;
	evaluate();
}

static void rf_answer(bool ok, const char *why)
{
	uint64_t ms = now_ms() - g.rf.since;

	qb_log(ok ? LOG_NOTICE : LOG_WARNING, "cluster: fence request %u answered after %" PRIu64 " ms: %s (%s)",
	       g.rf.id, ms, ok ? "writes continue without the peer" : "frozen writes fail, retryable", why);
	snprintf(g.rf.last_result, sizeof(g.rf.last_result), "%s: %.80s", ok ? "released" : "failed", why);
	g.rf.last_answer_ms = ms;
	g.rf.want = false;
	g.rf.asked_ms = 0;
	timer_clear(&g.rf_timer);
	repl_fence_done(ok);
}

/* A STATE announcing a clean exit, not as primary (cluster_shutdown demoted
 * first): the built-in manager's fence decision counts it as settled
 * (peer_left_clean). */
static bool leaving_clean(const struct cl_msg *m)
{
	return (m->flags & CL_SF_LEAVING) && m->role != CL_ROLE_PRIMARY;
}

/* ... with that node's disks durably Outdated (or Inconsistent): it cannot be
 * promoted with stale data any more, which is what fencing has to prove, under
 * any manager (leave_outdated marks a Secondary leaving its Primary first). */
static bool leaving_behind(const struct cl_msg *m)
{
	return leaving_clean(m) && (m->disk == CL_DISK_OUTDATED || m->disk == CL_DISK_INCONSISTENT);
}

/* The Primary's side (DRBD's fence-peer handler): its writes stay frozen until
 * the peer is Outdated (asked over CPG) or dead (fence command, qdevice). */
static void rf_eval(void)
{
	struct cl_fence_view fv;
	struct cl_fence_decision d;

	if (!g.rf.want)
		return;
	if (my_role() != CL_ROLE_PRIMARY) {
		rf_answer(false, "this node is not primary any more");
		return;
	}
	/* under pacemaker: ask the peer over CPG, else the outdate-peer command */
	fv = (struct cl_fence_view){
		.fencing = under_pacemaker() ? CL_FENCING_COMMAND : (enum cl_fencing)g.cfg.fencing,
		.quorate = g.up && g.quorate,
		.qdevice_proof = !under_pacemaker() && g.quorate && g.qdevice_vote && !g.two_node && g.quorum_members == 1,
		.peer_member = g.peer.member,
		.peer_node_up = !g.peer.node_down && g.quorum_members >= 2,
		.peer_outdated = g.rf.outdated || g.peer.left_behind ||
				 (g.peer.known && leaving_behind(&g.peer.st)),
		/* the built-in manager promotes a node alone only with its data
		 * known current (compared with the peer since its start): one
		 * that left cleanly cannot come back as a stale primary; under
		 * pacemaker the outdate-peer command marks it in the CIB */
		.peer_left_clean = g.cfg.manager == TCONF_CLUSTER_BUILTIN &&
				   (g.peer.left_clean || (g.peer.known && leaving_clean(&g.peer.st))),
		.peer_refused = g.rf.refused,
		.peer_primary = g.peer.known && g.peer.st.role == CL_ROLE_PRIMARY,
		.asked = g.rf.asked_ms != 0,
		.ask_expired = g.rf.asked_ms && now_ms() - g.rf.asked_ms >= CL_OUTDATE_TIMEOUT_MS,
		.fence = g.fence,
	};
	d = cl_decide_fence(&fv);
	if (d.action != g.rf.last.action || d.reason != g.rf.last.reason)
		qb_log(d.action == CL_FA_WAIT ? LOG_INFO : LOG_NOTICE, "cluster: fence request %u: %s (%s)", g.rf.id,
		       cl_fence_action_name(d.action), d.reason);
	g.rf.last = d;
	switch (d.action) {
	case CL_FA_OUTDATED:
	case CL_FA_DEAD:
		rf_answer(true, d.reason);
		break;
	case CL_FA_ASK: {
		struct cl_msg m = { .type = CL_MSG_OUTDATE_REQUEST, .on = 1, .epoch = g.rf.id };
		snprintf(m.target, sizeof(m.target), "%s", g.peer.name);
		if (send_msg(&m) == 0) {
			g.rf.asked_ms = now_ms();
			g.rf.refused = false;   /* the answer to this ask decides */
			timer_set(&g.rf_timer, CL_OUTDATE_TIMEOUT_MS + 10, rf_timer_cb);
		} else {
			timer_set(&g.rf_timer, 100, rf_timer_cb);       /* corosync busy: again soon */
		}
		break;
	}
	case CL_FA_FENCE:
		start_fence();
		break;
	case CL_FA_WAIT:
		break;
	}
}

/* repl's fence handler (main thread, from the eventfd) */
static void rf_request(void *arg)
{
	if (!g.rf.want) {
		g.rf.want = true;
		g.rf.id++;
		g.rf.since = now_ms();
		g.rf.asked_ms = 0;
		g.rf.outdated = g.rf.refused = false;
		g.rf.refused_why[0] = '\0';
		g.rf.last = (struct cl_fence_decision){ 0 };
		/* A fence or mark done for an earlier loss proves nothing about
		 * this one: the peer may have resumed, resynced and been unmarked
		 * since without ever leaving the group (the only other reset). One
		 * still running counts: its effect comes after this loss began. So
		 * does a fence command's kill while the peer has not rejoined the
		 * group since (a rejoin resets it): the same loss, whose takeover
		 * fenced the node a moment ago; fencing it again killed the node
		 * while it was booting back (found by tests/cluster/test_soak.sh
		 * kill-primary in CI, session 12). */
		bool fenced_since = g.fence == CL_FENCE_OK && !under_pacemaker() && !g.peer.member;
		if (g.fence != CL_FENCE_RUNNING && !fenced_since)
			g.fence = CL_FENCE_IDLE;
		qb_log(LOG_WARNING, "cluster: replication lost %s while primary: writes are frozen until it is "
		       "Outdated or dead (fence request %u)", g.peer.name[0] ? g.peer.name : "the peer", g.rf.id);
	}
	evaluate();
}

static int32_t rf_fd_cb(int32_t fd, int32_t revents, void *data)
{
	repl_fence_dispatch();
	return 0;
}

/* The peer (Primary) lost its replication link to us and asks us to make sure
 * we are never promoted without the writes it continues with. */
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

static void on_outdate_request(const struct cl_msg *m)
{
	struct cl_msg a = { .type = CL_MSG_OUTDATE_ANSWER, .epoch = m->epoch };
	char err[128] = "";
	uint64_t t0 = now_ms();
	bool ok;

	if (od_last.ok && od_last.epoch == m->epoch && strcmp(od_last.name, m->name) == 0 &&
	    my_role() != CL_ROLE_PRIMARY) {
		qb_log(LOG_INFO, "cluster: %s repeats outdate request %u: answered again (disks already Outdated)",
		       m->name, m->epoch);
		a.on = 1;
		snprintf(a.target, sizeof(a.target), "%s", m->name);
		send_msg(&a);
		return;
	}
	if (my_role() == CL_ROLE_PRIMARY) {
		snprintf(err, sizeof(err), "%s is primary: it does not outdate itself", g.cfg.node);
		ok = false;
	} else if (!repl_on()) {
		ok = true;              /* nothing replicated here */
	} else {
		ok = repl_outdate_self(err, sizeof(err)) == 0;
	}
	qb_log(ok ? LOG_WARNING : LOG_ERR, "cluster: %s asked this node to outdate itself (request %u): %s%s (%" PRIu64 " ms)",
	       m->name, m->epoch, ok ? "done, disks Outdated" : "refused: ", err, now_ms() - t0);
	a.on = ok;
	snprintf(a.target, sizeof(a.target), "%s", m->name);
	snprintf(a.text, sizeof(a.text), "%s", err);
	send_msg(&a);
	snprintf(od_last.name, sizeof(od_last.name), "%s", m->name);
	od_last.epoch = m->epoch;
	od_last.ok = ok;
	announce();
}

static void on_outdate_answer(const struct cl_msg *m)
{
	if (strcmp(m->target, g.cfg.node) != 0 || !g.rf.want || m->epoch != g.rf.id)
		return;
	if (m->on) {
		g.rf.outdated = true;
	} else {
		g.rf.refused = true;
		snprintf(g.rf.refused_why, sizeof(g.rf.refused_why), "%.120s", m->text);
		qb_log(LOG_ERR, "cluster: %s refused to outdate itself: %s", m->name, m->text);
	}
}

/* ---- messages -------------------------------------------------------------- */

static int send_msg(struct cl_msg *m)
{
	static uint8_t buf[CL_MSG_MAX];
	struct iovec iov;
	int n, tries = 0;
	cs_error_t rc;

	if (!g.up)
		return -1;
	snprintf(m->name, sizeof(m->name), "%s", g.cfg.node);
	m->seq = ++g.seq;
	n = cl_msg_encode(m, buf, sizeof(buf));
	if (n < 0) {
		qb_log(LOG_ERR, "cluster: cannot encode %s", cl_msg_type_name(m->type));
		return -1;
	}
	iov.iov_base = buf;
	iov.iov_len = (size_t)n;
	do {
		rc = cpg_mcast_joined(g.cpg, CPG_TYPE_AGREED, &iov, 1);
	} while (rc == CS_ERR_TRY_AGAIN && ++tries < 10);
	if (rc != CS_OK) {
		qb_log(rc == CS_ERR_TRY_AGAIN ? LOG_INFO : LOG_WARNING, "cluster: cannot send %s: corosync error %d%s",
		       cl_msg_type_name(m->type), rc, rc == CS_ERR_TRY_AGAIN ? " (busy; the next announcement repeats it)" : "");
		return -1;
	}
	return 0;
}

static void announce(void)
{
	struct cl_msg m = { .type = CL_MSG_STATE };
	refresh_repl();
	m.role = my_role();
	m.disk = g.disk;
	m.peer_disk = g.peer_disk_repl;
	m.gen = g.gen;
	m.flags = (uint8_t)((g.standby ? CL_SF_STANDBY : 0) | (g.split_brain ? CL_SF_SPLIT_BRAIN : 0) |
			    (g.in_sync ? CL_SF_IN_SYNC : 0) | (g.holds_ip ? CL_SF_HOLDS_IP : 0) |
			    (g.fo != FO_IDLE ? CL_SF_FAILOVER : 0));
	for (size_t i = 0; g.conf && i < g.conf->nportal_groups && m.nportals < CL_MAX_PORTALS; i++) {
		const struct tconf_portal_group *pg = &g.conf->portal_groups[i];
		for (size_t j = 0; j < pg->nlisten && m.nportals < CL_MAX_PORTALS; j++) {
			struct cl_portal *p = &m.portals[m.nportals++];
			snprintf(p->addr, sizeof(p->addr), "%.45s", pg->listen[j].addr);
			p->port = pg->listen[j].port;
			p->rel_port_id = pg->rel_port_id ? pg->rel_port_id : pg->tag;
		}
	}
	send_msg(&m);
}

static void send_conns(void)
{
	struct cl_msg m = { .type = CL_MSG_CONNS };
	struct cl_conn *v = calloc(CL_MAX_CONNS, sizeof(*v));
	if (!v)
		return;
	size_t n = cl_conns_snapshot(v, CL_MAX_CONNS);
	m.nconns = (uint32_t)(n > CL_MAX_CONNS ? CL_MAX_CONNS : n);
	m.conns = v;
	send_msg(&m);
	free(v);
}

static void send_ctl_epoch(enum cl_msg_type t, const char *target, uint8_t on, const char *text, uint32_t epoch)
{
	struct cl_msg m = { .type = t, .on = on, .epoch = epoch };
	/* both are cut to their field on purpose: the precision says so to gcc */
	snprintf(m.target, sizeof(m.target), "%.*s", (int)sizeof(m.target) - 1, target ? target : "");
	snprintf(m.text, sizeof(m.text), "%.*s", (int)sizeof(m.text) - 1, text ? text : "");
	send_msg(&m);
}

static void send_ctl(enum cl_msg_type t, const char *target, uint8_t on, const char *text)
{
	send_ctl_epoch(t, target, on, text, g.epoch);
}

/* ---- planned failover ---------------------------------------------------------- */

static void fo_finish(const char *result)
{
	if (g.fo != FO_IDLE) {
		g.fo_last_ms = (int64_t)(now_ms() - g.fo_started);
		snprintf(g.fo_last, sizeof(g.fo_last), "%s", result);
		g.fo_seq++;
		qb_log(LOG_NOTICE, "cluster: planned failover to %s: %s (%" PRId64 " ms)", g.fo_target, result,
		       g.fo_last_ms);
	}
	g.fo = FO_IDLE;
	timer_clear(&g.fo_timer);
	apply_alua();
}

/* Why the peer cannot take over now, or NULL. */
static const char *peer_unready(void)
{
	if (!g.peer.member || !g.peer.known)
		return "the peer is not in the membership";
	if (g.peer.st.flags & CL_SF_STANDBY)
		return "the peer is in standby";
	if (g.peer.st.disk != CL_DISK_UPTODATE)
		return "the peer's disk is not UpToDate";
	if (g.split_brain || (g.peer.st.flags & CL_SF_SPLIT_BRAIN))
		return "split brain";
	refresh_repl();
	if (!g.in_sync)
		return "the peer is not in sync (replication not connected or peer not UpToDate)";
	if (!g.quorate)
		return "no quorum";
	return NULL;
}

static void handover_timeout(void *data)
{
	g.fo_timer = 0;
	if (g.fo != FO_HANDED)
		return;
	qb_log(LOG_ERR, "cluster: %s did not take over within %" PRIu64 " ms: taking the role back", g.fo_target,
	       handover_timeout_ms());
	send_ctl(CL_MSG_TRANSITION, g.fo_target, 0, "aborted");
	fo_finish("failed: the target did not take over");
	if (!g.peer.member || !g.peer.known || g.peer.st.role != CL_ROLE_PRIMARY)
		do_promote("failover aborted");
}

static void fo_drain(void *data)
{
	char err[256] = "";
	const char *why;

	g.fo_timer = 0;
	if (g.fo != FO_DRAINING)
		return;
	/* replication demotion waits for the writes in flight */
	if (set_role(CL_ROLE_SECONDARY, err, sizeof(err)) < 0) {
		send_ctl(CL_MSG_TRANSITION, g.fo_target, 0, "aborted");
		snprintf(g.fo_last, sizeof(g.fo_last), "failed: %.120s", err);
		fo_finish(g.fo_last);
		return;
	}
	why = peer_unready();
	if (why) {
		char msg[160];
		snprintf(msg, sizeof(msg), "failed: %s", why);
		send_ctl(CL_MSG_TRANSITION, g.fo_target, 0, "aborted");
		fo_finish(msg);
		set_role(CL_ROLE_PRIMARY, err, sizeof(err));
		apply_alua();
		return;
	}
	if (!release_ip()) {
		/* the target would take an address this node still answers
		 * for: both would hold it (review, session 15) */
		send_ctl(CL_MSG_TRANSITION, g.fo_target, 0, "aborted");
		snprintf(g.fo_last, sizeof(g.fo_last), "failed: cannot release the floating IP: %.100s", g.last_error);
		fo_finish(g.fo_last);
		set_role(CL_ROLE_PRIMARY, err, sizeof(err));
		apply_alua();
		return;
	}
	g.fo = FO_HANDED;
	apply_alua();
	announce();
	send_ctl(CL_MSG_HANDOVER, g.fo_target, 1, "");
	timer_set(&g.fo_timer, handover_timeout_ms(), handover_timeout);
}

static int start_failover(const char *target, char *err, size_t errlen)
{
	const char *why = peer_unready();
	if (why) {
		snprintf(err, errlen, "cannot fail over to %s: %s", target, why);
		return -1;
	}
	g.fo = FO_DRAINING;
	g.epoch++;
	g.fo_started = now_ms();
	snprintf(g.fo_target, sizeof(g.fo_target), "%s", target);
	qb_log(LOG_NOTICE, "cluster: planned failover to %s", target);
	send_ctl(CL_MSG_TRANSITION, target, 1, "");
	apply_alua();                   /* Transitioning: initiators retry, no new writes */
	timer_set(&g.fo_timer, FAILOVER_DRAIN_DELAY_MS, fo_drain);
	return 0;
}

/* ---- incoming ------------------------------------------------------------------- */

static void on_state(const struct cl_msg *m)
{
	bool was_primary = g.peer.known && g.peer.st.role == CL_ROLE_PRIMARY;
	struct cl_conn *keep = g.peer.conns;
	uint32_t nkeep = g.peer.nconns;

	g.peer.st = *m;
	g.peer.st.conns = NULL;
	g.peer.conns = keep;
	g.peer.nconns = nkeep;
	g.peer.known = true;
	snprintf(g.peer.name, sizeof(g.peer.name), "%s", m->name);
	/* its planned failover is over once its STATE stops saying so: a lost
	 * TRANSITION(0) (a send refused during a membership change) left this
	 * node Transitioning, unable to promote and refusing failovers for good */
	if (!(m->flags & CL_SF_FAILOVER))
		g.peer.transition = false;
	if (m->role == CL_ROLE_PRIMARY) {
		g.peer.transition = false;
		if (!was_primary)
			qb_log(LOG_NOTICE, "cluster: %s is primary", m->name);
		if (g.fo == FO_HANDED && strcmp(g.fo_target, m->name) == 0)
			fo_finish("ok");
	}
}

static void on_conns(struct cl_msg *m)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i < m->nconns; i++)
		if (cl_conn_tickle_ok(&m->conns[i], g.fip, 0))    /* any port: portals may listen on a wildcard */
			m->conns[n++] = m->conns[i];
	if (n < m->nconns)
		qb_log(LOG_WARNING, "cluster: %s announced %u client connection(s) not on the floating address %s: ignored",
		       m->name, m->nconns - n, g.cfg.floating_addr);
	free(g.peer.conns);
	g.peer.conns = m->conns;
	g.peer.nconns = n;
	m->conns = NULL;
	qb_log(LOG_DEBUG, "cluster: %s announced %u client connection(s)", m->name, g.peer.nconns);
}

static void on_handover(const struct cl_msg *m)
{
	char text[160];
	if (strcmp(m->target, g.cfg.node) != 0)
		return;
	g.fo = FO_TAKING;
	g.fo_started = now_ms();
	snprintf(g.fo_target, sizeof(g.fo_target), "%s", g.cfg.node);
	if (g.disk != CL_DISK_UPTODATE || !g.quorate || do_promote("planned failover") < 0) {
		snprintf(text, sizeof(text), "%.150s", g.last_error[0] ? g.last_error : "not UpToDate or no quorum");
		/* the answer names the attempt (the HANDOVER's epoch): a late one
		 * must not abort the old primary's next failover */
		send_ctl_epoch(CL_MSG_HANDOVER_FAILED, m->name, 0, text, m->epoch);
		fo_finish("failed: could not promote");
		return;
	}
	fo_finish("ok");
}

static void deliver_cb(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid, void *msg,
		       size_t len)
{
	struct cl_msg m;
	char why[128];

	if (nodeid == g.nodeid && pid == (uint32_t)getpid())
		return;
	if (cl_msg_decode(msg, len, &m, why, sizeof(why)) < 0) {
		qb_log(LOG_WARNING, "cluster: dropping a message from node %u: %s", nodeid, why);
		return;
	}
	if (strcmp(m.name, g.cfg.node) == 0) {
		qb_log(LOG_ERR, "cluster: node %u announces my own name '%s': check cluster { node: }", nodeid, m.name);
		cl_msg_clear(&m);
		return;
	}
	g.peer.nodeid = nodeid;
	g.peer.pid = pid;
	switch (m.type) {
	case CL_MSG_STATE:
		on_state(&m);
		break;
	case CL_MSG_CONNS:
		on_conns(&m);
		break;
	case CL_MSG_TRANSITION:
		g.peer.transition = m.on != 0;
		apply_alua();
		break;
	case CL_MSG_HANDOVER:
		on_handover(&m);
		break;
	case CL_MSG_FAILOVER_REQUEST:
		if (my_role() == CL_ROLE_PRIMARY && g.fo == FO_IDLE) {
			char err[256];
			if (start_failover(m.target, err, sizeof(err)) < 0) {
				qb_log(LOG_WARNING, "cluster: failover requested by %s refused: %s", m.name, err);
				send_ctl(CL_MSG_HANDOVER_FAILED, m.name, 0, err);
			}
		}
		break;
	case CL_MSG_OUTDATE_REQUEST:
		if (strcmp(m.target, g.cfg.node) == 0)
			on_outdate_request(&m);
		break;
	case CL_MSG_OUTDATE_ANSWER:
		on_outdate_answer(&m);
		break;
	case CL_MSG_HANDOVER_FAILED:
		if (strcmp(m.target, g.cfg.node) == 0) {
			qb_log(LOG_ERR, "cluster: %s: failover failed: %s", m.name, m.text);
			snprintf(g.fo_last, sizeof(g.fo_last), "failed: %s", m.text);
			g.fo_seq++;
			if (g.fo == FO_HANDED && m.epoch == g.epoch) {
				send_ctl(CL_MSG_TRANSITION, g.fo_target, 0, "aborted");
				fo_finish(g.fo_last);
				do_promote("failover failed on the target");
			}
		}
		break;
	}
	cl_msg_clear(&m);
	evaluate();
}

static void peer_left(const char *why)
{
	/* A node that announced its clean exit (LEAVING) after demoting is no
	 * candidate; one still Primary (its demotion failed: writes stuck in its
	 * disk) is one whatever it announced, and must be proven dead first */
	bool cand = !g.peer.known || g.peer.st.role == CL_ROLE_PRIMARY ||
		    (g.peer.st.disk == CL_DISK_UPTODATE && !(g.peer.st.flags & CL_SF_STANDBY) &&
		     !(g.peer.st.flags & CL_SF_LEAVING));
	qb_log(LOG_WARNING, "cluster: %s left (%s)%s", g.peer.name[0] ? g.peer.name : "peer", why,
	       cand ? ": it could be primary; it must be proven dead before a takeover" : "");
	g.peer.left_behind = g.peer.known && leaving_behind(&g.peer.st);
	g.peer.left_clean = g.peer.known && leaving_clean(&g.peer.st);
	g.peer.member = g.peer.known = g.peer.transition = false;
	g.peer.lost = cand;
	g.peer.lost_ms = g.peer.node_down ? now_ms() : 0;
	/* a fence already running (or done) for this peer stays valid */
	if (g.fence == CL_FENCE_FAILED)
		g.fence = CL_FENCE_IDLE;
	g.rf.asked_ms = 0;              /* it cannot answer any more */
	g.rf.refused = false;
	od_last.ok = false;             /* its next incarnation numbers from 1 */
	if (g.fo == FO_HANDED || g.fo == FO_DRAINING) {
		send_ctl(CL_MSG_TRANSITION, g.fo_target, 0, "aborted");
		fo_finish("failed: the target left");
	}
}

static void confchg_cb(cpg_handle_t h, const struct cpg_name *group, const struct cpg_address *members, size_t nm,
		       const struct cpg_address *left, size_t nl, const struct cpg_address *joined, size_t nj)
{
	bool peer_now = false;
	for (size_t i = 0; i < nm; i++)
		if (members[i].nodeid != g.nodeid) {
			peer_now = true;
			g.peer.nodeid = members[i].nodeid;
			g.peer.pid = members[i].pid;
		}
	if (g.peer.member && !peer_now) {
		g.peer.node_down = true;
		for (size_t i = 0; i < nl; i++)
			if (left[i].nodeid != g.nodeid &&
			    (left[i].reason == CPG_REASON_LEAVE || left[i].reason == CPG_REASON_PROCDOWN))
				g.peer.node_down = false;
	}
	if (g.peer.member && !peer_now)
		peer_left(left && nl ? (left[0].reason == CPG_REASON_LEAVE ? "left the group" :
					left[0].reason == CPG_REASON_PROCDOWN ? "process down" : "node down") : "gone");
	if (!g.peer.member && peer_now) {
		qb_log(LOG_NOTICE, "cluster: peer (node %u) joined", g.peer.nodeid);
		g.peer.member = true;
		g.peer.node_down = false;
		g.peer.ever_seen = true;
		g.peer.seen_since_connect = true;
		g.peer.known = false;
		g.peer.lost = false;
		g.peer.left_behind = g.peer.left_clean = false;     /* asked again if it matters */
		g.peer.lost_ms = 0;
		if (g.fence != CL_FENCE_RUNNING)
			g.fence = CL_FENCE_IDLE;
		g.rf.asked_ms = 0;      /* a new incarnation: ask it again */
		g.rf.refused = false;
	}
	if (nj) {
		announce();
		if (g.holds_ip)
			send_conns();
	}
	evaluate();
}

/* ---- votequorum ---------------------------------------------------------------- */

static void quorum_refresh(void)
{
	struct votequorum_info info;
	if (votequorum_getinfo(g.vq, g.nodeid, &info) == CS_OK) {
		g.two_node = (info.flags & VOTEQUORUM_INFO_TWONODE) != 0;
		g.qdevice_vote = (info.flags & VOTEQUORUM_INFO_QDEVICE_CAST_VOTE) != 0;
	}
}

static void quorum_cb(votequorum_handle_t h, uint64_t ctx, uint32_t quorate, uint32_t n, votequorum_node_t nodes[])
{
	uint32_t members = 0;
	for (uint32_t i = 0; i < n; i++)
		members += nodes[i].state == VOTEQUORUM_NODESTATE_MEMBER;
	if ((bool)quorate != g.quorate)
		qb_log(quorate ? LOG_NOTICE : LOG_WARNING, "cluster: %s (%u node(s) in the membership)",
		       quorate ? "quorate" : "quorum lost", members);
	g.quorate = quorate != 0;
	g.quorum_members = members;
	quorum_refresh();
	evaluate();
}

/* ---- corosync connection ---------------------------------------------------------- */

static int32_t cpg_fd_cb(int32_t fd, int32_t revents, void *data)
{
	cs_error_t rc = cpg_dispatch(g.cpg, CS_DISPATCH_ALL);
	if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN)
		corosync_down("CPG dispatch failed");
	return 0;
}

static int32_t vq_fd_cb(int32_t fd, int32_t revents, void *data)
{
	cs_error_t rc = votequorum_dispatch(g.vq, CS_DISPATCH_ALL);
	if (rc != CS_OK && rc != CS_ERR_TRY_AGAIN)
		corosync_down("votequorum dispatch failed");
	return 0;
}

static void corosync_retry(void *data);

/* Let go of the CPG and votequorum handles (either may be unset). */
static void corosync_release(void)
{
	if (g.cpg)
		cpg_finalize(g.cpg);
	if (g.vq)
		votequorum_finalize(g.vq);
	g.cpg = 0;
	g.vq = 0;
	g.cpg_fd = g.vq_fd = -1;
}

static void corosync_down(const char *why)
{
	if (g.cpg_fd >= 0)
		qb_loop_poll_del(g.loop, g.cpg_fd);
	if (g.vq_fd >= 0)
		qb_loop_poll_del(g.loop, g.vq_fd);
	corosync_release();
	if (g.up)
		qb_log(LOG_ERR, "cluster: lost corosync (%s): retrying every %d ms", why, g.cfg.reconnect_ms);
	g.up = false;
	g.quorate = false;
	if (g.peer.member)
		peer_left("corosync connection lost");
	evaluate();
	timer_set(&g.retry_timer, (uint64_t)g.cfg.reconnect_ms, corosync_retry);
}

static int corosync_connect(char *err, size_t errlen)
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

	rc = cpg_model_initialize(&g.cpg, CPG_MODEL_V1, (cpg_model_data_t *)&model, NULL);
	if (rc != CS_OK) {
		snprintf(err, errlen, "cpg_model_initialize: corosync error %d", rc);
		g.cpg = 0;
		return -1;
	}
	rc = votequorum_initialize(&g.vq, &vcb);
	if (rc != CS_OK) {
		snprintf(err, errlen, "votequorum_initialize: corosync error %d", rc);
		g.vq = 0;
		goto fail;
	}
	if (cpg_local_get(g.cpg, &g.nodeid) != CS_OK) {
		snprintf(err, errlen, "cpg_local_get failed");
		goto fail;
	}
	memset(&name, 0, sizeof(name));
	name.length = (uint32_t)strlen(g.cfg.cpg_group);
	memcpy(name.value, g.cfg.cpg_group, name.length);
	do {
		rc = cpg_join(g.cpg, &name);
	} while (rc == CS_ERR_TRY_AGAIN && ++tries < 20);
	if (rc != CS_OK) {
		snprintf(err, errlen, "cpg_join %s: corosync error %d", g.cfg.cpg_group, rc);
		goto fail;
	}
	if (cpg_fd_get(g.cpg, &g.cpg_fd) != CS_OK || votequorum_fd_get(g.vq, &g.vq_fd) != CS_OK) {
		snprintf(err, errlen, "cannot get the corosync file descriptors");
		goto fail;
	}
	if (votequorum_trackstart(g.vq, 0, CS_TRACK_CURRENT | CS_TRACK_CHANGES) != CS_OK) {
		snprintf(err, errlen, "votequorum_trackstart failed");
		goto fail;
	}
	qb_loop_poll_add(g.loop, QB_LOOP_HIGH, g.cpg_fd, POLLIN, NULL, cpg_fd_cb);
	qb_loop_poll_add(g.loop, QB_LOOP_HIGH, g.vq_fd, POLLIN, NULL, vq_fd_cb);
	g.up = true;
	g.connected_ms = now_ms();
	g.peer.seen_since_connect = false;
	quorum_refresh();
	qb_log(LOG_NOTICE, "cluster: joined CPG group %s as node %u (%s)", g.cfg.cpg_group, g.nodeid, g.cfg.node);
	return 0;
fail:
	corosync_release();
	return -1;
}

static void corosync_retry(void *data)
{
	char err[256];
	static char last[256];
	g.retry_timer = 0;
	if (g.up)
		return;
	if (corosync_connect(err, sizeof(err)) < 0) {
		if (strcmp(err, last) != 0)
			qb_log(LOG_WARNING, "cluster: corosync not reachable (%s): retrying every %d ms", err,
			       g.cfg.reconnect_ms);
		snprintf(last, sizeof(last), "%s", err);
		timer_set(&g.retry_timer, (uint64_t)g.cfg.reconnect_ms, corosync_retry);
		return;
	}
	last[0] = '\0';
	announce();
	evaluate();
}

/* ---- the decision loop ------------------------------------------------------------ */

static void delay_done(void *data)
{
	g.delay_timer = 0;
	evaluate();
}

static void fdelay_done(void *data)
{
	g.fdelay_timer = 0;
	evaluate();
}

/* A non-Primary whose peer's node vanished waits fence_delay_ms before it
 * fences: in a partition both nodes fence each other, and the Primary (no
 * delay) must win, or both die. */
static bool fence_delayed(enum cl_role role)
{
	uint64_t until, now = now_ms();

	if (role == CL_ROLE_PRIMARY || !g.peer.node_down || !g.peer.lost_ms || g.cfg.fence_delay_ms <= 0)
		return false;
	until = g.peer.lost_ms + (uint64_t)g.cfg.fence_delay_ms;
	if (now >= until)
		return false;
	if (!g.fdelay_timer)
		timer_set(&g.fdelay_timer, until - now + 1, fdelay_done);
	return true;
}

static void evaluate(void)
{
	struct cl_view v;
	struct cl_decision d;
	enum cl_role role;

	if (!g.on || g.leaving)
		return;
	role = my_role();
	if (g.cfg.manager == TCONF_CLUSTER_BUILTIN)
		repl_set_quorate(g.up && g.quorate);
	v = (struct cl_view){
		.manager = (enum cl_manager)g.cfg.manager,
		.fencing = (enum cl_fencing)g.cfg.fencing,
		.corosync_up = g.up,
		.quorate = g.quorate,
		.qdevice_proof = g.quorate && g.qdevice_vote && !g.two_node && g.quorum_members == 1,
		.my_role = role,
		.my_disk = g.disk,
		.my_data_current = g.data_current,
		.my_standby = g.standby,
		.split_brain = g.split_brain,
		.failover_busy = g.fo != FO_IDLE || g.peer.transition,
		.peer_member = g.peer.member,
		.peer_known = g.peer.known,
		.peer_role = g.peer.st.role,
		.peer_disk = g.peer.st.disk,
		.peer_standby = (g.peer.st.flags & CL_SF_STANDBY) != 0,
		.peer_lost = g.peer.lost,
		.fence = g.fence,
		.lower_id = !g.peer.nodeid || g.nodeid < g.peer.nodeid,
		.peer_node_up = !g.peer.node_down && g.quorum_members >= 2,
		/* after the start, and after a corosync reconnect: the quorum
		 * answers at once, the peer's CPG membership comes later (until
		 * then a healthy peer looks vanished while its node is up) */
		.startup = !g.peer.seen_since_connect && now_ms() < g.connected_ms + STARTUP_GRACE_MS(),
		.fence_delay = fence_delayed(role),
	};
	d = cl_decide(&v);
	if (d.action != g.last.action || d.reason != g.last.reason)
		qb_log(d.action == CL_ACT_WAIT || d.action == CL_ACT_NONE ? LOG_INFO : LOG_NOTICE,
		       "cluster: decision: %s (%s)", cl_action_name(d.action), d.reason);
	g.last = d;
	if (d.action != CL_ACT_PROMOTE)
		g.promote_since = 0;
	switch (d.action) {
	case CL_ACT_PROMOTE:
		if (now_ms() < g.promote_block_until)
			break;
		if (!g.promote_since)
			g.promote_since = now_ms();
		if (now_ms() - g.promote_since < (uint64_t)g.cfg.promote_delay_ms) {
			if (!g.delay_timer)
				timer_set(&g.delay_timer, (uint64_t)g.cfg.promote_delay_ms - (now_ms() - g.promote_since),
					  delay_done);
			break;
		}
		g.promote_since = 0;
		do_promote_ex(d.reason, !g.peer.member);
		break;
	case CL_ACT_DEMOTE:
		do_demote(d.reason);
		break;
	case CL_ACT_FENCE:
		start_fence();
		break;
	default:
		break;
	}
	rf_eval();
	/* converge the address with the role (e.g. `tandemctl primary/secondary` by hand) */
	if (g.cfg.manager == TCONF_CLUSTER_BUILTIN && g.fo == FO_IDLE) {
		role = my_role();
		/* not after a demotion that failed (writes stuck in the local
		 * disk): the manager wants this node out, the other may hold it */
		if (role == CL_ROLE_PRIMARY && !g.holds_ip && d.action != CL_ACT_DEMOTE)
			take_ip();
		else if (role != CL_ROLE_PRIMARY && g.holds_ip)
			release_ip();
	} else if (g.cfg.manager == TCONF_CLUSTER_PACEMAKER && g.fip) {
		/* pacemaker (IPaddr2 or the agent) moves the address: notice it,
		 * announce our client connections while we hold it, and tickle
		 * the old owner's clients once after a takeover (PORTALS.md) */
		bool have = cl_have_addr(g.fip);

		if (have && !g.holds_ip) {
			g.holds_ip = true;
			if (my_role() == CL_ROLE_PRIMARY)
				start_tickles();
			if (g.up)
				send_conns();
		} else if (!have && g.holds_ip) {
			g.holds_ip = false;
			g.tickle_left = 0;
		}
	}
	apply_alua();
}

static void tick(void *data)
{
	g.tick_timer = 0;
	refresh_repl();
	if (g.up)
		announce();
	evaluate();
	timer_set(&g.tick_timer, (uint64_t)g.cfg.announce_ms, tick);
}

static int32_t conns_fd_cb(int32_t fd, int32_t revents, void *data)
{
	if (cl_conns_consume() && g.holds_ip && g.up)
		send_conns();
	return 0;
}

static void eval_cb(void *data)
{
	g.eval_timer = 0;
	evaluate();
}

/* Called from inside repl_set_role: a demotion notifies before it drains its
 * writes. Deciding here would nest a role change in the running one (a
 * node shutting down as primary demoted, decided "both UpToDate: the lower
 * id promotes", promoted itself again and left holding the floating IP), so
 * the decision runs from the loop, once the role change returned. */
static void role_changed(enum repl_role role, void *arg)
{
	qb_log(LOG_INFO, "cluster: replication role is now %s", role == REPL_ROLE_PRIMARY ? "primary" : "secondary");
	if (!g.on || g.leaving)
		return;
	if (g.up)
		announce();
	apply_alua();
	timer_set(&g.eval_timer, 0, eval_cb);
}

/* ---- public ---------------------------------------------------------------------- */

bool cluster_enabled(void)
{
	return g.on;
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
	g.cfg = conf->cluster;
	g.conf = conf;
	g.loop = loop;
	g.local_role = CL_ROLE_SECONDARY;
	g.peer.lost = true;             /* never seen: must be proven dead before we promote alone */
	snprintf(g.peer.name, sizeof(g.peer.name), "%s", g.cfg.peer);
	snprintf(g.fo_last, sizeof(g.fo_last), "none");
	if (g.cfg.floating_addr[0] && inet_pton(AF_INET, g.cfg.floating_addr, &g.fip) != 1) {
		snprintf(err, errlen, "cluster: bad floating_ip '%s'", g.cfg.floating_ip);
		return -1;
	}
	if (scsi_alua_find_group(g.cfg.alua_group[0] ? g.cfg.alua_group : "1", &g.alua_id) == 0)
		g.have_alua = true;
	else if (g.cfg.alua_group[0]) {
		snprintf(err, errlen, "cluster: unknown ALUA group '%s'", g.cfg.alua_group);
		return -1;
	}
	/* the floating portal's port, for tickles */
	g.fport = htons(3260);
	for (size_t i = 0; i < conf->nportal_groups; i++)
		for (size_t j = 0; j < conf->portal_groups[i].nlisten; j++)
			if (strcmp(conf->portal_groups[i].listen[j].addr, g.cfg.floating_addr) == 0)
				g.fport = htons(conf->portal_groups[i].listen[j].port);
	if (g.fip && g.cfg.manager == TCONF_CLUSTER_PACEMAKER) {
		/* connections on the floating portal are tracked for tickles */
		g.conns_fd = cl_conns_init(g.fip);
		if (g.conns_fd >= 0)
			qb_loop_poll_add(loop, QB_LOOP_MED, g.conns_fd, POLLIN, NULL, conns_fd_cb);
	}
	if (g.fip && g.cfg.manager == TCONF_CLUSTER_BUILTIN) {
		if (stale_ip_remove(&g.cfg, g.fip, cerr, sizeof(cerr)) < 0) {
			qb_log(LOG_ERR, "cluster: %s", cerr);
			g.holds_ip = cl_have_addr(g.fip);       /* announced, and released again later */
		}
		else if (cerr[0])
			qb_log(LOG_WARNING, "cluster: %s at start (we start secondary)", cerr);
		g.conns_fd = cl_conns_init(g.fip);
		if (g.conns_fd >= 0)
			qb_loop_poll_add(loop, QB_LOOP_MED, g.conns_fd, POLLIN, NULL, conns_fd_cb);
	}
	repl_on_role_change(role_changed, NULL);
	g.rf.id = (uint32_t)time(NULL) << 8;    /* ids of an earlier incarnation do not match */
	if ((g.cfg.manager == TCONF_CLUSTER_BUILTIN || (under_pacemaker() && g.cfg.outdate_peer_command[0])) &&
	    repl_on()) {
		g.rf.fd = repl_set_fence_handler(rf_request, NULL);
		if (g.rf.fd >= 0)
			qb_loop_poll_add(loop, QB_LOOP_HIGH, g.rf.fd, POLLIN, NULL, rf_fd_cb);
	} else if (under_pacemaker() && repl_on()) {
		qb_log(LOG_WARNING, "cluster: manager pacemaker without outdate_peer_command: a primary that loses its "
		       "peer writes on alone at once, and the agent marks the peer outdated only at its next monitor "
		       "(docs/PACEMAKER.md)");
	}
	g.on = true;
	g.started = now_ms();
	refresh_repl();
	apply_alua();
	qb_log(LOG_NOTICE, "cluster: manager %s, node %s, floating IP %s on %s, fencing %s, replication %s",
	       g.cfg.manager == TCONF_CLUSTER_BUILTIN ? "builtin" : g.cfg.manager == TCONF_CLUSTER_PACEMAKER ? "pacemaker" : "none",
	       g.cfg.node, g.cfg.floating_ip[0] ? g.cfg.floating_ip : "-", g.cfg.interface[0] ? g.cfg.interface : "-",
	       g.cfg.fencing == TCONF_FENCING_QDEVICE ? "qdevice" : g.cfg.fencing == TCONF_FENCING_COMMAND ? "command" : "none",
	       repl_on() ? "on" : "off (data counts as UpToDate)");
	if (g.cfg.fencing == TCONF_FENCING_NONE && g.cfg.manager == TCONF_CLUSTER_BUILTIN)
		qb_log(LOG_WARNING, "cluster: fencing none: a network split makes two primaries (test setting)");
	if (corosync_connect(cerr, sizeof(cerr)) < 0) {
		qb_log(LOG_WARNING, "cluster: corosync not reachable (%s): retrying every %d ms", cerr, g.cfg.reconnect_ms);
		timer_set(&g.retry_timer, (uint64_t)g.cfg.reconnect_ms, corosync_retry);
	} else {
		announce();
	}
	timer_set(&g.tick_timer, (uint64_t)g.cfg.announce_ms, tick);
	evaluate();
	return 0;
}

void cluster_reload(const struct tconf *conf)
{
	if (!g.on && !conf->cluster.enabled)
		return;
	if (!g.on || memcmp(&g.cfg, &conf->cluster, sizeof(g.cfg)) != 0)
		qb_log(LOG_WARNING, "cluster: the cluster section changed: it takes effect at the next restart of tandemd");
	if (g.on)
		g.conf = conf;
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
	bool peer_primary = g.peer.member && g.peer.known && g.peer.st.role == CL_ROLE_PRIMARY &&
			    !(g.peer.st.flags & CL_SF_LEAVING);

	if (!repl_on() || my_role() == CL_ROLE_PRIMARY || !peer_primary)
		return;
	refresh_repl();
	if (g.disk != CL_DISK_UPTODATE)
		return;         /* not current anyway, and its STATE says so */
	if (repl_outdate_self(err, sizeof(err)) == 0)
		qb_log(LOG_NOTICE, "cluster: leaving while %s is primary: this node's disks are Outdated", g.peer.name);
	else
		qb_log(LOG_ERR, "cluster: leaving while %s is primary: cannot mark this node's disks Outdated (%s); "
		       "the primary has to fence this node before it writes on", g.peer.name, err);
	refresh_repl();
}

void cluster_shutdown(void)
{
	char err[256];
	if (!g.on)
		return;
	g.leaving = true;
	if (my_role() == CL_ROLE_PRIMARY && g.cfg.manager == TCONF_CLUSTER_BUILTIN) {
		qb_log(LOG_NOTICE, "cluster: shutting down as primary: releasing the floating IP");
		if (g.have_alua)
			scsi_alua_set_state(g.alua_id, SCSI_ALUA_STANDBY);
		release_ip();
		if (set_role(CL_ROLE_SECONDARY, err, sizeof(err)) < 0)
			qb_log(LOG_ERR, "cluster: replication refused the demotion: %s", err);
	}
	if (g.up) {
		leave_outdated();
		struct cl_msg m = { .type = CL_MSG_STATE, .role = my_role(), .disk = g.disk, .peer_disk = g.peer_disk_repl,
				    .flags = CL_SF_LEAVING | (g.standby ? CL_SF_STANDBY : 0) };
		send_msg(&m);
	}
	g.on = false;
	if (g.fence_pid > 0) {
		fence_kill();
		waitpid(g.fence_pid, NULL, 0);
		g.fence_pid = 0;
	}
	timer_clear(&g.retry_timer);
	timer_clear(&g.tick_timer);
	timer_clear(&g.fence_timer);
	timer_clear(&g.arp_timer);
	timer_clear(&g.tickle_timer);
	timer_clear(&g.fo_timer);
	timer_clear(&g.delay_timer);
	timer_clear(&g.fdelay_timer);
	timer_clear(&g.rf_timer);
	timer_clear(&g.eval_timer);
	if (g.rf.fd >= 0) {
		qb_loop_poll_del(g.loop, g.rf.fd);
		repl_set_fence_handler(NULL, NULL);
		g.rf.fd = -1;
	}
	if (g.conns_fd >= 0) {
		qb_loop_poll_del(g.loop, g.conns_fd);
		cl_conns_fini();
		g.conns_fd = -1;
	}
	if (g.cpg) {
		struct cpg_name name = { .length = (uint32_t)strlen(g.cfg.cpg_group) };
		memcpy(name.value, g.cfg.cpg_group, name.length);
		cpg_leave(g.cpg, &name);
	}
	g.up = false;   /* so corosync_down does not log a loss */
	corosync_down("shutdown");
	timer_clear(&g.retry_timer);
	free(g.peer.conns);
	free(g.tickles);
	g.peer.conns = NULL;
	g.tickles = NULL;
}

int cluster_failover(const char *node, char *err, size_t errlen)
{
	const char *target = node && *node ? node : NULL;
	bool primary = my_role() == CL_ROLE_PRIMARY;

	if (!g.on) {
		snprintf(err, errlen, "cluster manager not configured");
		return -1;
	}
	if (g.cfg.manager != TCONF_CLUSTER_BUILTIN) {
		snprintf(err, errlen, "manager is not builtin: use pacemaker (crm_resource --move) or tandemctl primary/secondary");
		return -1;
	}
	if (g.fo != FO_IDLE || g.peer.transition) {
		snprintf(err, errlen, "a failover is already in progress");
		return -1;
	}
	if (!target)
		target = primary ? (g.peer.name[0] ? g.peer.name : "") : g.cfg.node;
	if (!*target) {
		snprintf(err, errlen, "the peer is not known yet");
		return -1;
	}
	if (strcmp(target, g.cfg.node) == 0) {
		if (primary) {
			snprintf(err, errlen, "%s is already primary", target);
			return -1;
		}
		if (!g.peer.member || !g.peer.known || g.peer.st.role != CL_ROLE_PRIMARY) {
			snprintf(err, errlen, "no primary in the membership to take over from (the manager promotes by itself)");
			return -1;
		}
		if (g.standby) {
			snprintf(err, errlen, "%s is in standby (tandemctl unstandby first)", target);
			return -1;
		}
		g.fo_started = now_ms();
		snprintf(g.fo_last, sizeof(g.fo_last), "requested");
		send_ctl(CL_MSG_FAILOVER_REQUEST, target, 1, "");
		return 0;
	}
	if (!g.peer.name[0] || strcmp(target, g.peer.name) != 0) {
		snprintf(err, errlen, "unknown node '%.64s' (nodes: %s, %s)", target, g.cfg.node,
			 g.peer.name[0] ? g.peer.name : "?");
		return -1;
	}
	if (!primary) {
		if (g.peer.known && g.peer.st.role == CL_ROLE_PRIMARY)
			snprintf(err, errlen, "%s is already primary", target);
		else
			snprintf(err, errlen, "%s is not primary: nothing to fail over", g.cfg.node);
		return -1;
	}
	return start_failover(target, err, errlen);
}

int cluster_set_standby(bool on, char *err, size_t errlen)
{
	if (!g.on) {
		snprintf(err, errlen, "cluster manager not configured");
		return -1;
	}
	if (on && !g.standby && my_role() == CL_ROLE_PRIMARY && g.cfg.manager == TCONF_CLUSTER_BUILTIN) {
		if (g.fo != FO_IDLE) {
			snprintf(err, errlen, "a failover is in progress");
			return -1;
		}
		if (start_failover(g.peer.name, err, errlen) < 0)
			return -1;
	}
	if (g.standby != on)
		qb_log(LOG_NOTICE, "cluster: %s %s standby", g.cfg.node, on ? "enters" : "leaves");
	g.standby = on;
	if (g.up)
		announce();
	evaluate();
	return 0;
}

static void node_json(struct json_writer *w, bool self)
{
	json_obj_begin(w, NULL);
	if (self) {
		json_str(w, "name", g.cfg.node);
		json_uint(w, "nodeid", g.nodeid);
		json_bool(w, "member", g.up);
		json_bool(w, "self", true);
		json_str(w, "role", cl_role_name(my_role()));
		json_str(w, "disk", cl_disk_name(g.disk));
		json_str(w, "peer_disk", cl_disk_name(g.peer_disk_repl));
		json_bool(w, "in_sync", g.in_sync);
		json_bool(w, "data_current", g.data_current);
		json_bool(w, "standby", g.standby);
		json_bool(w, "split_brain", g.split_brain);
		json_bool(w, "holds_ip", g.holds_ip);
	} else {
		const struct cl_msg *s = &g.peer.st;
		bool k = g.peer.member && g.peer.known;
		json_str(w, "name", g.peer.name);
		json_uint(w, "nodeid", g.peer.nodeid);
		json_bool(w, "member", g.peer.member);
		json_bool(w, "self", false);
		json_str(w, "role", k ? cl_role_name(s->role) : "unknown");
		json_str(w, "disk", k ? cl_disk_name(s->disk) : "DUnknown");
		json_str(w, "peer_disk", k ? cl_disk_name(s->peer_disk) : "DUnknown");
		json_bool(w, "in_sync", k && (s->flags & CL_SF_IN_SYNC));
		json_bool(w, "standby", k && (s->flags & CL_SF_STANDBY));
		json_bool(w, "split_brain", k && (s->flags & CL_SF_SPLIT_BRAIN));
		json_bool(w, "holds_ip", k && (s->flags & CL_SF_HOLDS_IP));
	}
	char gen[24];
	snprintf(gen, sizeof(gen), "0x%016" PRIx64, self ? g.gen : g.peer.st.gen);
	json_str(w, "gen", gen);
	json_obj_end(w);
}

void cluster_status(struct json_writer *w)
{
	static const char *const mgr[] = { "builtin", "pacemaker", "none" };
	static const char *const fencing[] = { "qdevice", "command", "none" };
	static const char *const fence[] = { "idle", "running", "ok", "failed" };
	enum scsi_alua_state st;

	if (!g.on)
		return;
	refresh_repl();
	json_obj_begin(w, "cluster");
	json_str(w, "manager", mgr[g.cfg.manager]);
	json_str(w, "node", g.cfg.node);
	json_uint(w, "nodeid", g.nodeid);
	json_str(w, "cpg_group", g.cfg.cpg_group);
	json_str(w, "corosync", g.up ? "connected" : "disconnected");
	json_bool(w, "quorate", g.quorate);
	json_bool(w, "two_node", g.two_node);
	json_bool(w, "qdevice", g.qdevice_vote);
	json_str(w, "role", cl_role_name(my_role()));
	json_str(w, "floating_ip", g.cfg.floating_ip);
	json_str(w, "interface", g.cfg.interface);
	json_str(w, "ip_owner", g.holds_ip ? g.cfg.node :
		 (g.peer.member && g.peer.known && (g.peer.st.flags & CL_SF_HOLDS_IP)) ? g.peer.name : "");
	json_bool(w, "holds_ip", g.holds_ip);
	json_str(w, "alua_group", g.cfg.alua_group[0] ? g.cfg.alua_group : "default");
	json_str(w, "alua_state", g.have_alua && scsi_alua_get_state(g.alua_id, &st) == 0 ? scsi_alua_state_name(st) : "");
	json_str(w, "fencing", fencing[g.cfg.fencing]);
	json_str(w, "fence", fence[g.fence]);
	json_int(w, "fence_delay_ms", g.cfg.fence_delay_ms);
	json_bool(w, "writes_frozen", g.rf.want);
	json_obj_begin(w, "fence_request");
	json_bool(w, "open", g.rf.want);
	json_uint(w, "id", g.rf.id);
	json_str(w, "action", g.rf.want ? cl_fence_action_name(g.rf.last.action) : "none");
	json_str(w, "reason", g.rf.want && g.rf.last.reason ? g.rf.last.reason : "");
	json_uint(w, "frozen_ms", g.rf.want ? now_ms() - g.rf.since : 0);
	json_str(w, "last_result", g.rf.last_result);
	json_uint(w, "last_ms", g.rf.last_answer_ms);
	json_obj_end(w);
	json_bool(w, "peer_lost", g.peer.lost);
	json_bool(w, "standby", g.standby);
	json_bool(w, "split_brain", g.split_brain || (g.peer.known && (g.peer.st.flags & CL_SF_SPLIT_BRAIN)));
	json_str(w, "last_error", g.last_error);
	json_obj_begin(w, "decision");
	json_str(w, "action", cl_action_name(g.last.action));
	json_str(w, "reason", g.last.reason ? g.last.reason : "");
	json_obj_end(w);
	json_obj_begin(w, "failover");
	json_str(w, "state", g.fo == FO_IDLE && g.peer.transition ? "peer-transitioning" : fo_names[g.fo]);
	json_str(w, "target", g.fo_target);
	json_str(w, "last_result", g.fo_last);
	json_int(w, "last_ms", g.fo_last_ms);
	json_uint(w, "finished", g.fo_seq);
	json_obj_end(w);
	json_uint(w, "connections", cl_conns_snapshot(NULL, 0) + g.peer.nconns);
	json_arr_begin(w, "nodes");
	node_json(w, true);
	if (g.peer.member || g.peer.name[0])
		node_json(w, false);
	json_arr_end(w);
	json_obj_end(w);
}
