/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the built-in manager's role decision (cluster/decide.c):
 * one row per rule of docs/CLUSTER.md. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "cluster/cluster_int.h"

/* A healthy secondary with a healthy secondary peer of higher node id. */
static struct cl_view base(void)
{
	return (struct cl_view){
		.manager = CL_MGR_BUILTIN, .fencing = CL_FENCING_QDEVICE, .corosync_up = true, .quorate = true,
		.my_role = CL_ROLE_SECONDARY, .my_disk = CL_DISK_UPTODATE, .my_data_current = true,
		.peer_member = true, .peer_known = true,
		.peer_role = CL_ROLE_SECONDARY, .peer_disk = CL_DISK_UPTODATE, .lower_id = true, .peer_node_up = true,
	};
}

struct row {
	const char *name;
	void (*mod)(struct cl_view *v);
	enum cl_action want;
};

#define ROW(n, body, act) static void m_##n(struct cl_view *v) { body; }
ROW(tie_lower, (void)v, 0)
ROW(tie_higher, v->lower_id = false, 0)
ROW(not_uptodate, v->my_disk = CL_DISK_OUTDATED, 0)
ROW(inconsistent, v->my_disk = CL_DISK_INCONSISTENT; v->lower_id = true, 0)
ROW(no_quorum, v->quorate = false, 0)
ROW(no_corosync, v->corosync_up = false; v->quorate = false, 0)
ROW(peer_primary, v->peer_role = CL_ROLE_PRIMARY, 0)
ROW(peer_unknown, v->peer_known = false, 0)
ROW(peer_outdated, v->peer_disk = CL_DISK_OUTDATED; v->lower_id = false, 0)
ROW(peer_standby, v->peer_standby = true; v->lower_id = false, 0)
ROW(my_standby, v->my_standby = true, 0)
ROW(split_brain, v->split_brain = true, 0)
ROW(failover_busy, v->failover_busy = true, 0)
ROW(pacemaker, v->manager = CL_MGR_PACEMAKER, 0)
ROW(manager_none, v->manager = CL_MGR_NONE; v->my_role = CL_ROLE_PRIMARY; v->quorate = false, 0)
ROW(lost_qdevice_no_proof, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false, 0)
ROW(lost_qdevice_proof, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false; v->qdevice_proof = true, 0)
ROW(lost_fencing_none, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->fencing = CL_FENCING_NONE, 0)
ROW(lost_fence_idle, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->fencing = CL_FENCING_COMMAND, 0)
ROW(lost_fence_running, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->fencing = CL_FENCING_COMMAND; v->fence = CL_FENCE_RUNNING, 0)
ROW(lost_fence_ok, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->fencing = CL_FENCING_COMMAND; v->fence = CL_FENCE_OK, 0)
ROW(lost_fence_failed, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->fencing = CL_FENCING_COMMAND; v->fence = CL_FENCE_FAILED, 0)
ROW(lost_but_node_up, v->peer_member = false; v->peer_lost = true; v->peer_node_up = true, 0)
ROW(node_up_command, v->peer_member = false; v->peer_lost = true; v->peer_node_up = true;
    v->fencing = CL_FENCING_COMMAND, 0)
ROW(node_up_command_delay, v->peer_member = false; v->peer_lost = true; v->peer_node_up = true;
    v->fencing = CL_FENCING_COMMAND; v->fence_delay = true, 0)
ROW(node_up_fenced, v->peer_member = false; v->peer_lost = true; v->peer_node_up = true;
    v->fencing = CL_FENCING_COMMAND; v->fence = CL_FENCE_OK, 0)
ROW(node_up_none, v->peer_member = false; v->peer_lost = true; v->peer_node_up = true;
    v->fencing = CL_FENCING_NONE, 0)
ROW(node_up_qdevice_vote, v->peer_member = false; v->peer_lost = true; v->peer_node_up = true;
    v->qdevice_proof = true, 0)
ROW(lost_fence_delayed, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->fencing = CL_FENCING_COMMAND; v->fence_delay = true, 0)
ROW(lost_fence_delayed_ok, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->fencing = CL_FENCING_COMMAND; v->fence_delay = true; v->fence = CL_FENCE_OK, 0)
ROW(absent_clean, v->peer_member = false; v->peer_lost = false; v->peer_node_up = false, 0)
ROW(startup, v->peer_member = false; v->peer_lost = true; v->startup = true; v->fencing = CL_FENCING_NONE, 0)
ROW(lost_but_standby, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->fencing = CL_FENCING_NONE; v->my_standby = true, 0)
ROW(lost_but_outdated, v->peer_member = false; v->peer_lost = true; v->fencing = CL_FENCING_NONE;
    v->my_disk = CL_DISK_OUTDATED, 0)
