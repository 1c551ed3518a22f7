/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The peer link: listening and connecting, the authenticated handshake,
 * framing of received bytes into checked messages dispatched through the
 * message table, the batched transmit queue (writev) and keepalive. Runs on
 * the repl reactor only. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "reactor.h"
#include "repl/repl_int.h"
#include "util/be.h"
#include "util/bufpool.h"
#include "util/log.h"
#include "util/sockbuf.h"

#define REPL_BODY_CAP (REPL_BM_RUNS + REPL_BM_RUN_SIZE * REPL_BM_MAX_RUNS)
#define REPL_WRITEV_IOVS 256             /* iovecs per writev (IOV_MAX is 1024) */
#define REPL_RX_ROUNDS 32
#define REPL_RX_DIRECT_MIN (32u << 10)  /* payloads from this size on: no staging copy at all */
#define REPL_RX_NEXT_HDR (REPL_HDR_SIZE + REPL_DATA_SIZE)  /* what is read behind such a payload */

static void conn_io(struct reactor *r, int fd, uint32_t events, void *arg);

static unsigned conn_phase(const struct repl_conn *c)
{
	return c->st == CS_UP ? REPL_PH_RUNNING : REPL_PH_HANDSHAKE;
}

bool repl_conn_up(void)
{
	return repl_eng.conn && repl_eng.conn->st == CS_UP && !repl_eng.conn->closing;
}

/* ---------------------------------------------------------------- sockaddr */

static int make_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return AF_INET6;
	}
	return -1;
}

/* The link's congestion control. A dedicated replication link is a short,
 * lossless path whose sender is application-limited and bursty (a queue depth
 * of writes goes out at once): BBR, which some hosts make the system default,
 * paces such a flow by its own bandwidth estimate and probes the RTT with a
 * tiny window; measured on a 10gbit link, replicated 128K writes ran about a
 * quarter faster with cubic (docs/BENCHMARKS.md). "system" keeps the default. */
static void tune_congestion(int fd)
{
	const char *want = repl_eng.tcp_congestion;
	char used[16] = "";
	socklen_t len = sizeof(used);
	static bool warned;

	if (want[0] && strcmp(want, "system") != 0 &&
	    setsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, want, (socklen_t)strlen(want)) < 0 && !warned) {
		warned = true;      /* once: every reconnect would say the same */
		qb_log(LOG_WARNING, "repl: tcp_congestion '%s' not available (%s): the link keeps the kernel's default",
		       want, strerror(errno));
	}
	if (getsockopt(fd, IPPROTO_TCP, TCP_CONGESTION, used, &len) < 0)
		snprintf(used, sizeof(used), "unknown");
	used[sizeof(used) - 1] = 0;
	pthread_mutex_lock(&repl_eng.stat_lock);
	memcpy(repl_eng.tcp_congestion_used, used, sizeof(used));
	pthread_mutex_unlock(&repl_eng.stat_lock);
}

static void tune_socket(int fd)
{
	int one = 1, buf = 4 << 20;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sockbuf_set(fd, buf, buf);
	tune_congestion(fd);
}

/* ---------------------------------------------------------------- transmit */

struct repl_txitem *repl_tx_small(struct repl_conn *c, uint16_t type, uint32_t vol, size_t body_len, uint8_t **body)
{
	struct repl_txitem *it = repl_eng.tx_free;
	size_t total = REPL_HDR_SIZE + body_len;

	if (it)
		repl_eng.tx_free = (struct repl_txitem *)(void *)it->data;
	else if (!(it = malloc(sizeof(*it))))
		return NULL;
	memset(it, 0, offsetof(struct repl_txitem, small));
	if (total > sizeof(it->small)) {
		it->data = calloc(1, total);
		if (!it->data) {
			free(it);
			return NULL;
		}
		it->large = true;
	} else {
		it->data = it->small;
		memset(it->small, 0, total);
	}
	it->datalen = it->total = total;
	repl_hdr_put(it->data, type, (uint32_t)body_len, vol, ++c->tx_seq);
	*body = it->data + REPL_HDR_SIZE;
	return it;
}

static void tx_release(struct repl_txitem *it)
{
	if (it->req) {
		/* embedded in a request, which owns it: the socket no longer reads
		 * the request's buffers, so it may now complete (or be freed) */
		repl_tx_released(it->req);
		return;
	}
	if (it->large)
		free(it->data);
	it->data = (uint8_t *)(void *)repl_eng.tx_free;     /* free list link */
	repl_eng.tx_free = it;
}

