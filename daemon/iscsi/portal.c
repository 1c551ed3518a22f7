/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Network portals: one listening socket per portal group address, accepted on
 * the first reactor, socket options applied, and each new connection handed
 * to a reactor of the pool. */
#include "iscsi/iscsi_int.h"
#include "util/sockbuf.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <semaphore.h>

void iscsi_fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t len, bool with_port)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
		if (with_port)
			snprintf(buf, len, "%s:%u", a, port);
		else
			snprintf(buf, len, "%s", a);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
		/* an IPv4-mapped address is shown as IPv4 */
		if (strncmp(a, "::ffff:", 7) == 0 && strchr(a + 7, '.'))
			memmove(a, a + 7, strlen(a + 7) + 1);
		if (with_port)
			snprintf(buf, len, strchr(a, ':') ? "[%s]:%u" : "%s:%u", a, port);
		else
			snprintf(buf, len, "%s", a);
	} else {
		snprintf(buf, len, "?");
	}
}

static void set_sockopts(int fd)
{
	int one = 1, v;
	struct tconf_global gc;

	pthread_mutex_lock(&g_iscsi.lock);
	gc = g_iscsi.gc;
	pthread_mutex_unlock(&g_iscsi.lock);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sockbuf_set(fd, gc.sndbuf, gc.rcvbuf);
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	v = 30;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
	v = 10;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, sizeof(v));
	v = 3;
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
	/* unacknowledged data for longer than this kills the connection */
	v = (gc.nop_timeout > 0 ? gc.nop_timeout : 10) * 1000 + 20000;
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, sizeof(v));
}

static int count_conns_locked(void)
{
	int n = 0;
	for (struct iscsi_session *s = g_iscsi.sessions; s; s = s->next)
		n += s->nconns;
	return n;
}

static void portal_accept(struct reactor *r, int fd, uint32_t events, void *arg)
{
	struct iscsi_portal *pt = arg;

	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss, ls;
		socklen_t sl = sizeof(ss), ll = sizeof(ls);
		char peer[80], local[80];
		struct iscsi_conn *c;
		int cfd, limit, busy, total, pending, max_total, max_pending;
		static uint64_t last_refusal_log;

		cfd = accept4(fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				qb_log(LOG_WARNING, "iscsi: accept on %s:%u: %s", pt->addr, pt->port, strerror(errno));
			return;
		}
		iscsi_fmt_addr(&ss, peer, sizeof(peer), true);
		ls.ss_family = AF_UNSPEC;       /* for the connection observer if getsockname fails */
		if (getsockname(cfd, (struct sockaddr *)&ls, &ll) == 0)
			iscsi_fmt_addr(&ls, local, sizeof(local), false);
		else
			snprintf(local, sizeof(local), "%s", pt->addr);
		pthread_mutex_lock(&g_iscsi.lock);
		limit = g_iscsi.gc.max_sessions * (g_iscsi.gc.max_connections_per_session > 0 ?
						   g_iscsi.gc.max_connections_per_session : 1) + 16;
		busy = count_conns_locked();
		max_total = g_iscsi.gc.max_connections;
		max_pending = g_iscsi.gc.max_pending_logins;
		pthread_mutex_unlock(&g_iscsi.lock);
		/* docs/HARDENING.md: all connections, and those still logging in */
		iscsi_conn_counts(&total, &pending);
		if (g_iscsi.shutting_down || (g_iscsi.gc.max_sessions > 0 && busy >= limit) ||
		    (max_total > 0 && total >= max_total) || (max_pending > 0 && pending >= max_pending)) {
			if (reactor_now_ms() - last_refusal_log >= 1000) {   /* one line a second at most */
				last_refusal_log = reactor_now_ms();
				qb_log(LOG_WARNING, "iscsi: refusing connection from %s: connection limit (%d connections, "
				       "%d logging in)", peer, total, pending);
			}
			close(cfd);
			continue;
		}
		set_sockopts(cfd);
		c = iscsi_conn_create(cfd, pt->tag, peer, local);
		if (!c) {
			close(cfd);
			continue;
		}
		qb_log(LOG_DEBUG, "iscsi: connection from %s to %s:%u (tag %u)", peer, pt->addr, pt->port, pt->tag);
		iscsi_conn_observe(c->id, (const struct sockaddr *)&ls, (const struct sockaddr *)&ss);
		reactor_post(reactor_pool_pick(), iscsi_conn_attach, c);
	}
}