ROW(lost_no_quorum, v->peer_member = false; v->peer_lost = true; v->fencing = CL_FENCING_NONE; v->quorate = false, 0)
ROW(lost_split_brain, v->peer_member = false; v->peer_lost = true; v->fencing = CL_FENCING_NONE;
    v->split_brain = true, 0)
/* not known current: started (or lost quorum) and not compared with the peer since */
ROW(stale_qdevice_proof, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->qdevice_proof = true; v->my_data_current = false, 0)
ROW(stale_fence_idle, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->fencing = CL_FENCING_COMMAND; v->my_data_current = false, 0)
ROW(stale_fence_ok, v->peer_member = false; v->peer_lost = true; v->peer_node_up = false;
    v->fencing = CL_FENCING_COMMAND; v->fence = CL_FENCE_OK; v->my_data_current = false, 0)
ROW(stale_node_up_command, v->peer_member = false; v->peer_lost = true; v->peer_node_up = true;
    v->fencing = CL_FENCING_COMMAND; v->my_data_current = false, 0)
ROW(stale_absent_clean, v->peer_member = false; v->peer_lost = false; v->peer_node_up = false;
    v->my_data_current = false, 0)
ROW(stale_fencing_none, v->peer_member = false; v->peer_lost = true; v->fencing = CL_FENCING_NONE;
    v->my_data_current = false, 0)
ROW(stale_peer_member, v->my_data_current = false, 0)
ROW(stale_peer_outdated, v->my_data_current = false; v->peer_disk = CL_DISK_OUTDATED; v->lower_id = false, 0)
ROW(stale_primary, v->my_role = CL_ROLE_PRIMARY; v->peer_member = false; v->peer_lost = true;
    v->my_data_current = false, 0)
ROW(prim_ok, v->my_role = CL_ROLE_PRIMARY, 0)
ROW(prim_no_quorum, v->my_role = CL_ROLE_PRIMARY; v->quorate = false, 0)
ROW(prim_no_corosync, v->my_role = CL_ROLE_PRIMARY; v->corosync_up = false, 0)
ROW(prim_two_lower, v->my_role = CL_ROLE_PRIMARY; v->peer_role = CL_ROLE_PRIMARY; v->lower_id = true, 0)
ROW(prim_two_higher, v->my_role = CL_ROLE_PRIMARY; v->peer_role = CL_ROLE_PRIMARY; v->lower_id = false, 0)
ROW(prim_two_in_failover, v->my_role = CL_ROLE_PRIMARY; v->peer_role = CL_ROLE_PRIMARY; v->lower_id = false;
    v->failover_busy = true, 0)
ROW(prim_standby, v->my_role = CL_ROLE_PRIMARY; v->my_standby = true, 0)
ROW(prim_split_brain, v->my_role = CL_ROLE_PRIMARY; v->split_brain = true, 0)
ROW(prim_peer_lost, v->my_role = CL_ROLE_PRIMARY; v->peer_member = false; v->peer_lost = true, 0)
ROW(prim_pacemaker_no_quorum, v->my_role = CL_ROLE_PRIMARY; v->manager = CL_MGR_PACEMAKER; v->quorate = false, 0)

