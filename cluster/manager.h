/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The built-in manager's one state and the functions its files share
 * (cluster/README.md says which file holds what). Internal to cluster/:
 * main.c sees cluster.h only. Everything here runs on the main thread. */
#ifndef TANDEM_CLUSTER_MANAGER_H
#define TANDEM_CLUSTER_MANAGER_H
#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <corosync/cpg.h>
#include <corosync/votequorum.h>

enum fo_state { FO_IDLE, FO_DRAINING, FO_HANDED, FO_TAKING };

struct cl_mgr {
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
};

extern struct cl_mgr g_cl;

/* the core (cluster.c): time, timers, the replication view, promote, the decision */
uint64_t cl_now_ms(void);
void cl_timer_set(qb_loop_timer_handle *h, uint64_t ms, void (*fn)(void *));
void cl_timer_clear(qb_loop_timer_handle *h);
bool cl_repl_on(void);
enum cl_role cl_my_role(void);
void cl_refresh_repl(void);
int cl_set_role(enum cl_role r, char *err, size_t errlen);
int cl_do_promote(const char *why);
void cl_evaluate(void);

/* ALUA, the floating IP, gratuitous ARPs, tickle ACKs (takeover.c) */
void cl_apply_alua(void);
void cl_start_tickles(void);
int cl_take_ip(void);
bool cl_release_ip(void);

/* the fence command and replication's fence requests (fence.c) */
bool cl_under_pacemaker(void);
void cl_fence_kill(void);
void cl_start_fence(void);
bool cl_leaving_clean(const struct cl_msg *m);
bool cl_leaving_behind(const struct cl_msg *m);
void cl_rf_eval(void);
void cl_rf_request(void *arg);
int32_t cl_rf_fd_cb(int32_t fd, int32_t revents, void *data);
void cl_on_outdate_request(const struct cl_msg *m);
void cl_on_outdate_answer(const struct cl_msg *m);
void cl_outdate_forget(void);

/* planned failover (failover.c) */
void cl_fo_finish(const char *result);
int cl_start_failover(const char *target, char *err, size_t errlen);
void cl_on_handover(const struct cl_msg *m);

/* corosync: messages, membership, quorum, the connection (corosync.c) */
int cl_send_msg(struct cl_msg *m);
void cl_announce(void);
void cl_send_conns(void);
void cl_send_ctl_epoch(enum cl_msg_type t, const char *target, uint8_t on, const char *text, uint32_t epoch);
void cl_send_ctl(enum cl_msg_type t, const char *target, uint8_t on, const char *text);
void cl_corosync_down(const char *why);
int cl_corosync_connect(char *err, size_t errlen);
void cl_corosync_retry(void *data);
#endif
