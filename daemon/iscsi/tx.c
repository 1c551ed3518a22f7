/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Transmit side of a connection: PDU descriptors from a per-connection free
 * list, digests, a queue flushed with one writev over many PDUs (header and
 * data straight from the task buffer), EPOLLOUT only while the socket is full. */
#include "iscsi/iscsi_int.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include "util/bufpool.h"
#include "util/stat.h"

static const uint8_t zero_pad[4];

struct iscsi_txpdu *iscsi_pdu_get(struct iscsi_conn *c)
{
	struct iscsi_txpdu *p = c->tx_free;

	if (p)
		c->tx_free = p->next;
	else if (!(p = malloc(sizeof(*p))))
		return NULL;
	memset(p->bhs, 0, sizeof(p->bhs));
	p->data = NULL;
	p->dlen = 0;
	p->own = NULL;
	p->own_len = 0;
	p->task = NULL;
	p->sent = NULL;
	p->acct = 0;
	p->next = NULL;
	return p;
}

/* Release what a PDU holds and put it back on the free list. */
int iscsi_pdu_copy_data(struct iscsi_txpdu *p, const void *data, uint32_t len)
{
	p->own = buf_alloc(len);
	if (!p->own)
		return -1;
	p->own_len = len;
	memcpy(p->own, data, len);
	p->data = p->own;
	p->dlen = len;
	return 0;
}

void iscsi_pdu_put(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	if (p->acct) {
		c->tx_mem -= p->acct;
		p->acct = 0;
	}
	if (p->own)
		buf_free(p->own, p->own_len);
	if (p->task)
		iscsi_task_put(p->task);
	p->own = NULL;
	p->task = NULL;
	p->next = c->tx_free;
	c->tx_free = p;
}

void iscsi_pdu_set_sn(struct iscsi_conn *c, uint8_t *bhs, bool advance)
{
	put_be32(bhs + ISCSI_BHS_STATSN, c->stat_sn);
	if (advance)
		c->stat_sn++;
	put_be32(bhs + ISCSI_BHS_EXPCMDSN, iscsi_session_exp_cmdsn(c));
	put_be32(bhs + ISCSI_BHS_MAXCMDSN, iscsi_session_max_cmdsn(c));
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void mark_dirty(struct iscsi_conn *c)
{
	struct iscsi_reactor *ir;

	if (c->tx_dirty)
		return;
	ir = iscsi_reactor_get(c->r);
	if (!ir) {
		iscsi_conn_flush(c);
		return;
	}
	c->tx_dirty = true;
	c->dirty_next = ir->dirty;
	ir->dirty = c;
}

void iscsi_pdu_queue(struct iscsi_conn *c, struct iscsi_txpdu *p)
{
	if (c->closing) {
		iscsi_pdu_put(c, p);
		return;
	}
	iscsi_bhs_set_dsl(p->bhs, p->dlen);
	/* RFC 7143 11.1: digests are CRC32C, sent least significant byte first */
	p->hd = c->p.header_digest;
	p->dd = c->p.data_digest;
	if (p->hd)
		put_le32(p->hdigest, iscsi_crc32c(p->bhs, ISCSI_BHS_LEN));
	if (p->dd && p->dlen) {
		uint32_t crc = iscsi_crc32c_update(ISCSI_CRC32C_INIT, p->data, p->dlen);
		uint32_t pad = iscsi_pad4(p->dlen);
		if (pad)
			crc = iscsi_crc32c_update(crc, zero_pad, pad);
		put_le32(p->ddigest, iscsi_crc32c_final(crc));
	}
	/* what the queue holds (docs/HARDENING.md: max_tx_backlog) */
	p->acct = (uint32_t)(sizeof(*p) + p->own_len + (p->task ? sizeof(struct iscsi_task) : 0));
	c->tx_mem += p->acct;
	p->next = NULL;
	*c->txq_tail = p;
	c->txq_tail = &p->next;
	STAT_INC(c->st_pdus_out);
	mark_dirty(c);
}

/* The pieces of one PDU on the wire, skipping `skip` bytes already sent. */
static int pdu_iov(const struct iscsi_conn *c, struct iscsi_txpdu *p, uint32_t skip, struct iovec *iov, int max)
{
	struct iovec all[5];
	int n = 0, out = 0;

	all[n].iov_base = p->bhs;
	all[n++].iov_len = ISCSI_BHS_LEN;
	if (p->hd) {
		all[n].iov_base = p->hdigest;
		all[n++].iov_len = ISCSI_DIGEST_LEN;
	}
	if (p->dlen) {
		uint32_t pad = iscsi_pad4(p->dlen);
		all[n].iov_base = p->data;
		all[n++].iov_len = p->dlen;
		if (pad) {
			all[n].iov_base = (void *)zero_pad;
			all[n++].iov_len = pad;
		}
		if (p->dd) {
			all[n].iov_base = p->ddigest;
			all[n++].iov_len = ISCSI_DIGEST_LEN;
		}
	}
	for (int i = 0; i < n && out < max; i++) {
		if (skip >= all[i].iov_len) {
			skip -= (uint32_t)all[i].iov_len;
			continue;
		}
		iov[out].iov_base = (uint8_t *)all[i].iov_base + skip;
		iov[out].iov_len = all[i].iov_len - skip;
		skip = 0;
		out++;
	}
	return out;
}

static uint32_t pdu_wire_len(const struct iscsi_conn *c, const struct iscsi_txpdu *p)
{
	uint32_t len = ISCSI_BHS_LEN + (p->hd ? ISCSI_DIGEST_LEN : 0);
	if (p->dlen)
		len += p->dlen + iscsi_pad4(p->dlen) + (p->dd ? ISCSI_DIGEST_LEN : 0);
	return len;
}

/* Write as much of the queue as the socket takes. Returns 0, or -1 when the
 * connection was closed. */
int iscsi_conn_flush(struct iscsi_conn *c)
{
	while (c->txq && !c->closing) {
		struct iovec iov[ISCSI_TX_IOV];
		int n = 0;
		uint32_t skip = c->tx_done;
		ssize_t w;

		for (struct iscsi_txpdu *p = c->txq; p && n < ISCSI_TX_IOV - 5; p = p->next) {
			n += pdu_iov(c, p, skip, iov + n, ISCSI_TX_IOV - n);
			skip = 0;
		}
		w = writev(c->fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				if (!c->tx_epollout) {
					c->tx_epollout = true;
					iscsi_conn_update_events(c);
				}
				return 0;
			}
			qb_log(LOG_INFO, "iscsi: %s: write: %s", c->peer, strerror(errno));
			iscsi_conn_close(c, "write error");
			return -1;
		}
		/* retire fully written PDUs */
		uint64_t left = (uint64_t)w;
		while (c->txq && left) {
			struct iscsi_txpdu *p = c->txq;
			uint32_t rest = pdu_wire_len(c, p) - c->tx_done;
			if (left < rest) {
				c->tx_done += (uint32_t)left;
				left = 0;
				break;
			}
			left -= rest;
			c->tx_done = 0;
			c->txq = p->next;
			if (!c->txq)
				c->txq_tail = &c->txq;
			if (p->sent)
				p->sent(c, p);
			iscsi_pdu_put(c, p);
			if (c->closing)
				return -1;
		}
		if (c->rx_paused && c->tx_mem <= c->lim_tx_backlog / 2) {
			/* the peer collected its answers: read again */
			c->rx_paused = false;
			iscsi_conn_update_events(c);
		}
	}
	if (!c->closing && (c->tx_epollout || c->rx_paused)) {
		/* queue empty: nothing is held for the peer any more */
		c->tx_epollout = false;
		c->rx_paused = false;
		iscsi_conn_update_events(c);
	}
	return c->closing ? -1 : 0;
}

