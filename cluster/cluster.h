/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The built-in cluster manager (docs/CLUSTER.md, docs/PORTALS.md): corosync CPG
 * membership and votequorum, role decisions, the floating portal IP (netlink,
 * gratuitous ARP, tickle ACKs), ALUA switching and planned failover. Everything
 * runs on the main thread's qb_loop; main.c calls these and nothing else.
 * cluster/ decides roles and tells the daemon (repl_set_role, scsi_alua_set_state,
 * the iSCSI connection observer); the daemon never calls into it. */
#ifndef TANDEM_CLUSTER_H
#define TANDEM_CLUSTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <qb/qbloop.h>
#include "config/config.h"
#include "util/json.h"

/* Start the manager when conf has a cluster section (else a no-op returning 0):
 * registers the iSCSI connection observer, removes a stale floating IP, and
 * connects to corosync (retrying on a timer while it is not reachable). Call
 * after iscsi_init and the replication start, with the loop that will run.
 * 0, or -1 with err (bad interface, bad ALUA group). */
int cluster_init(const struct tconf *conf, qb_loop_t *loop, char *err, size_t errlen);
/* tandemd --release-ip (systemd's ExecStopPost): remove the floating IP of
 * conf's built-in manager if this node has it configured, which only a
 * tandemd that died without its shutdown leaves behind. No daemon state, no
 * corosync. 1 removed, 0 nothing to do, -1 error; msg says which. */
int cluster_release_stale_ip(const struct tconf *conf, char *msg, size_t len);
/* Announce leaving, release the IP if held (ALUA Standby), leave corosync. */
void cluster_shutdown(void);
bool cluster_enabled(void);
/* Reload: the cluster section is not changed at run time; logs when it differs. */
void cluster_reload(const struct tconf *conf);
/* Append "cluster": {...} to an open JSON object (nothing when not configured). */
void cluster_status(struct json_writer *w);
/* tandemctl's human status: render the "cluster" member of a parsed status
 * answer (a struct jr_value *, ctl/json_read.h); nothing when absent. */
void cluster_print_status(FILE *out, const void *status_root);
/* tandemctl failover [NODE] (NULL or "" = the node that is not primary): start
 * a planned failover; 0 started, -1 refused with err. */
int cluster_failover(const char *node, char *err, size_t errlen);
/* tandemctl standby / unstandby. 0, or -1 with err. */
int cluster_set_standby(bool on, char *err, size_t errlen);
#endif