/* Every message leaves in the order of its sequence number, which it got when
 * it was made: nothing may overtake the queue (a keepalive that did broke the
 * peer's sequence check whenever a backlog was waiting). Liveness does not
 * need it to: any byte received counts, not only a PING_ACK. */
void repl_tx_queue(struct repl_conn *c, struct repl_txitem *it)
{
	rl_add_tail(&c->txq, &it->link);
	c->txq_items++;
}

void repl_tx_req(struct repl_conn *c, struct repl_req *rq, uint16_t type, uint32_t vol, size_t fixed_len)
{
	struct repl_txitem *it = &rq->tx;

	it->req = rq;
	it->hdrlen = REPL_HDR_SIZE + fixed_len;
	it->data = NULL;
	it->large = false;
	it->sent = 0;
	it->total = it->hdrlen + it->paylen;
	repl_hdr_put(it->hdr, type, (uint32_t)(fixed_len + it->paylen), vol, ++c->tx_seq);
	rq->seq = c->tx_seq;
	rq->epoch = c->epoch;
	repl_tx_queue(c, it);
}

/* Queue a small message on the established link; its body to fill, NULL when
 * the link is down. */
static uint8_t *send_small(uint16_t type, uint32_t vol, size_t body_len)
{
	struct repl_conn *c = repl_eng.conn;
	struct repl_txitem *it;
	uint8_t *body;

	if (!repl_conn_up())
		return NULL;
	it = repl_tx_small(c, type, vol, body_len, &body);
	if (!it) {
		repl_conn_fail(c, "out of memory queueing a message");
		return NULL;
	}
	repl_tx_queue(c, it);
	return body;
}

uint8_t *repl_send(uint16_t type, struct repl_vol *v, size_t body_len)
{
	return send_small(type, v ? (uint32_t)v->index : REPL_VOL_NONE, body_len);
}

static void conn_want_out(struct repl_conn *c, bool on)
{
	if (c->epollout == on || c->fd < 0)
		return;
	c->epollout = on;
	reactor_mod_fd(repl_eng.r, c->fd, EPOLLIN | (on ? EPOLLOUT : 0));
}

static void conn_flush(struct repl_conn *c)
{
	if (c->st == CS_CONNECTING)
		return;         /* EPOLLOUT reports the connect: dropping it would hide that */
	if (c->tx_hold_until_ms) {
		if (reactor_now_ms() < c->tx_hold_until_ms)
			return;         /* the tick wakes the loop, a later flush sends */
		c->tx_hold_until_ms = 0;
	}
	while (!c->closing && !rl_empty(&c->txq)) {
		struct iovec iov[REPL_WRITEV_IOVS];
		int n = 0;

		for (struct repl_link *l = c->txq.next; l != &c->txq && n < REPL_WRITEV_IOVS; l = l->next) {
			struct repl_txitem *it = rl_entry(l, struct repl_txitem, link);
			size_t off = it->sent;

			if (it->data) {
				iov[n++] = (struct iovec){ it->data + off, it->datalen - off };
				continue;
			}
			if (off < it->hdrlen) {
				iov[n++] = (struct iovec){ it->hdr + off, it->hdrlen - off };
				off = 0;
			} else {
				off -= it->hdrlen;
			}
			size_t left = it->paylen;
			for (int i = 0; i < it->iovcnt && left && n < REPL_WRITEV_IOVS; i++) {
				size_t len = it->iov[i].iov_len < left ? it->iov[i].iov_len : left;
				left -= len;
				if (off >= len) {
					off -= len;
					continue;
				}
				iov[n++] = (struct iovec){ (uint8_t *)it->iov[i].iov_base + off, len - off };
				off = 0;
			}
			if (left)
				break;          /* out of iovecs inside this item */
		}
		ssize_t w = writev(c->fd, iov, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				conn_want_out(c, true);
				return;
			}
			if (errno == EINTR)
				continue;
			char why[96];
			snprintf(why, sizeof(why), "send failed: %s", strerror(errno));
			repl_conn_fail(c, why);
			return;
		}
		size_t done = (size_t)w;
		while (done && !rl_empty(&c->txq)) {
			struct repl_txitem *it = rl_entry(c->txq.next, struct repl_txitem, link);
			size_t left = it->total - it->sent;

			if (done < left) {
				it->sent += done;
				done = 0;
				break;
			}
			done -= left;
			it->sent = it->total;
			rl_del(&it->link);
			c->txq_items--;
			tx_release(it);
		}
	}
	if (!c->closing)
		conn_want_out(c, false);
}

