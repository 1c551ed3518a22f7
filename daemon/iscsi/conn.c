/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Connection lifetime: creation from an accepted socket, attachment to its
 * reactor, the epoll callback, closing (abort tasks, drop queued PDUs) and the
 * deferred free that waits until the backend finished every outstanding I/O. */
#include "iscsi/iscsi_int.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdatomic.h>
#include "util/bufpool.h"

static atomic_uint_fast64_t conn_ids;
/* Resource limits (docs/HARDENING.md): connections alive, and those still in login. */
static atomic_int conns_total, conns_pending;

void iscsi_conn_counts(int *total, int *pending)
{
	*total = atomic_load(&conns_total);
	*pending = atomic_load(&conns_pending);
}

void iscsi_conn_logged_in(struct iscsi_conn *c)
{
	if (c->counted_pending) {
		c->counted_pending = false;
		atomic_fetch_sub(&conns_pending, 1);
	}
}

static void conn_uncount(struct iscsi_conn *c)
{
	iscsi_conn_logged_in(c);
	atomic_fetch_sub(&conns_total, 1);
}

void iscsi_conn_update_events(struct iscsi_conn *c)
{
	uint32_t ev = (c->rx_paused ? 0 : EPOLLIN) | (c->tx_epollout ? EPOLLOUT : 0);

	if (c->fd >= 0 && c->r)
		reactor_mod_fd(c->r, c->fd, ev);
}

/* At a PDU boundary: a peer that sends requests but does not read the answers
 * (NOP/Reject floods, reads it never collects) is not read from until it
 * drains what is queued; the NOP-In timeout ends it if it never does. */
bool iscsi_conn_rx_throttle(struct iscsi_conn *c)
{
	if (c->tx_mem <= c->lim_tx_backlog)
		return false;
	if (!c->rx_paused) {
		qb_log(LOG_INFO, "iscsi: %s: %llu bytes of responses not collected: pausing reads", c->peer,
		       (unsigned long long)c->tx_mem);
		c->rx_paused = true;
		iscsi_conn_update_events(c);
	}
	return true;
}

/* The connection observer (iscsi.h): set rarely, read on every accept/close. */
static pthread_mutex_t observer_lock = PTHREAD_MUTEX_INITIALIZER;
static iscsi_conn_observer_fn observer_fn;
static void *observer_arg;

void iscsi_set_conn_observer(iscsi_conn_observer_fn fn, void *arg)
{
	pthread_mutex_lock(&observer_lock);
	observer_fn = fn;
	observer_arg = arg;
	pthread_mutex_unlock(&observer_lock);
}

void iscsi_conn_observe(uint64_t id, const struct sockaddr *local, const struct sockaddr *peer)
{
	pthread_mutex_lock(&observer_lock);
	if (observer_fn)
		observer_fn(id, local != NULL, local, peer, observer_arg);
	pthread_mutex_unlock(&observer_lock);
}

static void reactor_state_free(void *arg)
{
	struct iscsi_reactor *ir = arg;

	reactor_slot_set(ir->r, REACTOR_SLOT_ISCSI, NULL);
	iscsi_revokes_free(ir);
	free(ir);
}

struct iscsi_reactor *iscsi_reactor_get(struct reactor *r)
{
	struct iscsi_reactor *ir;

	if (!r)
		return NULL;
	ir = reactor_slot_get(r, REACTOR_SLOT_ISCSI);
	if (ir)
		return ir;
	ir = calloc(1, sizeof(*ir));
	if (!ir)
		return NULL;
	ir->r = r;
	if (reactor_add_idle_hook(r, iscsi_reactor_idle, ir) < 0) {
		free(ir);
		return NULL;
	}
	reactor_add_exit_hook(r, reactor_state_free, ir);
	reactor_slot_set(r, REACTOR_SLOT_ISCSI, ir);
	return ir;
}

