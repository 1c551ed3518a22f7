/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `tandemctl status` for humans: the "cluster" object of the status answer. */
#include "cluster/cluster.h"
#include "ctl/json_read.h"
#include <inttypes.h>
#include <string.h>

/* "peer_lost" stays true from the loss until the peer's tandemd rejoins; a
 * fence that succeeded (or, under pacemaker, the outdate-peer command) is
 * what turned it from a doubt into a fact. */
static const char *peer_lost_text(const struct jr_value *c)
{
	if (!jr_bool(c, "peer_lost", false))
		return "";
	if (!strcmp(jr_str(c, "fence", ""), "ok"))
		return strcmp(jr_str(c, "manager", ""), "pacemaker") ? ", peer lost and fenced"
								     : ", peer lost and marked outdated";
	if (!strcmp(jr_str(c, "fence", ""), "running"))
		return ", peer lost (fence running)";
	return ", peer lost (not proven dead)";
}

void cluster_print_status(FILE *out, const void *status_root)
{
	const struct jr_value *c = jr_get(status_root, "cluster");
	if (!c)
		return;
	const struct jr_value *d = jr_get(c, "decision"), *fo = jr_get(c, "failover"), *nodes = jr_get(c, "nodes");
	fprintf(out, "\ncluster: manager %s, corosync %s, %s%s%s, fencing %s%s\n", jr_str(c, "manager", "?"),
		jr_str(c, "corosync", "?"), jr_bool(c, "quorate", false) ? "quorate" : "NOT quorate",
		jr_bool(c, "two_node", false) ? " (two_node)" : "", jr_bool(c, "qdevice", false) ? " (qdevice vote)" : "",
		jr_str(c, "fencing", "?"), peer_lost_text(c));
	fprintf(out, "  floating IP %s on %s, owner %s; ALUA group %s: %s\n", jr_str(c, "floating_ip", "-"),
		jr_str(c, "interface", "-"), *jr_str(c, "ip_owner", "") ? jr_str(c, "ip_owner", "") : "nobody",
		jr_str(c, "alua_group", "?"), jr_str(c, "alua_state", "?"));
	for (size_t i = 0; nodes && nodes->type == JR_ARRAY && i < nodes->n; i++) {
		const struct jr_value *n = &nodes->items[i];
		fprintf(out, "  node %s (id %" PRId64 ")%s: %s, %s, disk %s%s%s%s%s\n", jr_str(n, "name", "?"),
			jr_int(n, "nodeid", 0), jr_bool(n, "self", false) ? " [this node]" : "",
			jr_bool(n, "member", false) ? "member" : "NOT a member", jr_str(n, "role", "?"),
			jr_str(n, "disk", "?"), jr_bool(n, "in_sync", false) ? ", in sync" : "",
			jr_bool(n, "standby", false) ? ", STANDBY" : "", jr_bool(n, "split_brain", false) ? ", SPLIT BRAIN" : "",
			jr_bool(n, "holds_ip", false) ? ", holds the IP" : "");
	}
	if (jr_bool(c, "split_brain", false))
		fputs("  SPLIT BRAIN: no automatic promotion until resolved\n", out);
	fprintf(out, "  decision: %s (%s)\n", jr_str(d, "action", "?"), jr_str(d, "reason", ""));
	const struct jr_value *fr = jr_get(c, "fence_request");
	if (jr_bool(fr, "open", false))
		fprintf(out, "  WRITES FROZEN for %" PRId64 " ms: the peer is gone and not yet Outdated or dead: %s (%s)\n",
			jr_int(fr, "frozen_ms", 0), jr_str(fr, "action", "?"), jr_str(fr, "reason", ""));
	else if (*jr_str(fr, "last_result", ""))
		fprintf(out, "  last fence request: %s (writes frozen %" PRId64 " ms)\n", jr_str(fr, "last_result", ""),
			jr_int(fr, "last_ms", 0));
	fprintf(out, "  failover: %s; last: %s (%" PRId64 " ms)\n", jr_str(fo, "state", "?"), jr_str(fo, "last_result", "-"),
		jr_int(fo, "last_ms", 0));
	if (*jr_str(c, "last_error", ""))
		fprintf(out, "  last error: %s\n", jr_str(c, "last_error", ""));
}