static const struct row rows[] = {
	{ "both UpToDate, lower id promotes", m_tie_lower, CL_ACT_PROMOTE },
	{ "both UpToDate, higher id waits", m_tie_higher, CL_ACT_WAIT },
	{ "Outdated never promotes", m_not_uptodate, CL_ACT_WAIT },
	{ "Inconsistent never promotes", m_inconsistent, CL_ACT_WAIT },
	{ "no quorum: wait", m_no_quorum, CL_ACT_WAIT },
	{ "no corosync: wait", m_no_corosync, CL_ACT_WAIT },
	{ "peer primary: nothing", m_peer_primary, CL_ACT_NONE },
	{ "peer not announced yet: wait", m_peer_unknown, CL_ACT_WAIT },
	{ "peer Outdated: promote even with higher id", m_peer_outdated, CL_ACT_PROMOTE },
	{ "peer in standby: promote", m_peer_standby, CL_ACT_PROMOTE },
	{ "standby: never", m_my_standby, CL_ACT_NONE },
	{ "split brain: wait", m_split_brain, CL_ACT_WAIT },
	{ "failover running: wait", m_failover_busy, CL_ACT_WAIT },
	{ "pacemaker: no decision", m_pacemaker, CL_ACT_NONE },
	{ "manager none: no decision even without quorum", m_manager_none, CL_ACT_NONE },
	{ "lost peer, qdevice fencing, no proof: wait", m_lost_qdevice_no_proof, CL_ACT_WAIT },
	{ "lost peer, quorate with qdevice: promote", m_lost_qdevice_proof, CL_ACT_PROMOTE },
	{ "lost peer, fencing none: promote", m_lost_fencing_none, CL_ACT_PROMOTE },
	{ "lost peer, fence command not run: fence", m_lost_fence_idle, CL_ACT_FENCE },
	{ "lost peer, fence running: wait", m_lost_fence_running, CL_ACT_WAIT },
	{ "lost peer, fenced: promote", m_lost_fence_ok, CL_ACT_PROMOTE },
	{ "lost peer, fence failed: fence again", m_lost_fence_failed, CL_ACT_FENCE },
	{ "peer tandemd gone, its node up, qdevice: wait (no proof it released the IP)", m_lost_but_node_up, CL_ACT_WAIT },
	{ "peer tandemd gone, its node up, fence command: fence", m_node_up_command, CL_ACT_FENCE },
	{ "peer tandemd gone, its node up: no fence delay", m_node_up_command_delay, CL_ACT_FENCE },
	{ "peer tandemd gone, its node fenced: promote", m_node_up_fenced, CL_ACT_PROMOTE },
	{ "peer tandemd gone, fencing none: promote", m_node_up_none, CL_ACT_PROMOTE },
	{ "peer tandemd gone, node up, qdevice vote is no proof: wait", m_node_up_qdevice_vote, CL_ACT_WAIT },
	{ "lost peer, fence delay running: wait", m_lost_fence_delayed, CL_ACT_WAIT },
	{ "lost peer, already fenced during the delay: promote", m_lost_fence_delayed_ok, CL_ACT_PROMOTE },
	{ "peer left cleanly: promote", m_absent_clean, CL_ACT_PROMOTE },
	{ "startup grace: wait for the peer", m_startup, CL_ACT_WAIT },
	{ "lost peer but standby: nothing", m_lost_but_standby, CL_ACT_NONE },
	{ "lost peer but Outdated: wait", m_lost_but_outdated, CL_ACT_WAIT },
	{ "lost peer without quorum: wait", m_lost_no_quorum, CL_ACT_WAIT },
	{ "lost peer with split brain: wait", m_lost_split_brain, CL_ACT_WAIT },
	{ "peer absent, data not current, qdevice proof: wait", m_stale_qdevice_proof, CL_ACT_WAIT },
	{ "peer absent, data not current: no fencing either", m_stale_fence_idle, CL_ACT_WAIT },
	{ "peer absent and fenced, data not current: wait", m_stale_fence_ok, CL_ACT_WAIT },
	{ "peer tandemd gone, data not current: no fencing", m_stale_node_up_command, CL_ACT_WAIT },
	{ "peer left cleanly, data not current: wait", m_stale_absent_clean, CL_ACT_WAIT },
	{ "peer lost, fencing none, data not current: wait", m_stale_fencing_none, CL_ACT_WAIT },
	{ "peer member, data not current: promote (replication compares first)", m_stale_peer_member, CL_ACT_PROMOTE },
	{ "peer Outdated member, data not current: promote (replication compares first)", m_stale_peer_outdated,
	  CL_ACT_PROMOTE },
	{ "primary with data not current stays", m_stale_primary, CL_ACT_NONE },
	{ "primary stays", m_prim_ok, CL_ACT_NONE },
	{ "primary without quorum demotes", m_prim_no_quorum, CL_ACT_DEMOTE },
	{ "primary without corosync demotes", m_prim_no_corosync, CL_ACT_DEMOTE },
	{ "two primaries: lower id stays", m_prim_two_lower, CL_ACT_NONE },
	{ "two primaries: higher id demotes", m_prim_two_higher, CL_ACT_DEMOTE },
	{ "two primaries during a handover: no demotion", m_prim_two_in_failover, CL_ACT_NONE },
	{ "primary in standby: no demotion by decision (handover does it)", m_prim_standby, CL_ACT_NONE },
	{ "primary with split brain stays", m_prim_split_brain, CL_ACT_NONE },
	{ "primary with lost peer stays", m_prim_peer_lost, CL_ACT_NONE },
	{ "pacemaker primary without quorum: no decision", m_prim_pacemaker_no_quorum, CL_ACT_NONE },
};

