/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The "cluster" object of tandemctl status (rendered by cluster_cli.c):
 * this node, the peer, quorum, fencing and fence requests, the last decision
 * and the planned failover. Main thread only. */
#include "cluster/manager.h"
#include "scsi/scsi.h"
#include <inttypes.h>
#include <stdio.h>

static const char *const fo_names[] = { "idle", "draining", "handed-over", "taking-over" };

static void node_json(struct json_writer *w, bool self)
{
	json_obj_begin(w, NULL);
	if (self) {
		json_str(w, "name", g_cl.cfg.node);
		json_uint(w, "nodeid", g_cl.nodeid);
		json_bool(w, "member", g_cl.up);
		json_bool(w, "self", true);
		json_str(w, "role", cl_role_name(cl_my_role()));
		json_str(w, "disk", cl_disk_name(g_cl.disk));
		json_str(w, "peer_disk", cl_disk_name(g_cl.peer_disk_repl));
		json_bool(w, "in_sync", g_cl.in_sync);
		json_bool(w, "data_current", g_cl.data_current);
		json_bool(w, "standby", g_cl.standby);
		json_bool(w, "split_brain", g_cl.split_brain);
		json_bool(w, "holds_ip", g_cl.holds_ip);
	} else {
		const struct cl_msg *s = &g_cl.peer.st;
		bool k = g_cl.peer.member && g_cl.peer.known;
		json_str(w, "name", g_cl.peer.name);
		json_uint(w, "nodeid", g_cl.peer.nodeid);
		json_bool(w, "member", g_cl.peer.member);
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
	snprintf(gen, sizeof(gen), "0x%016" PRIx64, self ? g_cl.gen : g_cl.peer.st.gen);
	json_str(w, "gen", gen);
	json_obj_end(w);
}

void cluster_status(struct json_writer *w)
{
	static const char *const mgr[] = { "builtin", "pacemaker", "none" };
	static const char *const fencing[] = { "qdevice", "command", "none" };
	static const char *const fence[] = { "idle", "running", "ok", "failed" };
	enum scsi_alua_state st;

	if (!g_cl.on)
		return;
	cl_refresh_repl();
	json_obj_begin(w, "cluster");
	json_str(w, "manager", mgr[g_cl.cfg.manager]);
	json_str(w, "node", g_cl.cfg.node);
	json_uint(w, "nodeid", g_cl.nodeid);
	json_str(w, "cpg_group", g_cl.cfg.cpg_group);
	json_str(w, "corosync", g_cl.up ? "connected" : "disconnected");
	json_bool(w, "quorate", g_cl.quorate);
	json_bool(w, "two_node", g_cl.two_node);
	json_bool(w, "qdevice", g_cl.qdevice_vote);
	json_str(w, "role", cl_role_name(cl_my_role()));
	json_str(w, "floating_ip", g_cl.cfg.floating_ip);
	json_str(w, "interface", g_cl.cfg.interface);
	json_str(w, "ip_owner", g_cl.holds_ip ? g_cl.cfg.node :
		 (g_cl.peer.member && g_cl.peer.known && (g_cl.peer.st.flags & CL_SF_HOLDS_IP)) ? g_cl.peer.name : "");
	json_bool(w, "holds_ip", g_cl.holds_ip);
	json_str(w, "alua_group", g_cl.cfg.alua_group[0] ? g_cl.cfg.alua_group : "default");
	json_str(w, "alua_state", g_cl.have_alua && scsi_alua_get_state(g_cl.alua_id, &st) == 0 ? scsi_alua_state_name(st) : "");
	json_str(w, "fencing", fencing[g_cl.cfg.fencing]);
	json_str(w, "fence", fence[g_cl.fence]);
	json_int(w, "fence_delay_ms", g_cl.cfg.fence_delay_ms);
	/* a primary that loses its peer freezes writes until the peer is fenced
	 * or outdated (built-in manager, or pacemaker with outdate_peer_command):
	 * the OCF agent leaves the peer's mark to this guard at a promotion */
	json_bool(w, "peer_loss_freezes_writes", g_cl.rf.fd >= 0);
	json_bool(w, "writes_frozen", g_cl.rf.want);
	json_obj_begin(w, "fence_request");
	json_bool(w, "open", g_cl.rf.want);
	json_uint(w, "id", g_cl.rf.id);
	json_str(w, "action", g_cl.rf.want ? cl_fence_action_name(g_cl.rf.last.action) : "none");
	json_str(w, "reason", g_cl.rf.want && g_cl.rf.last.reason ? g_cl.rf.last.reason : "");
	json_uint(w, "frozen_ms", g_cl.rf.want ? cl_now_ms() - g_cl.rf.since : 0);
	json_str(w, "last_result", g_cl.rf.last_result);
	json_uint(w, "last_ms", g_cl.rf.last_answer_ms);
	json_obj_end(w);
	json_bool(w, "peer_lost", g_cl.peer.lost);
	json_bool(w, "standby", g_cl.standby);
	json_bool(w, "split_brain", g_cl.split_brain || (g_cl.peer.known && (g_cl.peer.st.flags & CL_SF_SPLIT_BRAIN)));
	json_str(w, "last_error", g_cl.last_error);
	json_obj_begin(w, "decision");
	json_str(w, "action", cl_action_name(g_cl.last.action));
	json_str(w, "reason", g_cl.last.reason ? g_cl.last.reason : "");
	json_obj_end(w);
	json_obj_begin(w, "failover");
	json_str(w, "state", g_cl.fo == FO_IDLE && g_cl.peer.transition ? "peer-transitioning" : fo_names[g_cl.fo]);
	json_str(w, "target", g_cl.fo_target);
	json_str(w, "last_result", g_cl.fo_last);
	json_int(w, "last_ms", g_cl.fo_last_ms);
	json_uint(w, "finished", g_cl.fo_seq);
	json_obj_end(w);
	json_uint(w, "connections", cl_conns_snapshot(NULL, 0) + g_cl.peer.nconns);
	json_arr_begin(w, "nodes");
	node_json(w, true);
	if (g_cl.peer.member || g_cl.peer.name[0])
		node_json(w, false);
	json_arr_end(w);
	json_obj_end(w);
}