static void conn_drop_txq(struct repl_conn *c)
{
	while (!rl_empty(&c->txq)) {
		struct repl_txitem *it = rl_entry(c->txq.next, struct repl_txitem, link);
		rl_del(&it->link);
		tx_release(it);
	}
	c->txq_items = 0;
}

/* Idle hook: one batched writev pass per loop iteration. */
static void repl_flush_hook(void *arg)
{
	if (repl_eng.conn && !repl_eng.conn->closing)
		conn_flush(repl_eng.conn);
	for (struct repl_link *l = repl_eng.pending.next; l != &repl_eng.pending;) {
		struct repl_conn *c = rl_entry(l, struct repl_conn, link);
		l = l->next;
		if (!c->closing)
			conn_flush(c);
	}
}

/* ---------------------------------------------------------------- lifetime */

static struct repl_conn *conn_new(int fd, bool outbound, const char *addr)
{
	struct repl_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->stage = malloc(REPL_STAGE_SIZE);
	c->body = malloc(REPL_BODY_CAP);
	if (!c->stage || !c->body) {
		free(c->stage);
		free(c->body);
		free(c);
		return NULL;
	}
	c->body_cap = REPL_BODY_CAP;
	c->fd = fd;
	c->outbound = outbound;
	c->epoch = ++repl_eng.epoch;
	c->created_ms = c->last_rx_ms = reactor_now_ms();
	snprintf(c->addr, sizeof(c->addr), "%s", addr);
	rl_init(&c->txq);
	c->link.prev = c->link.next = NULL;
	return c;
}

static void conn_free(void *arg)
{
	struct repl_conn *c = arg;

	conn_drop_txq(c);
	if (c->payload)
		buf_free(c->payload, c->payload_cap);
	free(c->stage);
	free(c->body);
	free(c);
}

void repl_conn_fail(struct repl_conn *c, const char *why)
{
	bool was_main = c == repl_eng.conn, was_up = c->st == CS_UP;

	if (c->closing)
		return;
	c->closing = true;
	if (was_up)
		qb_log(LOG_WARNING, "repl: connection to %s (%s) lost: %s", repl_eng.peer_name, c->addr, why);
	else
		qb_log(LOG_WARNING, "repl: connection %s %s closed during handshake: %s",
		       c->outbound ? "to" : "from", c->addr, why);
	if (c->fd >= 0) {
		reactor_del_fd(repl_eng.r, c->fd);
		close(c->fd);
		c->fd = -1;
	}
	conn_drop_txq(c);
	if (c->link.next)
		rl_del(&c->link);
	if (was_main) {
		repl_eng.conn = NULL;
		repl_eng.next_connect_ms = reactor_now_ms() + repl_eng.connect_retry_ms;
		if (was_up)
			repl_link_changed(false);
	}
	reactor_post(repl_eng.r, conn_free, c);
}

/* Say why before closing (best effort, never blocks). */
static void conn_refuse(struct repl_conn *c, enum repl_err_code code, const char *why)
{
	uint8_t msg[REPL_HDR_SIZE + REPL_ERROR_MAX];
	size_t tl = strlen(why);

	if (tl > REPL_ERROR_MAX - REPL_ERROR_TEXT)
		tl = REPL_ERROR_MAX - REPL_ERROR_TEXT;
	repl_hdr_put(msg, REPL_MSG_ERROR, (uint32_t)(REPL_ERROR_TEXT + tl), REPL_VOL_NONE, ++c->tx_seq);
	put_be32(msg + REPL_HDR_SIZE + REPL_ERROR_CODE, code);
	memcpy(msg + REPL_HDR_SIZE + REPL_ERROR_TEXT, why, tl);
	if (c->fd >= 0 && rl_empty(&c->txq))
		(void)!send(c->fd, msg, REPL_HDR_SIZE + REPL_ERROR_TEXT + tl, MSG_DONTWAIT | MSG_NOSIGNAL);
	repl_conn_fail(c, why);
}

static void conn_send_hello(struct repl_conn *c)
{
	struct repl_txitem *it;
	uint8_t *body;

	c->me.min_ver = REPL_PROTO_MIN;
	c->me.max_ver = REPL_PROTO_MAX;
	snprintf(c->me.name, sizeof(c->me.name), "%s", repl_eng.node);
	if (repl_random(c->me.challenge, sizeof(c->me.challenge)) < 0) {
		repl_conn_fail(c, "no random bytes for the challenge");
		return;
	}
	it = repl_tx_small(c, REPL_MSG_HELLO, REPL_VOL_NONE, REPL_HELLO_SIZE, &body);
	if (!it) {
		repl_conn_fail(c, "out of memory");
		return;
	}
	repl_hello_put(body, &c->me);
	repl_tx_queue(c, it);
	c->st = CS_HANDSHAKE;
}