START_TEST(test_table)
{
	const struct row *r = &rows[_i];
	struct cl_view v = base();
	r->mod(&v);
	struct cl_decision d = cl_decide(&v);
	ck_assert_msg(d.action == r->want, "%s: got %s (%s), want %s", r->name, cl_action_name(d.action), d.reason,
		      cl_action_name(r->want));
	ck_assert_ptr_nonnull(d.reason);
	ck_assert_int_gt((int)strlen(d.reason), 0);
}
END_TEST

/* Whatever the inputs: never promote without quorum, never while not
 * UpToDate, in standby or split brain; a primary without quorum always demotes. */
START_TEST(test_invariants)
{
	for (unsigned bits = 0; bits < (1u << 14); bits++) {
		struct cl_view v = base();
		v.quorate = bits & 1;
		v.corosync_up = bits & 2;
		v.my_disk = (bits & 4) ? CL_DISK_UPTODATE : CL_DISK_OUTDATED;
		v.my_standby = bits & 8;
		v.split_brain = bits & 16;
		v.peer_member = bits & 32;
		v.peer_known = bits & 64;
		v.peer_role = (bits & 128) ? CL_ROLE_PRIMARY : CL_ROLE_SECONDARY;
		v.peer_lost = bits & 256;
		v.fencing = (enum cl_fencing)((bits >> 9) % 3);
		v.my_role = (bits & 2048) ? CL_ROLE_PRIMARY : CL_ROLE_SECONDARY;
		v.lower_id = bits & 4096;
		v.peer_node_up = bits & 8192;
		struct cl_decision d = cl_decide(&v);
		if (d.action == CL_ACT_PROMOTE) {
			ck_assert(v.quorate && v.corosync_up);
			ck_assert(v.my_disk == CL_DISK_UPTODATE && !v.my_standby && !v.split_brain);
			ck_assert(!(v.peer_member && v.peer_known && v.peer_role == CL_ROLE_PRIMARY));
			/* a vanished peer (node gone or only its tandemd) is proven dead first */
			ck_assert(v.peer_member || !v.peer_lost || v.fencing == CL_FENCING_NONE ||
				  (v.qdevice_proof && !v.peer_node_up));
		}
		if (v.my_role == CL_ROLE_PRIMARY && (!v.quorate || !v.corosync_up))
			ck_assert_int_eq(d.action, CL_ACT_DEMOTE);
	}
}
END_TEST

/* ---- the Primary's fence requests (cl_decide_fence) ---- */

static struct cl_fence_view fbase(void)
{
	return (struct cl_fence_view){ .fencing = CL_FENCING_COMMAND, .quorate = true, .peer_member = true,
				       .peer_node_up = true };
}

struct frow {
	const char *name;
	void (*mod)(struct cl_fence_view *v);
	enum cl_fence_action want;
};

#define FROW(n, body) static void f_##n(struct cl_fence_view *v) { body; }
FROW(member_ask, (void)v)
FROW(member_asked, v->asked = true)
FROW(member_outdated, v->asked = true; v->peer_outdated = true)
FROW(member_refused, v->asked = true; v->peer_refused = true)
FROW(member_expired, v->asked = true; v->ask_expired = true)
FROW(member_expired_running, v->asked = true; v->ask_expired = true; v->fence = CL_FENCE_RUNNING)
FROW(member_expired_qdevice, v->asked = true; v->ask_expired = true; v->fencing = CL_FENCING_QDEVICE)
FROW(member_expired_no_quorum, v->asked = true; v->ask_expired = true; v->quorate = false)
FROW(refused_expired_primary, v->asked = true; v->peer_refused = true; v->ask_expired = true; v->peer_primary = true)
FROW(refused_expired_command, v->asked = true; v->peer_refused = true; v->ask_expired = true)
FROW(refused_expired_qdevice, v->asked = true; v->peer_refused = true; v->ask_expired = true;
     v->fencing = CL_FENCING_QDEVICE)