/* Run fn(arg) on reactor r and wait for it. */
struct sync_call {
	void (*fn)(void *);
	void *arg;
	sem_t done;
};

static void sync_trampoline(void *arg)
{
	struct sync_call *sc = arg;
	sc->fn(sc->arg);
	sem_post(&sc->done);
}

static void run_on(struct reactor *r, void (*fn)(void *), void *arg)
{
	struct sync_call sc = { .fn = fn, .arg = arg };

	if (!r || reactor_self() == r) {
		fn(arg);
		return;
	}
	sem_init(&sc.done, 0, 0);
	reactor_post(r, sync_trampoline, &sc);
	while (sem_wait(&sc.done) < 0 && errno == EINTR)
		;
	sem_destroy(&sc.done);
}

static void portal_register(void *arg)
{
	struct iscsi_portal *pt = arg;
	if (reactor_add_fd(pt->r, pt->fd, EPOLLIN, portal_accept, pt) < 0)
		qb_log(LOG_ERR, "iscsi: cannot watch portal %s:%u", pt->addr, pt->port);
}

static void portal_unregister(void *arg)
{
	struct iscsi_portal *pt = arg;
	reactor_del_fd(pt->r, pt->fd);
	close(pt->fd);
	pt->fd = -1;
}

static struct iscsi_portal *portal_open(const struct tconf_portal_group *pg, const struct tconf_listen *l,
					char *err, size_t errlen)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	struct iscsi_portal *pt;
	int fd, one = 1;

	if (strchr(l->addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(l->port);
		if (inet_pton(AF_INET6, l->addr, &s6->sin6_addr) != 1)
			goto bad_addr;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(l->port);
		if (inet_pton(AF_INET, l->addr[0] ? l->addr : "0.0.0.0", &s4->sin_addr) != 1)
			goto bad_addr;
		sl = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "portal %s:%u: socket: %s", l->addr, l->port, strerror(errno));
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* a floating portal address (docs/PORTALS.md) is bound on both nodes,
	 * also while the other node holds it */
	setsockopt(fd, ss.ss_family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP,
		   ss.ss_family == AF_INET6 ? IPV6_FREEBIND : IP_FREEBIND, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 256) < 0) {
		snprintf(err, errlen, "portal %s:%u (portal group %s): %s", l->addr, l->port, pg->name,
			 strerror(errno));
		close(fd);
		return NULL;
	}
	pt = calloc(1, sizeof(*pt));
	if (!pt) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	pt->fd = fd;
	pt->tag = pg->tag;
	pt->port = l->port;
	snprintf(pt->addr, sizeof(pt->addr), "%s", l->addr);
	snprintf(pt->pg_name, sizeof(pt->pg_name), "%s", pg->name);
	pt->r = reactor_pool_get(0);
	return pt;
bad_addr:
	snprintf(err, errlen, "portal group %s: bad listen address '%s'", pg->name, l->addr);
	return NULL;
}

static void portal_close(struct iscsi_portal *pt)
{
	if (pt->fd >= 0)
		run_on(pt->r, portal_unregister, pt);
	free(pt);
}