static void conn_send_auth(struct repl_conn *c)
{
	struct repl_txitem *it;
	uint8_t *body;
	const uint8_t *cc = c->outbound ? c->me.challenge : c->peer.challenge;
	const uint8_t *ca = c->outbound ? c->peer.challenge : c->me.challenge;
	const char *nc = c->outbound ? repl_eng.node : repl_eng.peer_name;
	const char *na = c->outbound ? repl_eng.peer_name : repl_eng.node;

	it = repl_tx_small(c, REPL_MSG_AUTH, REPL_VOL_NONE, REPL_AUTH_SIZE, &body);
	if (!it) {
		repl_conn_fail(c, "out of memory");
		return;
	}
	put_be16(body + REPL_AUTH_VERSION, c->version);
	repl_auth_mac(repl_eng.secret, c->outbound, c->version, cc, ca, nc, na, body + REPL_AUTH_MAC);
	repl_tx_queue(c, it);
	c->sent_auth = true;
}

/* Both ends authenticated: this connection becomes the link. */
static void conn_established(struct repl_conn *c)
{
	c->st = CS_UP;
	if (c->link.next)
		rl_del(&c->link);
	if (repl_eng.conn && repl_eng.conn != c) {
		qb_log(LOG_NOTICE, "repl: new authenticated connection from %s replaces the old one", c->addr);
		repl_conn_fail(repl_eng.conn, "replaced by a new connection from the peer");
	}
	repl_eng.conn = c;
	qb_log(LOG_NOTICE, "repl: connected to %s (%s), protocol version %u", repl_eng.peer_name, c->addr,
	       c->version);
	repl_link_changed(true);
}

/* ---------------------------------------------------------------- link-level handlers */

static int h_hello(struct repl_conn *c, const struct repl_msg *m)
{
	char why[200];
	int ver;

	if (c->got_hello) {
		conn_refuse(c, REPL_ERR_PROTOCOL, "second HELLO");
		return -1;
	}
	if (repl_hello_get(m->body, &c->peer) < 0) {
		conn_refuse(c, REPL_ERR_PROTOCOL, "HELLO with a malformed node name");
		return -1;
	}
	c->got_hello = true;
	ver = repl_negotiate_version(REPL_PROTO_MIN, REPL_PROTO_MAX, c->peer.min_ver, c->peer.max_ver);
	if (ver < 0) {
		snprintf(why, sizeof(why), "no common protocol version (we speak %u..%u, peer %u..%u)", REPL_PROTO_MIN,
			 REPL_PROTO_MAX, c->peer.min_ver, c->peer.max_ver);
		conn_refuse(c, REPL_ERR_VERSION, why);
		return -1;
	}
	c->version = (uint16_t)ver;
	if (strcmp(c->peer.name, repl_eng.peer_name) != 0) {
		snprintf(why, sizeof(why), "peer calls itself '%.63s', expected '%.63s'", c->peer.name,
			 repl_eng.peer_name);
		conn_refuse(c, REPL_ERR_NAME, why);
		return -1;
	}
	if (memcmp(c->peer.challenge, c->me.challenge, REPL_CHALLENGE_LEN) == 0) {
		conn_refuse(c, REPL_ERR_AUTH, "peer echoed our challenge (reflection)");
		return -1;
	}
	if (c->outbound)
		conn_send_auth(c);
	return 0;
}

static int h_auth(struct repl_conn *c, const struct repl_msg *m)
{
	const uint8_t *cc = c->outbound ? c->me.challenge : c->peer.challenge;
	const uint8_t *ca = c->outbound ? c->peer.challenge : c->me.challenge;
	const char *nc = c->outbound ? repl_eng.node : repl_eng.peer_name;
	const char *na = c->outbound ? repl_eng.peer_name : repl_eng.node;

	if (!c->got_hello || c->peer_authed || (c->outbound && !c->sent_auth)) {
		conn_refuse(c, REPL_ERR_PROTOCOL, "AUTH out of order");
		return -1;
	}
	if (get_be16(m->body + REPL_AUTH_VERSION) != c->version) {
		conn_refuse(c, REPL_ERR_VERSION, "AUTH names another protocol version than negotiated");
		return -1;
	}
	/* the peer speaks as connector when we are the acceptor */
	if (!repl_auth_verify(repl_eng.secret, !c->outbound, c->version, cc, ca, nc, na, m->body + REPL_AUTH_MAC)) {
		qb_log(LOG_ERR, "repl: authentication of %s (%s) failed: wrong shared secret? Closing.",
		       repl_eng.peer_name, c->addr);
		conn_refuse(c, REPL_ERR_AUTH, "authentication failed (shared secret mismatch)");
		return -1;
	}
	c->peer_authed = true;
	if (!c->outbound)
		conn_send_auth(c);
	if (c->closing)
		return -1;      /* our AUTH could not be queued (out of memory): closed, queued for freeing */
	conn_established(c);
	return 0;
}

