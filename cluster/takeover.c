/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the manager does to the network and to SCSI when the role moves
 * (docs/PORTALS.md): the ALUA state of the floating portal's group, the
 * floating IP (netlink.c), gratuitous ARPs and tickle ACKs (packet.c) to the
 * clients the old owner announced. Main thread only. */
#include "cluster/manager.h"
#include "scsi/scsi.h"
#include "util/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum scsi_alua_state wanted_alua(void)
{
	bool primary = cl_my_role() == CL_ROLE_PRIMARY;
	if (cl.fo == FO_DRAINING || (cl.fo == FO_HANDED && !primary))
		return SCSI_ALUA_TRANSITIONING;
	if (primary)
		return SCSI_ALUA_ACTIVE_OPTIMIZED;
	if (cl.peer.member && cl.peer.transition)
		return SCSI_ALUA_TRANSITIONING;
	if (cl.peer.member && cl.peer.known && cl.peer.st.role == CL_ROLE_PRIMARY)
		return SCSI_ALUA_ACTIVE_OPTIMIZED;    /* the port is served by the peer */
	return SCSI_ALUA_STANDBY;
}

void cl_apply_alua(void)
{
	enum scsi_alua_state cur, want;

	if (!cl.have_alua || cl.cfg.manager == TCONF_CLUSTER_NONE)
		return;
	want = wanted_alua();
	if (scsi_alua_get_state(cl.alua_id, &cur) == 0 && cur == want)
		return;
	if (scsi_alua_set_state(cl.alua_id, want) == 0)
		qb_log(LOG_NOTICE, "cluster: ALUA group %u -> %s", cl.alua_id, scsi_alua_state_name(want));
}

static void arp_tick(void *data)
{
	cl.arp_timer = 0;
	if (!cl.holds_ip || cl.arp_left <= 0)
		return;
	int rc = cl_send_garp(cl.cfg.interface, cl.fip);
	if (rc < 0)
		qb_log(LOG_WARNING, "cluster: gratuitous ARP on %s: %s", cl.cfg.interface, strerror(-rc));
	if (--cl.arp_left > 0)
		cl_timer_set(&cl.arp_timer, (uint64_t)cl.cfg.arp_interval_ms, arp_tick);
}

static void tickle_tick(void *data)
{
	cl.tickle_timer = 0;
	if (!cl.holds_ip || cl.tickle_left <= 0)
		return;
	for (uint32_t i = 0; i < cl.ntickles; i++) {
		const struct cl_conn *c = &cl.tickles[i];
		int rc = cl_send_tickle(c->server_ip, c->server_port, c->client_ip, c->client_port);
		if (rc < 0)
			qb_log(LOG_WARNING, "cluster: tickle ACK: %s", strerror(-rc));
	}
	if (--cl.tickle_left > 0)
		cl_timer_set(&cl.tickle_timer, (uint64_t)cl.cfg.tickle_interval_ms, tickle_tick);
}

/* After taking the address: tell every client the old owner announced that
 * its connection is gone (docs/PORTALS.md). */
void cl_start_tickles(void)
{
	free(cl.tickles);
	cl.tickles = NULL;
	cl.ntickles = 0;
	if (!cl.peer.nconns || cl.cfg.tickle_count <= 0)
		return;
	cl.tickles = malloc(cl.peer.nconns * sizeof(*cl.tickles));
	if (!cl.tickles)
		return;
	memcpy(cl.tickles, cl.peer.conns, cl.peer.nconns * sizeof(*cl.tickles));
	cl.ntickles = cl.peer.nconns;
	cl.tickle_left = cl.cfg.tickle_count;
	qb_log(LOG_NOTICE, "cluster: sending tickle ACKs to %u client connection(s)", cl.ntickles);
	tickle_tick(NULL);
}

int cl_take_ip(void)
{
	char err[256];
	if (!cl.fip || cl.cfg.manager != TCONF_CLUSTER_BUILTIN)
		return 0;
	if (cl_nl_addr(true, cl.cfg.interface, cl.fip, cl.cfg.floating_prefix, err, sizeof(err)) < 0) {
		qb_log(LOG_ERR, "cluster: cannot take the floating IP: %s", err);
		snprintf(cl.last_error, sizeof(cl.last_error), "%s", err);
		return -1;
	}
	cl.holds_ip = true;
	qb_log(LOG_NOTICE, "cluster: took floating IP %s on %s", cl.cfg.floating_ip, cl.cfg.interface);
	cl.arp_left = cl.cfg.arp_count;
	arp_tick(NULL);
	cl_start_tickles();
	return 0;
}

/* False when the address could not be removed (it stays held: retried). */
bool cl_release_ip(void)
{
	char err[256];
	if (!cl.fip || cl.cfg.manager != TCONF_CLUSTER_BUILTIN)
		return true;
	if (!cl.holds_ip && !cl_have_addr(cl.fip))
		return true;
	if (cl_nl_addr(false, cl.cfg.interface, cl.fip, cl.cfg.floating_prefix, err, sizeof(err)) < 0) {
		qb_log(LOG_ERR, "cluster: cannot release the floating IP: %s", err);
		snprintf(cl.last_error, sizeof(cl.last_error), "%s", err);
		cl.holds_ip = true;
		return false;
	}
	if (cl.holds_ip)
		qb_log(LOG_NOTICE, "cluster: released floating IP %s", cl.cfg.floating_ip);
	cl.holds_ip = false;
	cl.arp_left = cl.tickle_left = 0;
	return true;
}