struct iscsi_conn *iscsi_conn_create(int fd, uint16_t tpgt, const char *peer, const char *local)
{
	struct iscsi_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->tpgt = tpgt;
	c->id = atomic_fetch_add(&conn_ids, 1) + 1;
	snprintf(c->peer, sizeof(c->peer), "%s", peer ? peer : "?");
	snprintf(c->local, sizeof(c->local), "%s", local ? local : "?");
	c->txq_tail = &c->txq;
	c->state = ISCSI_CONN_LOGIN;
	/* RFC 7143 13.12: 8192 until negotiated; digests off during login */
	c->p.max_recv_dsl = ISCSI_LOGIN_DSL;
	c->p.max_xmit_dsl = ISCSI_LOGIN_DSL;
	c->p.max_burst_length = 262144;
	c->p.first_burst_length = 65536;
	c->p.initial_r2t = true;
	c->p.max_outstanding_r2t = 1;
	c->p.data_pdu_in_order = true;
	c->p.data_sequence_in_order = true;
	c->next_ttt = 1;
	pthread_mutex_lock(&g_iscsi.lock);
	c->nop_interval = g_iscsi.gc.nop_interval;
	c->nop_timeout = g_iscsi.gc.nop_timeout;
	c->lim_conn_memory = g_iscsi.gc.max_conn_memory ? g_iscsi.gc.max_conn_memory : 64u << 20;
	c->lim_tx_backlog = g_iscsi.gc.max_tx_backlog ? g_iscsi.gc.max_tx_backlog : 4u << 20;
	c->coalesce_us = g_iscsi.gc.coalesce_us > 0 ? (unsigned)g_iscsi.gc.coalesce_us : 0;
	c->coalesce_depth = g_iscsi.gc.coalesce_depth > 0 ? (uint32_t)g_iscsi.gc.coalesce_depth : 16;
	/* the CmdSN window plus room for immediate commands */
	c->lim_tasks = (g_iscsi.gc.max_cmds_per_session > 0 ? g_iscsi.gc.max_cmds_per_session : 128) * 2 + 64;
	pthread_mutex_unlock(&g_iscsi.lock);
	c->counted_pending = true;
	atomic_fetch_add(&conns_total, 1);
	atomic_fetch_add(&conns_pending, 1);
	return c;
}

static void conn_event(struct reactor *r, int fd, uint32_t events, void *arg)
{
	struct iscsi_conn *c = arg;

	if (c->closing)
		return;
	/* Responses first: they carry the ACK of what the socket holds, so that
	 * reading it does not make TCP send a pure ACK of its own (one packet
	 * less per loop turn, on both ends). Not while the socket is full: EPOLLOUT
	 * says when it has room. */
	if ((events & EPOLLIN) && c->txq && !c->tx_epollout)
		iscsi_conn_flush(c);
	if (!c->closing && (events & EPOLLIN))
		iscsi_conn_readable(c);
	if (c->migrating) {
		/* nothing on this thread touches c after the post */
		reactor_post(c->migrate_to, c->migrate_fn, c->migrate_arg);
		return;
	}
	if (!c->closing && (events & EPOLLOUT))
		iscsi_conn_writable(c);
	if (!c->closing && (events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN))
		iscsi_conn_close(c, "socket error/hangup");
	if (!c->closing && c->txq)
		iscsi_conn_flush(c);
}

static int login_timeout_cb(struct reactor *r, void *arg)
{
	struct iscsi_conn *c = arg;

	c->login_timer = NULL;
	if (c->state == ISCSI_CONN_LOGIN && !c->closing) {
		qb_log(LOG_NOTICE, "iscsi: %s: login did not complete in time: closing", c->peer);
		iscsi_conn_close(c, "login timeout");
	}
	return -1;
}

/* On the calling reactor's thread: watch the socket, join the reactor's list of
 * connections and (re)start the login timer. Returns -1 when it cannot. */
static int conn_register(struct iscsi_conn *c)
{
	struct reactor *r = reactor_self();
	struct iscsi_reactor *ir = iscsi_reactor_get(r);
	int to;

	c->r = r;
	if (!ir || reactor_add_fd(r, c->fd, EPOLLIN, conn_event, c) < 0)
		return -1;
	c->rnext = ir->conns;
	if (ir->conns)
		ir->conns->rprev = c;
	ir->conns = c;
	pthread_mutex_lock(&g_iscsi.lock);
	to = g_iscsi.gc.login_timeout > 0 ? g_iscsi.gc.login_timeout : 15;
	pthread_mutex_unlock(&g_iscsi.lock);
	c->login_timer = reactor_timer_add(r, (uint64_t)to * 1000, login_timeout_cb, c);
	return 0;
}

/* Leave the reactor's list of connections (ir may be NULL). */
static void conn_unlist(struct iscsi_reactor *ir, struct iscsi_conn *c)
{
	if (ir) {
		if (c->rprev)
			c->rprev->rnext = c->rnext;
		else if (ir->conns == c)
			ir->conns = c->rnext;
		if (c->rnext)
			c->rnext->rprev = c->rprev;
	}
	c->rnext = c->rprev = NULL;
}

/* reactor_post target: the connection starts life on its reactor here. */
void iscsi_conn_attach(void *arg)
{
	struct iscsi_conn *c = arg;
	struct reactor *r = reactor_self();

	if (conn_register(c) < 0) {
		qb_log(LOG_ERR, "iscsi: %s: cannot register connection", c->peer);
		close(c->fd);
		conn_uncount(c);
		free(c);
		return;
	}
	c->last_rx_ms = reactor_now_ms();
	qb_log(LOG_DEBUG, "iscsi: connection %llu from %s on reactor %s", (unsigned long long)c->id, c->peer,
	       reactor_name(r));
}