/* Open every listen address of conf. On error closes what it opened. */
int iscsi_portals_open(const struct tconf *conf, char *err, size_t errlen)
{
	struct iscsi_portal *list = NULL, *pt;

	for (size_t i = 0; i < conf->nportal_groups; i++) {
		const struct tconf_portal_group *pg = &conf->portal_groups[i];
		for (size_t j = 0; j < pg->nlisten; j++) {
			pt = portal_open(pg, &pg->listen[j], err, errlen);
			if (!pt) {
				while (list) {
					pt = list;
					list = pt->next;
					close(pt->fd);
					free(pt);
				}
				return -1;
			}
			pt->next = list;
			list = pt;
		}
	}
	for (pt = list; pt; pt = pt->next) {
		run_on(pt->r, portal_register, pt);
		qb_log(LOG_INFO, "iscsi: listening on %s%s%s:%u (portal group %s, tag %u)", strchr(pt->addr, ':') ? "[" : "",
		       pt->addr, strchr(pt->addr, ':') ? "]" : "", pt->port, pt->pg_name, pt->tag);
	}
	pthread_mutex_lock(&g_iscsi.lock);
	for (pt = list; pt && pt->next; pt = pt->next)
		;
	if (pt) {
		pt->next = g_iscsi.portals;
		g_iscsi.portals = list;
	}
	pthread_mutex_unlock(&g_iscsi.lock);
	return 0;
}

void iscsi_portals_close(void)
{
	struct iscsi_portal *list;

	pthread_mutex_lock(&g_iscsi.lock);
	list = g_iscsi.portals;
	g_iscsi.portals = NULL;
	pthread_mutex_unlock(&g_iscsi.lock);
	while (list) {
		struct iscsi_portal *pt = list;
		list = pt->next;
		portal_close(pt);
	}
}

/* Reload: close portals that disappeared or changed tag, open new ones. */
int iscsi_portals_sync(const struct tconf *conf, char *first_err, size_t errlen)
{
	struct iscsi_portal **pp, *keep = NULL, *drop = NULL;
	int failed = 0;

	pthread_mutex_lock(&g_iscsi.lock);
	pp = &g_iscsi.portals;
	while (*pp) {
		struct iscsi_portal *pt = *pp;
		bool found = false;
		for (size_t i = 0; i < conf->nportal_groups && !found; i++)
			for (size_t j = 0; j < conf->portal_groups[i].nlisten; j++)
				if (conf->portal_groups[i].tag == pt->tag &&
				    strcmp(conf->portal_groups[i].listen[j].addr, pt->addr) == 0 &&
				    conf->portal_groups[i].listen[j].port == pt->port)
					found = true;
		*pp = pt->next;
		if (found) {
			pt->next = keep;
			keep = pt;
		} else {
			pt->next = drop;
			drop = pt;
		}
	}
	g_iscsi.portals = keep;
	pthread_mutex_unlock(&g_iscsi.lock);
	while (drop) {
		struct iscsi_portal *pt = drop;
		drop = pt->next;
		qb_log(LOG_INFO, "iscsi: closing portal %s:%u", pt->addr, pt->port);
		portal_close(pt);
	}
	for (size_t i = 0; i < conf->nportal_groups; i++) {
		const struct tconf_portal_group *pg = &conf->portal_groups[i];
		for (size_t j = 0; j < pg->nlisten; j++) {
			bool have = false;
			char err[256];
			pthread_mutex_lock(&g_iscsi.lock);
			for (struct iscsi_portal *pt = g_iscsi.portals; pt; pt = pt->next)
				if (pt->tag == pg->tag && strcmp(pt->addr, pg->listen[j].addr) == 0 &&
				    pt->port == pg->listen[j].port)
					have = true;
			pthread_mutex_unlock(&g_iscsi.lock);
			if (have)
				continue;
			struct iscsi_portal *pt = portal_open(pg, &pg->listen[j], err, sizeof(err));
			if (!pt) {
				qb_log(LOG_ERR, "iscsi: reload: %s", err);
				if (failed++ == 0)
					snprintf(first_err, errlen, "%s", err);
				continue;
			}
			run_on(pt->r, portal_register, pt);
			pthread_mutex_lock(&g_iscsi.lock);
			pt->next = g_iscsi.portals;
			g_iscsi.portals = pt;
			pthread_mutex_unlock(&g_iscsi.lock);
			qb_log(LOG_INFO, "iscsi: listening on %s:%u (tag %u)", pt->addr, pt->port, pt->tag);
		}
	}
	return failed;
}
