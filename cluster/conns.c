/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Client connections on the floating address, for tickle ACKs: filled by the
 * iSCSI connection observer on reactor threads (under a mutex), read by the
 * main thread, which an eventfd wakes on every change so the owner can
 * announce the new list to the peer at once. */
#include "cluster/cluster_int.h"
#include "iscsi/iscsi.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/eventfd.h>

struct entry {
	uint64_t id;
	struct cl_conn c;
};

static struct {
	pthread_mutex_t lock;
	struct entry *v;
	size_t n, cap;
	uint32_t watch_ip;
	int efd;
} t = { .lock = PTHREAD_MUTEX_INITIALIZER, .efd = -1 };

static void poke(void)
{
	uint64_t one = 1;
	if (t.efd >= 0 && write(t.efd, &one, sizeof(one)) < 0) {
		/* counter overflow only: the reader is woken anyway */
	}
}

static void observer(uint64_t id, bool open, const struct sockaddr *local, const struct sockaddr *peer, void *arg)
{
	pthread_mutex_lock(&t.lock);
	if (open) {
		const struct sockaddr_in *l = (const struct sockaddr_in *)(const void *)local;
		const struct sockaddr_in *p = (const struct sockaddr_in *)(const void *)peer;
		if (local->sa_family != AF_INET || peer->sa_family != AF_INET || l->sin_addr.s_addr != t.watch_ip ||
		    t.n >= CL_MAX_CONNS)
			goto out;
		if (t.n == t.cap) {
			size_t cap = t.cap ? t.cap * 2 : 64;
			struct entry *nv = realloc(t.v, cap * sizeof(*nv));
			if (!nv)
				goto out;
			t.v = nv;
			t.cap = cap;
		}
		t.v[t.n++] = (struct entry){ .id = id, .c = { .client_ip = p->sin_addr.s_addr, .server_ip = l->sin_addr.s_addr,
							      .client_port = p->sin_port, .server_port = l->sin_port } };
		poke();
	} else {
		for (size_t i = 0; i < t.n; i++)
			if (t.v[i].id == id) {
				t.v[i] = t.v[--t.n];
				poke();
				break;
			}
	}
out:
	pthread_mutex_unlock(&t.lock);
}

int cl_conns_init(uint32_t watch_ip)
{
	pthread_mutex_lock(&t.lock);
	t.watch_ip = watch_ip;
	if (t.efd < 0)
		t.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_unlock(&t.lock);
	if (t.efd < 0)
		return -errno;
	iscsi_set_conn_observer(observer, NULL);
	return t.efd;
}

void cl_conns_fini(void)
{
	iscsi_set_conn_observer(NULL, NULL);
	pthread_mutex_lock(&t.lock);
	free(t.v);
	t.v = NULL;
	t.n = t.cap = 0;
	if (t.efd >= 0)
		close(t.efd);
	t.efd = -1;
	pthread_mutex_unlock(&t.lock);
}

size_t cl_conns_snapshot(struct cl_conn *out, size_t max)
{
	size_t n;
	pthread_mutex_lock(&t.lock);
	n = t.n;
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = t.v[i].c;
	pthread_mutex_unlock(&t.lock);
	return n;
}

bool cl_conns_consume(void)
{
	uint64_t v = 0;
	return t.efd >= 0 && read(t.efd, &v, sizeof(v)) == (ssize_t)sizeof(v) && v > 0;
}