static int h_error(struct repl_conn *c, const struct repl_msg *m)
{
	char why[REPL_ERROR_MAX + 64];
	size_t tl = m->len - REPL_ERROR_TEXT;

	snprintf(why, sizeof(why), "peer refused (code %u): %.*s", get_be32(m->body + REPL_ERROR_CODE), (int)tl,
		 (const char *)m->body + REPL_ERROR_TEXT);
	for (char *p = why; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	qb_log(LOG_ERR, "repl: %s", why);
	repl_conn_fail(c, why);
	return -1;
}

static int h_ping(struct repl_conn *c, const struct repl_msg *m)
{
	uint8_t *b = repl_send(REPL_MSG_PING_ACK, NULL, REPL_PING_SIZE);

	if (b)
		memcpy(b, m->body, REPL_PING_SIZE);
	return 0;
}

/* Barrier tokens have the top bit set; keepalive stamps are ms clocks. */
#define REPL_BARRIER_BIT (1ull << 63)

uint64_t repl_conn_barrier(void)
{
	/* behind what is queued, like every message */
	uint8_t *body = send_small(REPL_MSG_PING, REPL_VOL_NONE, REPL_PING_SIZE);

	if (!body)
		return 0;
	put_be64(body + REPL_PING_STAMP, ++repl_eng.barrier_sent | REPL_BARRIER_BIT);
	return repl_eng.barrier_sent;
}

void repl_conn_hold_tx(unsigned ms)
{
	if (repl_eng.conn)
		repl_eng.conn->tx_hold_until_ms = reactor_now_ms() + ms;
}

static int h_ping_ack(struct repl_conn *c, const struct repl_msg *m)
{
	uint64_t stamp = get_be64(m->body + REPL_PING_STAMP);

	/* any received byte already proved liveness; a barrier's answer also
	 * wakes the main thread waiting for it (repl_state.c) */
	if ((stamp & REPL_BARRIER_BIT) && (stamp & ~REPL_BARRIER_BIT) > repl_eng.barrier_acked &&
	    (stamp & ~REPL_BARRIER_BIT) <= repl_eng.barrier_sent) {
		repl_eng.barrier_acked = stamp & ~REPL_BARRIER_BIT;
		repl_drain_kick();
	}
	return 0;
}

static repl_msg_handler link_handler(uint16_t type)
{
	switch (type) {
	case REPL_MSG_HELLO: return h_hello;
	case REPL_MSG_AUTH: return h_auth;
	case REPL_MSG_ERROR: return h_error;
	case REPL_MSG_PING: return h_ping;
	case REPL_MSG_PING_ACK: return h_ping_ack;
	default: return NULL;
	}
}

/* ---------------------------------------------------------------- receive */

uint8_t *repl_conn_take_payload(struct repl_conn *c, size_t *cap)
{
	uint8_t *p = c->payload;

	*cap = c->payload_cap;
	c->payload = NULL;
	c->payload_cap = 0;
	return p;
}

static int conn_dispatch(struct repl_conn *c)
{
	struct repl_msg *m = &c->cur;
	char why[160];
	repl_msg_handler h;
	int rc;

	m->body = c->body;
	m->payload = c->payload_need ? c->payload : NULL;
	m->payload_len = (uint32_t)c->payload_need;
	if (repl_body_check(m, why, sizeof(why)) < 0) {
		if (m->type == REPL_MSG_DATA || m->type == REPL_MSG_RS_DATA)
			qb_log(LOG_ERR, "repl: %s (seq %llu): rejecting and reconnecting", why,
			       (unsigned long long)m->seq);
		conn_refuse(c, strstr(why, "CRC") ? REPL_ERR_CRC : REPL_ERR_PROTOCOL, why);
		return -1;
	}
	h = link_handler(m->type);
	if (!h)
		h = repl_msg_table[m->type].handler;
	rc = h ? h(c, m) : 0;
	if (c->payload && !c->closing) {
		buf_free(c->payload, c->payload_cap);
		c->payload = NULL;
		c->payload_cap = 0;
	}
	c->rx_state = RX_HDR;
	c->hdr_have = 0;
	return c->closing ? -1 : rc;
}

static int conn_hdr_done(struct repl_conn *c)
{
	const struct repl_msg_desc *d;
	enum repl_hdr_err e = repl_hdr_check(c->hdr, conn_phase(c), c->rx_seq + 1, &c->cur);
	char why[160];

	if (e != REPL_HDR_OK) {
		if (e == REPL_HDR_BAD_MAGIC && c->st != CS_UP)
			snprintf(why, sizeof(why), "garbage instead of a handshake (%s)", repl_hdr_err_name(e));
		else
			snprintf(why, sizeof(why), "%s (type %u %s, length %u)", repl_hdr_err_name(e), c->cur.type,
				 repl_msg_name(c->cur.type), c->cur.len);
		qb_log(LOG_ERR, "repl: %s from %s: %s", c->st == CS_UP ? "protocol error" : "handshake refused",
		       c->addr, why);
		conn_refuse(c, REPL_ERR_PROTOCOL, why);
		return -1;
	}
	c->rx_seq++;
	d = &repl_msg_table[c->cur.type];
	c->body_need = d->fixed_len ? d->fixed_len : c->cur.len;
	c->body_have = 0;
	c->payload_need = c->cur.len - c->body_need;
	c->payload_have = 0;
	/* after a big payload, read just the next header (the next payload goes
	 * straight to its buffer too); after any other message, in bulk again
	 * (a Secondary promoted on the same link reads DATA_ACKs from now on) */
	c->rx_large = c->payload_need >= REPL_RX_DIRECT_MIN;
	if (c->payload_need) {
		c->payload = buf_alloc(c->payload_need);
		if (!c->payload) {
			repl_conn_fail(c, "out of memory for a payload");
			return -1;
		}
		c->payload_cap = c->payload_need;
	}
	c->rx_state = RX_BODY;
	if (c->body_need == 0 && c->payload_need == 0)
		return conn_dispatch(c);
	return 0;
}

/* Consume staged bytes; -1 when the connection went away. */
static int conn_consume(struct repl_conn *c)
{
	while (c->stage_off < c->stage_len) {
		size_t avail = c->stage_len - c->stage_off, n;
		const uint8_t *src = c->stage + c->stage_off;

		switch (c->rx_state) {
		case RX_HDR:
			n = REPL_HDR_SIZE - c->hdr_have;
			n = n < avail ? n : avail;
			memcpy(c->hdr + c->hdr_have, src, n);
			c->hdr_have += n;
			c->stage_off += n;
			if (c->hdr_have == REPL_HDR_SIZE && conn_hdr_done(c) < 0)
				return -1;
			break;
		case RX_BODY:
			n = c->body_need - c->body_have;
			n = n < avail ? n : avail;
			memcpy(c->body + c->body_have, src, n);
			c->body_have += n;
			c->stage_off += n;
			if (c->body_have == c->body_need) {
				if (c->payload_need) {
					c->rx_state = RX_PAYLOAD;
				} else if (conn_dispatch(c) < 0) {
					return -1;
				}
			}
			break;
		case RX_PAYLOAD:
			n = c->payload_need - c->payload_have;
			n = n < avail ? n : avail;
			memcpy(c->payload + c->payload_have, src, n);
			c->payload_have += n;
			c->stage_off += n;
			if (c->payload_have == c->payload_need && conn_dispatch(c) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

/* Socket reads. Small messages are read in bulk into the staging buffer and
 * parsed from there (one read for a whole batch of DATA or DATA_ACKs). A
 * payload being received goes straight into its buffer with one readv, and
 * only what follows it into the stage: after a big payload (REPL_RX_DIRECT_MIN)
 * just the next header and fixed part, so that the next big payload is not
 * read into the stage and copied either (resync and 128K writes arrive without
 * any user-space copy). A short read means the socket is drained: the
 * level-triggered reactor calls again when more arrives, no read is spent on
 * EAGAIN. */
static void conn_rx(struct repl_conn *c)
{
	for (int round = 0; round < REPL_RX_ROUNDS && !c->closing; round++) {
		struct iovec iov[2];
		size_t want, direct = 0;
		ssize_t n;

		size_t stage = c->rx_large ? REPL_RX_NEXT_HDR : REPL_STAGE_SIZE;

		if (c->rx_state == RX_PAYLOAD) {
			direct = c->payload_need - c->payload_have;
			iov[0] = (struct iovec){ c->payload + c->payload_have, direct };
			iov[1] = (struct iovec){ c->stage, stage };
			want = direct + stage;
			n = readv(c->fd, iov, 2);
		} else {
			want = stage;
			n = read(c->fd, c->stage, stage);
		}
		if (n > 0) {
			size_t got = (size_t)n, pn = got < direct ? got : direct;

			c->last_rx_ms = reactor_now_ms();
			c->ping_sent_ms = 0;
			if (pn) {
				c->payload_have += pn;
				if (c->payload_have == c->payload_need && conn_dispatch(c) < 0)
					return;
			}
			c->stage_len = got - pn;
			c->stage_off = 0;
			if (c->stage_len && conn_consume(c) < 0)
				return;
			if (got < want)
				return;
			continue;
		}
		if (n == 0) {
			repl_conn_fail(c, "peer closed the connection");
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (errno == EINTR)
			continue;
		char why[96];
		snprintf(why, sizeof(why), "receive failed: %s", strerror(errno));
		repl_conn_fail(c, why);
		return;
	}
}

static void conn_io(struct reactor *r, int fd, uint32_t events, void *arg)
{
	struct repl_conn *c = arg;

	if (c->closing)
		return;
	if (c->st == CS_CONNECTING) {
		int err = 0;
		socklen_t el = sizeof(err);

		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
			err = errno;
		if (err) {
			qb_log(LOG_DEBUG, "repl: connect to %s: %s", c->addr, strerror(err));
			c->closing = true;          /* quiet: the peer is simply not there yet */
			reactor_del_fd(r, fd);
			close(fd);
			c->fd = -1;
			repl_eng.conn = NULL;
			repl_eng.next_connect_ms = reactor_now_ms() + repl_eng.connect_retry_ms;
			reactor_post(r, conn_free, c);
			return;
		}
		c->epollout = true;
		conn_want_out(c, false);
		c->created_ms = reactor_now_ms();
		conn_send_hello(c);
		return;
	}
	/* What is queued goes first: it carries the ACK of what the socket holds,
	 * so reading that does not make TCP send a pure ACK (as iscsi/conn.c). */
	if ((events & EPOLLIN) && !rl_empty(&c->txq) && !c->epollout)
		conn_flush(c);
	if (!c->closing && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_rx(c);
	if (!c->closing && (events & EPOLLOUT))
		conn_flush(c);
}

/* ---------------------------------------------------------------- listen / connect */

#define REPL_MAX_PENDING 16

static uint64_t pending_full_logged_ms;

static int pending_count(void)
{
	int n = 0;

	for (struct repl_link *l = repl_eng.pending.next; l != &repl_eng.pending; l = l->next)
		n++;
	return n;
}

static void listen_cb(struct reactor *r, int fd, uint32_t events, void *arg)
{
	for (int i = 0; i < 8; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		char host[INET6_ADDRSTRLEN] = "?", addr[80];
		int cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct repl_conn *c;

		if (cfd < 0)
			return;
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
		snprintf(addr, sizeof(addr), "%s", host);
		if (repl_eng.stopping) {
			close(cfd);
			continue;
		}
		/* anyone who reaches the port can connect: connections still in the
		 * handshake (buffers, a descriptor each until timeout_ms) are
		 * bounded; the real peer retries every connect_retry_ms */
		if (pending_count() >= REPL_MAX_PENDING) {
			uint64_t now = reactor_now_ms();
			if (now - pending_full_logged_ms >= 10000) {
				pending_full_logged_ms = now;
				qb_log(LOG_WARNING, "repl: %d connections already in the handshake: refusing %s "
				       "(someone other than the peer connecting?)", REPL_MAX_PENDING, addr);
			}
			close(cfd);
			continue;
		}
		tune_socket(cfd);
		c = conn_new(cfd, false, addr);
		if (!c || reactor_add_fd(r, cfd, EPOLLIN, conn_io, c) < 0) {
			close(cfd);
			if (c)
				conn_free(c);
			continue;
		}
		rl_add_tail(&repl_eng.pending, &c->link);
		qb_log(LOG_INFO, "repl: incoming connection from %s", addr);
		conn_send_hello(c);
	}
}

/* The node whose name sorts first connects; the other only accepts. */
static bool we_connect(void)
{
	return strcmp(repl_eng.node, repl_eng.peer_name) < 0;
}

static void try_connect(uint64_t now)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char addr[80];
	int fd, af;

	if (repl_eng.conn || !we_connect() || now < repl_eng.next_connect_ms || repl_eng.stopping)
		return;
	repl_eng.next_connect_ms = now + repl_eng.connect_retry_ms;
	af = make_sockaddr(repl_eng.peer_addr, repl_eng.peer_port, &ss, &sl);
	if (af < 0)
		return;
	fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	tune_socket(fd);
	snprintf(addr, sizeof(addr), "%s%s%s:%u", af == AF_INET6 ? "[" : "", repl_eng.peer_addr,
		 af == AF_INET6 ? "]" : "", repl_eng.peer_port);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		qb_log(LOG_DEBUG, "repl: connect to %s: %s", addr, strerror(errno));
		close(fd);
		return;
	}
	struct repl_conn *c = conn_new(fd, true, addr);
	if (!c || reactor_add_fd(repl_eng.r, fd, EPOLLIN | EPOLLOUT, conn_io, c) < 0) {
		close(fd);
		if (c)
			conn_free(c);
		return;
	}
	c->st = CS_CONNECTING;
	c->epollout = true;
	repl_eng.conn = c;
}

int repl_conn_start(char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int one = 1, af, fd;

	rl_init(&repl_eng.pending);
	af = make_sockaddr(repl_eng.listen_addr, repl_eng.listen_port, &ss, &sl);
	if (af < 0) {
		snprintf(err, errlen, "replication listen address %s is not numeric", repl_eng.listen_addr);
		return -1;
	}
	fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 8) < 0) {
		snprintf(err, errlen, "cannot listen for replication on %s:%u: %s", repl_eng.listen_addr,
			 repl_eng.listen_port, strerror(errno));
		close(fd);
		return -1;
	}
	if (reactor_add_fd(repl_eng.r, fd, EPOLLIN, listen_cb, NULL) < 0 ||
	    reactor_add_idle_hook(repl_eng.r, repl_flush_hook, NULL) < 0) {
		snprintf(err, errlen, "cannot register the replication socket");
		close(fd);
		return -1;
	}
	repl_eng.listen_fd = fd;
	qb_log(LOG_NOTICE, "repl: node %s listening on %s:%u, peer %s at %s:%u (%s)", repl_eng.node,
	       repl_eng.listen_addr, repl_eng.listen_port, repl_eng.peer_name, repl_eng.peer_addr,
	       repl_eng.peer_port, we_connect() ? "we connect" : "the peer connects");
	return 0;
}

void repl_conn_stop(void)
{
	repl_eng.stopping = true;
	if (repl_eng.conn) {
		if (repl_eng.conn->st == CS_UP)
			conn_refuse(repl_eng.conn, REPL_ERR_SHUTDOWN, "peer is shutting down");
		else
			repl_conn_fail(repl_eng.conn, "shutting down");
	}
	while (!rl_empty(&repl_eng.pending))
		repl_conn_fail(rl_entry(repl_eng.pending.next, struct repl_conn, link), "shutting down");
	if (repl_eng.listen_fd >= 0) {
		reactor_del_fd(repl_eng.r, repl_eng.listen_fd);
		close(repl_eng.listen_fd);
		repl_eng.listen_fd = -1;
	}
	while (repl_eng.tx_free) {
		struct repl_txitem *it = repl_eng.tx_free;
		repl_eng.tx_free = (struct repl_txitem *)(void *)it->data;
		free(it);
	}
}

/* Keepalive, handshake timeout, reconnect. */
void repl_conn_tick(uint64_t now)
{
	struct repl_conn *c = repl_eng.conn;

	for (struct repl_link *l = repl_eng.pending.next; l != &repl_eng.pending;) {
		struct repl_conn *p = rl_entry(l, struct repl_conn, link);
		l = l->next;
		if (now - p->created_ms > repl_eng.timeout_ms)
			repl_conn_fail(p, "handshake timeout");
	}
	if (c && c->st == CS_CONNECTING && now - c->created_ms > repl_eng.timeout_ms) {
		repl_conn_fail(c, "connect timeout");
		c = NULL;
	}
	if (c && c->st == CS_HANDSHAKE && now - c->created_ms > repl_eng.timeout_ms) {
		repl_conn_fail(c, "handshake timeout");
		c = NULL;
	}
	if (c && c->st == CS_UP) {
		if (c->ping_sent_ms && now - c->ping_sent_ms > repl_eng.ping_timeout_ms &&
		    c->last_rx_ms < c->ping_sent_ms) {
			repl_conn_fail(c, "ping timeout: the peer did not answer");
			c = NULL;
		} else if (!c->ping_sent_ms && now - c->last_rx_ms >= repl_eng.ping_interval_ms) {
			uint8_t *b = repl_send(REPL_MSG_PING, NULL, REPL_PING_SIZE);
			if (b) {
				put_be64(b + REPL_PING_STAMP, now);
				c->ping_sent_ms = now;
			}
		}
	}
	if (!repl_eng.conn)
		try_connect(now);
}