FROW(gone_node_up, v->peer_member = false)
FROW(gone_node_down, v->peer_member = false; v->peer_node_up = false)
FROW(gone_running, v->peer_member = false; v->peer_node_up = false; v->fence = CL_FENCE_RUNNING)
FROW(gone_fenced, v->peer_member = false; v->peer_node_up = false; v->fence = CL_FENCE_OK)
FROW(gone_failed, v->peer_member = false; v->peer_node_up = false; v->fence = CL_FENCE_FAILED)
FROW(gone_qdevice_proof, v->peer_member = false; v->peer_node_up = false; v->fencing = CL_FENCING_QDEVICE;
     v->qdevice_proof = true)
FROW(gone_qdevice_no_proof, v->peer_member = false; v->peer_node_up = false; v->fencing = CL_FENCING_QDEVICE)
FROW(gone_qdevice_node_up, v->peer_member = false; v->fencing = CL_FENCING_QDEVICE; v->qdevice_proof = true)
FROW(gone_no_quorum, v->peer_member = false; v->peer_node_up = false; v->quorate = false)
FROW(none_member, v->fencing = CL_FENCING_NONE)
FROW(none_gone, v->fencing = CL_FENCING_NONE; v->peer_member = false; v->quorate = false)
FROW(outdated_then_left, v->peer_member = false; v->peer_node_up = false; v->peer_outdated = true)
FROW(fenced_member, v->fence = CL_FENCE_OK)
FROW(left_clean_node_up, v->peer_member = false; v->peer_left_clean = true)
FROW(left_clean_qdevice, v->peer_member = false; v->fencing = CL_FENCING_QDEVICE; v->peer_left_clean = true)

static const struct frow frows[] = {
	{ "peer reachable: ask it to outdate itself", f_member_ask, CL_FA_ASK },
	{ "asked: wait for the answer", f_member_asked, CL_FA_WAIT },
	{ "peer answered Outdated: release", f_member_outdated, CL_FA_OUTDATED },
	{ "peer refused: stay frozen, ask again later", f_member_refused, CL_FA_WAIT },
	{ "peer does not answer: fence it", f_member_expired, CL_FA_FENCE },
	{ "peer does not answer, fence running: wait", f_member_expired_running, CL_FA_WAIT },
	/* before: WAIT for ever (an answer lost in a busy corosync froze the writes for good) */
	{ "peer does not answer, qdevice: ask again", f_member_expired_qdevice, CL_FA_ASK },
	{ "peer does not answer, no quorum: ask again, no fence", f_member_expired_no_quorum, CL_FA_ASK },
	{ "peer refused as primary, time passed: ask again (tie-break)", f_refused_expired_primary, CL_FA_ASK },
	{ "peer refused (metadata), fence command: fence it", f_refused_expired_command, CL_FA_FENCE },
	{ "peer refused (metadata), qdevice: ask again", f_refused_expired_qdevice, CL_FA_ASK },
	{ "peer tandemd gone, node up: fence (no proof otherwise)", f_gone_node_up, CL_FA_FENCE },
	{ "peer node gone: fence at once (the primary has no delay)", f_gone_node_down, CL_FA_FENCE },
	{ "fence running: wait", f_gone_running, CL_FA_WAIT },
	{ "fenced: peer dead, release", f_gone_fenced, CL_FA_DEAD },
	{ "fence failed: again", f_gone_failed, CL_FA_FENCE },
	{ "qdevice proof: peer dead", f_gone_qdevice_proof, CL_FA_DEAD },
	{ "qdevice without proof: wait", f_gone_qdevice_no_proof, CL_FA_WAIT },
	{ "qdevice vote but the peer's node is up: wait", f_gone_qdevice_node_up, CL_FA_WAIT },
	{ "no quorum: stay frozen (the demotion fails the writes)", f_gone_no_quorum, CL_FA_WAIT },
	{ "fencing none: at once", f_none_member, CL_FA_DEAD },
	{ "fencing none even without quorum: at once", f_none_gone, CL_FA_DEAD },
	{ "Outdated answer counts after it left", f_outdated_then_left, CL_FA_OUTDATED },
	{ "fenced while a member: dead", f_fenced_member, CL_FA_DEAD },
	/* before: fenced (command) or frozen (qdevice) after a clean stop of its tandemd */
	{ "left cleanly, node up (built-in): release", f_left_clean_node_up, CL_FA_OUTDATED },
	{ "left cleanly, qdevice, node up (built-in): release", f_left_clean_qdevice, CL_FA_OUTDATED },
};

START_TEST(test_fence_table)
{
	const struct frow *r = &frows[_i];
	struct cl_fence_view v = fbase();
	r->mod(&v);
	struct cl_fence_decision d = cl_decide_fence(&v);
	ck_assert_msg(d.action == r->want, "%s: got %s (%s), want %s", r->name, cl_fence_action_name(d.action),
		      d.reason, cl_fence_action_name(r->want));
	ck_assert_ptr_nonnull(d.reason);
}
END_TEST

