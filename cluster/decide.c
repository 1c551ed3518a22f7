/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The role decision of the built-in manager: one pure function from what this
 * node knows (membership, quorum, its disk and role, the peer's announced state,
 * fencing, standby, split brain) to one action. docs/CLUSTER.md states the rules;
 * tests/unit/test_cluster_decide.c holds one case per rule. */
#include "cluster/cluster_int.h"
#include <string.h>
#include <strings.h>

const char *cl_role_name(enum cl_role r)
{
	switch (r) {
	case CL_ROLE_PRIMARY: return "primary";
	case CL_ROLE_SECONDARY: return "secondary";
	default: return "unknown";
	}
}

static const char *const disk_names[] = {
	[CL_DISK_DUNKNOWN] = "DUnknown", [CL_DISK_DISKLESS] = "Diskless", [CL_DISK_INCONSISTENT] = "Inconsistent",
	[CL_DISK_OUTDATED] = "Outdated", [CL_DISK_UPTODATE] = "UpToDate",
};

const char *cl_disk_name(enum cl_disk d)
{
	return (unsigned)d < sizeof(disk_names) / sizeof(disk_names[0]) ? disk_names[d] : "DUnknown";
}

enum cl_disk cl_disk_from_name(const char *s)
{
	for (unsigned i = 0; s && i < sizeof(disk_names) / sizeof(disk_names[0]); i++)
		if (strcasecmp(s, disk_names[i]) == 0)
			return (enum cl_disk)i;
	return CL_DISK_DUNKNOWN;
}

const char *cl_action_name(enum cl_action a)
{
	switch (a) {
	case CL_ACT_NONE: return "none";
	case CL_ACT_PROMOTE: return "promote";
	case CL_ACT_DEMOTE: return "demote";
	case CL_ACT_FENCE: return "fence";
	case CL_ACT_WAIT: return "wait";
	}
	return "?";
}

static struct cl_decision act(enum cl_action a, const char *why)
{
	return (struct cl_decision){ .action = a, .reason = why };
}

/* The peer is not in the membership: may we take over? */
static struct cl_decision peer_absent(const struct cl_view *v)
{
	if (v->startup)
		return act(CL_ACT_WAIT, "startup: waiting for the peer to join");
	/* Alone, a node can only promote on data known to be the newest: one that
	 * has not met the peer since it started (or since it lost quorum) may
	 * have missed the peer's writes alone, and fencing the peer would not
	 * bring them back (DRBD's "Consistent" disk). The operator decides
	 * (tandemctl primary --force) when the peer is lost for good. */
	if (!v->my_data_current)
		return act(CL_ACT_WAIT, "peer absent and this node's data not compared with it since start or "
			   "quorum loss: the peer may hold newer writes (start it, or promote by hand)");
	if (!v->peer_lost)
		return act(CL_ACT_PROMOTE, "peer absent and known not to be primary");
	if (v->fencing == CL_FENCING_NONE)
		return act(CL_ACT_PROMOTE, v->peer_node_up ? "peer's tandemd vanished; fencing none (test setting)"
							 : "peer lost; fencing none (test setting)");
	/* Its tandemd vanished while its node stays in the membership: nothing
	 * proves that the node released the floating IP (a SIGKILLed tandemd
	 * leaves it configured, and that kernel keeps answering ARP for it), nor
	 * that its tandemd will not come back: it is fenced like a lost node
	 * (no fence delay: the node is reachable, this is no partition). */
	if (v->qdevice_proof && !v->peer_node_up)
		return act(CL_ACT_PROMOTE, "peer lost; quorate with qdevice");
	if (v->fencing == CL_FENCING_COMMAND) {
		switch (v->fence) {
		case CL_FENCE_OK:
			return act(CL_ACT_PROMOTE, v->peer_node_up ? "peer's tandemd vanished; its node was fenced"
								   : "peer lost and fenced");
		case CL_FENCE_RUNNING: return act(CL_ACT_WAIT, "peer lost; fence command running");
		case CL_FENCE_IDLE:
		case CL_FENCE_FAILED:
			if (v->peer_node_up)
				return act(CL_ACT_FENCE, "peer's tandemd vanished, its node is up: fencing it");
			if (v->fence_delay)
				return act(CL_ACT_WAIT, "peer lost; fence delayed by fence_delay_ms (the primary fences first)");
			return act(CL_ACT_FENCE, "peer lost; fencing it");
		}
	}
	if (v->peer_node_up)
		return act(CL_ACT_WAIT, "peer's tandemd vanished, its node is up: waiting for it to return or to leave "
			   "(qdevice cannot prove it released the address)");
	return act(CL_ACT_WAIT, "peer lost, not proven dead (no qdevice vote)");
}

struct cl_decision cl_decide(const struct cl_view *v)
{
	if (v->manager != CL_MGR_BUILTIN)
		return act(CL_ACT_NONE, v->manager == CL_MGR_PACEMAKER ? "manager pacemaker" : "manager none");