void iscsi_conn_writable(struct iscsi_conn *c)
{
	iscsi_conn_flush(c);
}

/* Drop every queued PDU (connection closing). */
void iscsi_tx_free_all(struct iscsi_conn *c)
{
	struct iscsi_txpdu *p, *n;

	for (p = c->txq; p; p = n) {
		n = p->next;
		iscsi_pdu_put(c, p);
	}
	c->txq = NULL;
	c->txq_tail = &c->txq;
	c->tx_done = 0;
	for (p = c->tx_free; p; p = n) {
		n = p->next;
		free(p);
	}
	c->tx_free = NULL;
}

/* Reactor idle hook: flush every connection that queued PDUs this iteration,
 * so responses produced by one wakeup leave in one writev. */
void iscsi_reactor_idle(void *arg)
{
	struct iscsi_reactor *ir = arg;

	iscsi_rx_run_pending(ir);   /* PDUs a receive budget left in a buffer (rx.c) */
	while (ir->dirty) {
		struct iscsi_conn *c = ir->dirty;
		ir->dirty = c->dirty_next;
		c->dirty_next = NULL;
		c->tx_dirty = false;
		if (!c->closing)
			iscsi_conn_flush(c);
		iscsi_conn_maybe_free(c);
	}
	iscsi_rx_wake_pending(ir);
}

void iscsi_send_reject(struct iscsi_conn *c, const uint8_t *bhs, uint8_t reason)
{
	struct iscsi_txpdu *p = iscsi_pdu_get(c);

	if (!p)
		return;
	/* RFC 7143 11.17: the data segment carries the rejected header */
	if (iscsi_pdu_copy_data(p, bhs, ISCSI_BHS_LEN) < 0) {
		iscsi_pdu_put(c, p);
		return;
	}
	p->bhs[ISCSI_BHS_OPCODE] = ISCSI_OP_REJECT;
	p->bhs[ISCSI_BHS_FLAGS] = ISCSI_FLAG_FINAL;
	p->bhs[ISCSI_REJECT_REASON] = reason;
	put_be32(p->bhs + ISCSI_BHS_ITT, ISCSI_RSVD_TAG);
	iscsi_pdu_set_sn(c, p->bhs, true);
	iscsi_pdu_queue(c, p);
}