/* The release reason names what happened: a fence under the built-in
 * manager, pacemaker's outdate-peer command under pacemaker (the same state). */
START_TEST(test_fence_reason_names_the_command)
{
	struct cl_fence_view v = fbase();
	v.peer_member = false;
	v.peer_node_up = false;
	v.fence = CL_FENCE_OK;
	struct cl_fence_decision d = cl_decide_fence(&v);
	ck_assert_int_eq(d.action, CL_FA_DEAD);
	ck_assert_str_eq(d.reason, "the peer was fenced");
	v.pacemaker = true;
	d = cl_decide_fence(&v);
	ck_assert_int_eq(d.action, CL_FA_DEAD);
	ck_assert_str_eq(d.reason, "the outdate-peer command marked the peer outdated");
}
END_TEST

/* The writes are released only with an Outdated answer, a successful fence,
 * a qdevice proof for a departed node, or fencing none. */
START_TEST(test_fence_invariants)
{
	for (unsigned bits = 0; bits < (1u << 12); bits++) {
		struct cl_fence_view v = {
			.fencing = (enum cl_fencing)(bits % 3), .quorate = bits & 4, .qdevice_proof = bits & 8,
			.peer_member = bits & 16, .peer_node_up = bits & 32, .peer_outdated = bits & 64,
			.peer_refused = bits & 128, .asked = bits & 256, .ask_expired = bits & 512,
			.fence = (bits & 1024) ? CL_FENCE_OK : CL_FENCE_IDLE, .peer_left_clean = bits & 2048,
		};
		struct cl_fence_decision d = cl_decide_fence(&v);
		if (d.action == CL_FA_OUTDATED)
			ck_assert(v.peer_outdated || v.peer_left_clean);
		if (d.action == CL_FA_DEAD)
			ck_assert(v.fencing == CL_FENCING_NONE || v.fence == CL_FENCE_OK ||
				  (v.qdevice_proof && !v.peer_node_up && !v.peer_member));
		if (d.action == CL_FA_FENCE)
			ck_assert(v.fencing == CL_FENCING_COMMAND && v.quorate);
		if (d.action == CL_FA_ASK)
			ck_assert(v.peer_member && (!v.asked || v.ask_expired));
		/* a member that is asked, and has not answered Outdated in time,
		 * is never left waiting for ever: asked again or fenced */
		if (v.peer_member && v.asked && v.ask_expired && !v.peer_outdated && !v.peer_left_clean &&
		    v.fencing != CL_FENCING_NONE && v.fence != CL_FENCE_OK)
			ck_assert(d.action == CL_FA_ASK || d.action == CL_FA_FENCE);
	}
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(cl_disk_name(CL_DISK_UPTODATE), "UpToDate");
	ck_assert_int_eq(cl_disk_from_name("UpToDate"), CL_DISK_UPTODATE);
	ck_assert_int_eq(cl_disk_from_name("inconsistent"), CL_DISK_INCONSISTENT);
	ck_assert_int_eq(cl_disk_from_name("bogus"), CL_DISK_DUNKNOWN);
	ck_assert_int_eq(cl_disk_from_name(NULL), CL_DISK_DUNKNOWN);
	ck_assert_str_eq(cl_disk_name((enum cl_disk)99), "DUnknown");
	ck_assert_str_eq(cl_role_name(CL_ROLE_PRIMARY), "primary");
	ck_assert_str_eq(cl_action_name(CL_ACT_FENCE), "fence");
	ck_assert_str_eq(cl_fence_action_name(CL_FA_ASK), "ask-outdate");
	ck_assert_str_eq(cl_fence_action_name((enum cl_fence_action)99), "?");
}
END_TEST

static Suite *decide_suite(void)
{
	Suite *s = suite_create("cluster_decide");
	TCase *tc = tcase_create("decide");
	tcase_add_loop_test(tc, test_table, 0, (int)(sizeof(rows) / sizeof(rows[0])));
	tcase_add_test(tc, test_invariants);
	tcase_add_loop_test(tc, test_fence_table, 0, (int)(sizeof(frows) / sizeof(frows[0])));
	tcase_add_test(tc, test_fence_invariants);
	tcase_add_test(tc, test_fence_reason_names_the_command);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(decide_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