	if (v->my_role == CL_ROLE_PRIMARY) {
		if (!v->corosync_up)
			return act(CL_ACT_DEMOTE, "corosync not reachable");
		if (!v->quorate)
			return act(CL_ACT_DEMOTE, "lost quorum");
		if (v->peer_member && v->peer_known && v->peer_role == CL_ROLE_PRIMARY && !v->lower_id &&
		    !v->failover_busy)
			return act(CL_ACT_DEMOTE, "two primaries: the lower node id stays");
		return act(CL_ACT_NONE, "primary");
	}

	if (v->failover_busy)
		return act(CL_ACT_WAIT, "planned failover in progress");
	if (v->my_standby)
		return act(CL_ACT_NONE, "standby");
	if (v->split_brain)
		return act(CL_ACT_WAIT, "split brain: no automatic promotion (resolve by hand)");
	if (!v->corosync_up)
		return act(CL_ACT_WAIT, "corosync not reachable");
	if (!v->quorate)
		return act(CL_ACT_WAIT, "no quorum");
	if (v->my_disk != CL_DISK_UPTODATE)
		return act(CL_ACT_WAIT, "disk not UpToDate");

	if (!v->peer_member)
		return peer_absent(v);
	if (!v->peer_known)
		return act(CL_ACT_WAIT, "waiting for the peer's announcement");
	if (v->peer_role == CL_ROLE_PRIMARY)
		return act(CL_ACT_NONE, "peer is primary");
	if (v->peer_standby)
		return act(CL_ACT_PROMOTE, "peer in standby");
	if (v->peer_disk != CL_DISK_UPTODATE)
		return act(CL_ACT_PROMOTE, "peer disk not UpToDate");
	if (v->lower_id)
		return act(CL_ACT_PROMOTE, "both UpToDate: lower node id promotes");
	return act(CL_ACT_WAIT, "both UpToDate: the peer (lower node id) promotes");
}

const char *cl_fence_action_name(enum cl_fence_action a)
{
	switch (a) {
	case CL_FA_WAIT: return "wait";
	case CL_FA_ASK: return "ask-outdate";
	case CL_FA_FENCE: return "fence";
	case CL_FA_OUTDATED: return "peer-outdated";
	case CL_FA_DEAD: return "peer-dead";
	}
	return "?";
}

static struct cl_fence_decision fact(enum cl_fence_action a, const char *why)
{
	return (struct cl_fence_decision){ .action = a, .reason = why };
}

/* DRBD's fence-peer handler for "resource-and-stonith": the Primary's writes
 * stay frozen until the peer is Outdated (it said so, durably) or dead. */
struct cl_fence_decision cl_decide_fence(const struct cl_fence_view *v)
{
	if (v->fencing == CL_FENCING_NONE)
		return fact(CL_FA_DEAD, "fencing none (test setting): continuing without the peer");
	if (v->peer_outdated)
		return fact(CL_FA_OUTDATED, "the peer marked its disks Outdated");
	if (v->peer_left_clean)
		return fact(CL_FA_OUTDATED, "the peer left cleanly, not primary: it is not promoted again before it "
			    "compared its data with this node's");
	if (v->fence == CL_FENCE_OK)
		return fact(CL_FA_DEAD, v->pacemaker ? "the outdate-peer command marked the peer outdated"
						    : "the peer was fenced");
	if (v->peer_member) {
		if (!v->asked)
			return fact(CL_FA_ASK, "asking the peer to outdate itself");
		if (!v->ask_expired)
			return fact(CL_FA_WAIT, v->peer_refused ? "the peer refused to outdate itself; asking again soon"
							        : "waiting for the peer to outdate itself");
		/* No Outdated answer for CL_OUTDATE_TIMEOUT_MS. A Primary that
		 * refused may lose the two-Primaries tie-break: ask again. Any other
		 * refusal (its metadata write failed) or silence (it may hang): only
		 * its death proves anything, where a fence command exists; else ask
		 * again, since an answer can be lost (a send during a membership
		 * change) and a refusal can be transient. Asking once and waiting
		 * for ever left the writes frozen for good. */
		if (v->peer_refused && v->peer_primary)
			return fact(CL_FA_ASK, "the peer refused as primary: asking again");
		if (v->fencing == CL_FENCING_COMMAND && v->quorate)
			return fact(v->fence == CL_FENCE_RUNNING ? CL_FA_WAIT : CL_FA_FENCE,
				    v->peer_refused ? "the peer cannot outdate itself: fencing it"
						    : "the peer does not answer the outdate request: fencing it");
		return fact(CL_FA_ASK, v->peer_refused ? "the peer refused to outdate itself: asking again"
						       : "the peer does not answer the outdate request: asking again");
	}
	if (!v->quorate)
		return fact(CL_FA_WAIT, "no quorum: writes stay frozen (the demotion fails them)");
	if (v->qdevice_proof && !v->peer_node_up)
		return fact(CL_FA_DEAD, "the peer left; quorate with qdevice");
	if (v->fencing == CL_FENCING_COMMAND)
		return fact(v->fence == CL_FENCE_RUNNING ? CL_FA_WAIT : CL_FA_FENCE,
			    v->peer_node_up ? "the peer's tandemd vanished: fencing its node" : "the peer left: fencing it");
	return fact(CL_FA_WAIT, "the peer left; not proven dead (no qdevice vote)");
}
