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
	if (g_cl.fo == FO_DRAINING || (g_cl.fo == FO_HANDED && !primary))
		return SCSI_ALUA_TRANSITIONING;
	if (primary)
		return SCSI_ALUA_ACTIVE_OPTIMIZED;
	if (g_cl.peer.member && g_cl.peer.transition)
		return SCSI_ALUA_TRANSITIONING;
	if (g_cl.peer.member && g_cl.peer.known && g_cl.peer.st.role == CL_ROLE_PRIMARY)
		return SCSI_ALUA_ACTIVE_OPTIMIZED;    /* the port is served by the peer */
	return SCSI_ALUA_STANDBY;
}

void cl_apply_alua(void)
{
	enum scsi_alua_state cur, want;

	if (!g_cl.have_alua || g_cl.cfg.manager == TCONF_CLUSTER_NONE)
		return;
	want = wanted_alua();
	if (scsi_alua_get_state(g_cl.alua_id, &cur) == 0 && cur == want)
		return;
	if (scsi_alua_set_state(g_cl.alua_id, want) == 0)
		qb_log(LOG_NOTICE, "cluster: ALUA group %u -> %s", g_cl.alua_id, scsi_alua_state_name(want));
}

static void arp_tick(void *data)
{
	g_cl.arp_timer = 0;
	if (!g_cl.holds_ip || g_cl.arp_left <= 0)
		return;
	int rc = cl_send_garp(g_cl.cfg.interface, g_cl.fip);
	if (rc < 0)
		qb_log(LOG_WARNING, "cluster: gratuitous ARP on %s: %s", g_cl.cfg.interface, strerror(-rc));
	if (--g_cl.arp_left > 0)
		cl_timer_set(&g_cl.arp_timer, (uint64_t)g_cl.cfg.arp_interval_ms, arp_tick);
}

static void tickle_tick(void *data)
{
	g_cl.tickle_timer = 0;
	if (!g_cl.holds_ip || g_cl.tickle_left <= 0)
		return;
	for (uint32_t i = 0; i < g_cl.ntickles; i++) {
		const struct cl_conn *c = &g_cl.tickles[i];
		int rc = cl_send_tickle(c->server_ip, c->server_port, c->client_ip, c->client_port);
		if (rc < 0)
			qb_log(LOG_WARNING, "cluster: tickle ACK: %s", strerror(-rc));
	}
	if (--g_cl.tickle_left > 0)
		cl_timer_set(&g_cl.tickle_timer, (uint64_t)g_cl.cfg.tickle_interval_ms, tickle_tick);
}

/* After taking the address: tell every client the old owner announced that
 * its connection is gone (docs/PORTALS.md). */
void cl_start_tickles(void)
{
	free(g_cl.tickles);
	g_cl.tickles = NULL;
	g_cl.ntickles = 0;
	if (!g_cl.peer.nconns || g_cl.cfg.tickle_count <= 0)
		return;
	g_cl.tickles = malloc(g_cl.peer.nconns * sizeof(*g_cl.tickles));
	if (!g_cl.tickles)
		return;
	memcpy(g_cl.tickles, g_cl.peer.conns, g_cl.peer.nconns * sizeof(*g_cl.tickles));
	g_cl.ntickles = g_cl.peer.nconns;
	g_cl.tickle_left = g_cl.cfg.tickle_count;
	qb_log(LOG_NOTICE, "cluster: sending tickle ACKs to %u client connection(s)", g_cl.ntickles);
	tickle_tick(NULL);
}

int cl_take_ip(void)
{
	char err[256];
	if (!g_cl.fip || g_cl.cfg.manager != TCONF_CLUSTER_BUILTIN)
		return 0;
	if (cl_nl_addr(true, g_cl.cfg.interface, g_cl.fip, g_cl.cfg.floating_prefix, err, sizeof(err)) < 0) {
		qb_log(LOG_ERR, "cluster: cannot take the floating IP: %s", err);
		snprintf(g_cl.last_error, sizeof(g_cl.last_error), "%s", err);
		return -1;
	}
	g_cl.holds_ip = true;
	qb_log(LOG_NOTICE, "cluster: took floating IP %s on %s", g_cl.cfg.floating_ip, g_cl.cfg.interface);
	g_cl.arp_left = g_cl.cfg.arp_count;
	arp_tick(NULL);
	cl_start_tickles();
	return 0;
}

/* False when the address could not be removed (it stays held: retried). */
bool cl_release_ip(void)
{
	char err[256];
	if (!g_cl.fip || g_cl.cfg.manager != TCONF_CLUSTER_BUILTIN)
		return true;
	if (!g_cl.holds_ip && !cl_have_addr(g_cl.fip))
		return true;
	if (cl_nl_addr(false, g_cl.cfg.interface, g_cl.fip, g_cl.cfg.floating_prefix, err, sizeof(err)) < 0) {
		qb_log(LOG_ERR, "cluster: cannot release the floating IP: %s", err);
		snprintf(g_cl.last_error, sizeof(g_cl.last_error), "%s", err);
		g_cl.holds_ip = true;
		return false;
	}
	if (g_cl.holds_ip)
		qb_log(LOG_NOTICE, "cluster: released floating IP %s", g_cl.cfg.floating_ip);
	g_cl.holds_ip = false;
	g_cl.arp_left = g_cl.tickle_left = 0;
	return true;
}