void iscsi_conn_detach(struct iscsi_conn *c)
{
	struct iscsi_reactor *ir = iscsi_reactor_get(c->r);

	c->migrating = true;
	if (c->login_timer) {
		reactor_timer_cancel(c->r, c->login_timer);
		c->login_timer = NULL;
	}
	reactor_del_fd(c->r, c->fd);
	conn_unlist(ir, c);
}

/* On the new reactor's thread. */
int iscsi_conn_rehome(struct iscsi_conn *c)
{
	c->migrating = false;
	if (conn_register(c) < 0)
		return -1;
	iscsi_rx_kick(c);   /* PDUs that came with the login, if any, are in its buffer */
	return 0;
}

void iscsi_conn_start_nop(struct iscsi_conn *c)
{
	if (c->nop_interval > 0 && !c->nop_timer)
		c->nop_timer = reactor_timer_add(c->r, 1000, iscsi_nop_timer, c);
}

static void conn_free(void *arg)
{
	struct iscsi_conn *c = arg;
	struct iscsi_reactor *ir = iscsi_reactor_get(c->r);

	if (c->tx_dirty || c->ntasks) {
		/* still referenced: maybe_free is called again later */
		c->freed_pending = false;
		return;
	}
	conn_unlist(ir, c);
	iscsi_session_conn_gone(c);
	iscsi_tx_free_all(c);
	iscsi_task_free_all(c);
	iscsi_login_free(c);
	iscsi_text_free(&c->text_pending);
	iscsi_text_free(&c->text_in);
	if (c->rx_own)
		buf_free(c->rx_own, c->rx_own_len);
	qb_log(LOG_DEBUG, "iscsi: connection %llu from %s freed", (unsigned long long)c->id, c->peer);
	conn_uncount(c);
	free(c);
}

/* Free once closed, with no task in the backend and off the flush list. */
void iscsi_conn_maybe_free(struct iscsi_conn *c)
{
	if (!c->closing || c->ntasks || c->tx_dirty || c->freed_pending)
		return;
	c->freed_pending = true;
	reactor_post(c->r, conn_free, c);
}

/* Close the socket now; tasks still in the backend complete into nothing and
 * the memory goes when the last one did (RFC 7143 6.3.5/7.x: at ERL 0 a
 * connection failure ends its tasks). */
void iscsi_conn_close(struct iscsi_conn *c, const char *why)
{
	struct iscsi_task *t, *next;

	enum iscsi_conn_state was;

	if (c->closing)
		return;
	c->closing = true;
	was = c->state;
	c->state = ISCSI_CONN_CLOSING;
	qb_log(c->sess && c->sess->type == ISCSI_SESSION_NORMAL ? LOG_INFO : LOG_DEBUG,
	       "iscsi: closing connection %llu from %s%s%s: %s", (unsigned long long)c->id, c->peer,
	       c->sess ? " initiator " : "", c->sess ? c->sess->initiator : "", why);
	if (c->login_timer) {
		reactor_timer_cancel(c->r, c->login_timer);
		c->login_timer = NULL;
	}
	if (c->nop_timer) {
		reactor_timer_cancel(c->r, c->nop_timer);
		c->nop_timer = NULL;
	}
	reactor_del_fd(c->r, c->fd);
	close(c->fd);
	c->fd = -1;
	iscsi_rx_release(c);
	iscsi_conn_observe(c->id, NULL, NULL);
	if (c->rx_task && c->rx_state != ISCSI_RX_HDR &&
	    (iscsi_bhs_opcode(c->rx_hdr) == ISCSI_OP_SCSI_CMD || iscsi_bhs_opcode(c->rx_hdr) == ISCSI_OP_DATA_OUT)) {
		/* a command whose immediate data never fully arrived, or the
		 * reference a Data-Out in progress holds */
		struct iscsi_task *rt = c->rx_task;
		c->rx_task = NULL;
		iscsi_task_put(rt);
	}
	c->rx_task = NULL;
	iscsi_tmf_conn_gone(c);
	iscsi_tx_free_all(c);
	for (t = c->active; t; t = next) {
		next = t->cnext;
		iscsi_task_abort(t);
	}
	/* RFC 7143 7.1.x: at ErrorRecoveryLevel 0 a failed connection ends the
	 * whole session (a logged-out one does not). */
	if (was == ISCSI_CONN_FULL && c->sess && !c->sess->dying && c->sess->conns && c->sess->conns->snext)
		iscsi_session_kill(c->sess, "another connection of the session failed");
	iscsi_conn_maybe_free(c);
}
