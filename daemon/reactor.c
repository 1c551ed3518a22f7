/* SPDX-License-Identifier: GPL-2.0-or-later */
/* One epoll loop per thread (in the spirit of Redis' ae.c): fd handlers, a
 * sorted timer list, before-sleep hooks for batching, and a mutex-protected
 * mailbox woken by an eventfd, the only way other threads reach a reactor.
 *
 * System calls per loop turn are the I/O path's cost, so the mailbox costs
 * none it does not need: the eventfd is edge-triggered and never read (every
 * write is a new edge; the counter only grows, 2^64 posts away from its cap),
 * and a reactor posting to itself (a completion deferred to the next turn)
 * writes no eventfd at all: it marks the mailbox, and the same turn drains it
 * after the fd handlers, or does not sleep when the mark was set in a hook.
 *
 * One loop turn: idle hooks (batched submissions and socket writes), then
 * under load a short pause that gathers a batch (reactor_batch_hint), then
 * epoll_wait, then completions (the mailbox and the wake hooks, e.g. the aio
 * completion ring), then the fd handlers, then timers. Completions come before
 * the fds so that a connection sends the responses they produce before it reads
 * its socket: the response then carries the TCP ACK of what is read, and the
 * kernel sends no pure ACK of its own for it (measured: 0.50 -> 0.15 pure ACKs
 * per 4K write, docs/BENCHMARKS.md). */
#include "reactor.h"
#include "util/bufpool.h"
#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define REACTOR_MAX_EVENTS 128
#define REACTOR_MAX_HOOKS 8
#define REACTOR_POOL_MAX 64

struct reactor_handler {
	int fd;
	uint32_t events;
	reactor_fd_cb cb;
	void *arg;
	struct reactor_handler *next_free;
};

struct reactor_timer {
	uint64_t when;
	reactor_timer_cb cb;
	void *arg;
	bool cancelled;
	struct reactor_timer *next;
};

struct reactor_hooks {
	struct {
		reactor_fn fn;
		void *arg;
	} h[REACTOR_MAX_HOOKS];
	int n;
};

struct reactor_msg {
	reactor_fn fn;
	void *arg;
	struct reactor_msg *next;
};

struct reactor {
	char name[32];
	int epfd;
	int wakefd;
	pthread_t thread;
	bool thread_started;
	volatile bool stop;
	bool self_posted;                   /* owner thread posted to its own mailbox */
	unsigned batch_us;                  /* reactor_batch_hint of this turn, 0 = none */
	uint64_t batch_pauses;
	/* fd -> handler; grown on demand (fds are small integers). */
	struct reactor_handler **handlers;
	int nhandlers;
	struct reactor_timer *timers;       /* sorted by `when` */
	struct reactor_hooks idle_hooks;     /* before epoll_wait */
	struct reactor_hooks wake_hooks;     /* after epoll_wait, before the fds */
	struct reactor_hooks exit_hooks;     /* once, when the loop ends */
	bool exit_hooks_ran;
	pthread_mutex_t mbox_lock;
	struct reactor_msg *mbox_head, *mbox_tail;
	bool mbox_pending;                  /* mbox_head != NULL; read without the lock */
	struct reactor_msg *msg_free;       /* recycled messages (under mbox_lock) */
	unsigned waking;                    /* posters between the unlock and their eventfd
					     * write (atomic): reactor_destroy waits for them */
	void *slots[REACTOR_SLOT_MAX];
};

static __thread struct reactor *current_reactor;

uint64_t reactor_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void reactor_drain_mbox(struct reactor *r)
{
	struct reactor_msg *m, *free_list = NULL, *last = NULL;

	r->self_posted = false;
	pthread_mutex_lock(&r->mbox_lock);
	m = r->mbox_head;
	r->mbox_head = r->mbox_tail = NULL;
	__atomic_store_n(&r->mbox_pending, false, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&r->mbox_lock);
	while (m) {
		struct reactor_msg *next = m->next;
		m->fn(m->arg);
		m->next = free_list;
		if (!free_list)
			last = m;
		free_list = m;
		m = next;
	}
	if (free_list) {
		pthread_mutex_lock(&r->mbox_lock);
		last->next = r->msg_free;
		r->msg_free = free_list;
		pthread_mutex_unlock(&r->mbox_lock);
	}
}

/* The wake eventfd is edge-triggered: no read() to reset it (see the top). */
static void reactor_wake_cb(struct reactor *r, int fd, uint32_t events, void *arg)
{
	(void)fd; (void)events; (void)arg;
	reactor_drain_mbox(r);
}

struct reactor *reactor_create(const char *name)
{
	struct reactor *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	snprintf(r->name, sizeof(r->name), "%s", name ? name : "reactor");
	pthread_mutex_init(&r->mbox_lock, NULL);
	r->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (r->epfd < 0)
		goto free_r;
	r->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->wakefd < 0)
		goto close_ep;
	if (reactor_add_fd(r, r->wakefd, EPOLLIN | EPOLLET, reactor_wake_cb, NULL) < 0)
		goto close_wake;
	return r;

close_wake:
	close(r->wakefd);
close_ep:
	close(r->epfd);
free_r:
	qb_log(LOG_ERR, "reactor %s: cannot create: %s", r->name, strerror(errno));
	free(r);
	return NULL;
}

static int reactor_grow(struct reactor *r, int fd)
{
	int n = r->nhandlers ? r->nhandlers : 64;
	struct reactor_handler **h;

	while (n <= fd)
		n *= 2;
	h = realloc(r->handlers, (size_t)n * sizeof(*h));
	if (!h)
		return -ENOMEM;
	memset(h + r->nhandlers, 0, (size_t)(n - r->nhandlers) * sizeof(*h));
	r->handlers = h;
	r->nhandlers = n;
	return 0;
}

int reactor_add_fd(struct reactor *r, int fd, uint32_t events, reactor_fd_cb cb, void *arg)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	struct reactor_handler *h;

	if (fd < 0)
		return -EBADF;
	if (fd >= r->nhandlers && reactor_grow(r, fd) < 0)
		return -ENOMEM;
	if (r->handlers[fd])
		return -EEXIST;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = fd;
	h->events = events;
	h->cb = cb;
	h->arg = arg;
	if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;
		free(h);
		return err;
	}
	r->handlers[fd] = h;
	return 0;
}

int reactor_mod_fd(struct reactor *r, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (fd < 0 || fd >= r->nhandlers || !r->handlers[fd])
		return -ENOENT;
	if (r->handlers[fd]->events == events)
		return 0;
	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	r->handlers[fd]->events = events;
	return 0;
}

void reactor_del_fd(struct reactor *r, int fd)
{
	if (fd < 0 || fd >= r->nhandlers || !r->handlers[fd])
		return;
	epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL);
	free(r->handlers[fd]);
	r->handlers[fd] = NULL;
}

struct reactor_timer *reactor_timer_add(struct reactor *r, uint64_t delay_ms, reactor_timer_cb cb, void *arg)
{
	struct reactor_timer *t = calloc(1, sizeof(*t)), **pp;

	if (!t)
		return NULL;
	t->when = reactor_now_ms() + delay_ms;
	t->cb = cb;
	t->arg = arg;
	for (pp = &r->timers; *pp && (*pp)->when <= t->when; pp = &(*pp)->next)
		;
	t->next = *pp;
	*pp = t;
	return t;
}

void reactor_timer_cancel(struct reactor *r, struct reactor_timer *t)
{
	struct reactor_timer **pp;

	if (!t)
		return;
	for (pp = &r->timers; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			free(t);
			return;
		}
	}
	/* Not in the list: it is running right now; reactor_run_timers frees it. */
	t->cancelled = true;
}

static void reactor_run_timers(struct reactor *r)
{
	uint64_t now = reactor_now_ms();

	while (r->timers && r->timers->when <= now) {
		struct reactor_timer *t = r->timers, **pp;
		int again;

		r->timers = t->next;
		t->next = NULL;
		again = t->cb(r, t->arg);
		if (again < 0 || t->cancelled) {
			free(t);
			continue;
		}
		t->when = reactor_now_ms() + (uint64_t)again;
		for (pp = &r->timers; *pp && (*pp)->when <= t->when; pp = &(*pp)->next)
			;
		t->next = *pp;
		*pp = t;
	}
}

void reactor_post(struct reactor *r, reactor_fn fn, void *arg)
{
	struct reactor_msg *m;
	uint64_t one = 1;
	bool was_empty;

	pthread_mutex_lock(&r->mbox_lock);
	m = r->msg_free;
	if (m)
		r->msg_free = m->next;
	pthread_mutex_unlock(&r->mbox_lock);
	if (!m) {
		m = malloc(sizeof(*m));
		if (!m) {
			/* Cannot queue: run nothing rather than lose ordering silently. */
			qb_log(LOG_CRIT, "reactor %s: out of memory posting a message", r->name);
			abort();
		}
	}
	m->fn = fn;
	m->arg = arg;
	m->next = NULL;
	pthread_mutex_lock(&r->mbox_lock);
	was_empty = r->mbox_head == NULL;
	if (r->mbox_tail)
		r->mbox_tail->next = m;
	else
		r->mbox_head = m;
	r->mbox_tail = m;
	__atomic_store_n(&r->mbox_pending, true, __ATOMIC_RELAXED);
	if (r == current_reactor) {
		/* from the reactor's own loop: drained this turn, no wakeup needed */
		pthread_mutex_unlock(&r->mbox_lock);
		r->self_posted = true;
		return;
	}
	/* The message may run, and its reactor be destroyed by whoever waited
	 * for it, before this thread's eventfd write: counted, so that
	 * reactor_destroy does not close the eventfd (whose number a later
	 * open could reuse) or free the reactor under that write. */
	if (was_empty)
		__atomic_fetch_add(&r->waking, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&r->mbox_lock);
	if (!was_empty)
		return;
	if (write(r->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		qb_log(LOG_WARNING, "reactor %s: eventfd write: %s", r->name, strerror(errno));
	__atomic_fetch_sub(&r->waking, 1, __ATOMIC_RELEASE);
}

static int hooks_add(struct reactor_hooks *l, reactor_fn fn, void *arg)
{
	if (l->n >= REACTOR_MAX_HOOKS)
		return -ENOSPC;
	l->h[l->n].fn = fn;
	l->h[l->n].arg = arg;
	l->n++;
	return 0;
}

static void hooks_run(const struct reactor_hooks *l)
{
	for (int i = 0; i < l->n; i++)
		l->h[i].fn(l->h[i].arg);
}

void reactor_batch_hint(struct reactor *r, unsigned us)
{
	if (us > r->batch_us)
		r->batch_us = us;
}

uint64_t reactor_batch_pauses(const struct reactor *r)
{
	return __atomic_load_n(&r->batch_pauses, __ATOMIC_RELAXED);
}

/* The pause of reactor_batch_hint, right before a wait that would block:
 * nothing of the reactor's own may be due within it. A sleep, not a poll: the
 * CPU is free meanwhile, and what arrives is taken as one batch after it. */
static int batch_pause(struct reactor *r, int timeout_ms)
{
	unsigned us = r->batch_us;

	r->batch_us = 0;
	if (!us || timeout_ms == 0 || __atomic_load_n(&r->mbox_pending, __ATOMIC_RELAXED))
		return timeout_ms;
	if (timeout_ms > 0 && (uint64_t)timeout_ms * 1000u <= us)
		return timeout_ms;
	struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)us * 1000L };
	nanosleep(&ts, NULL);
	__atomic_store_n(&r->batch_pauses, r->batch_pauses + 1, __ATOMIC_RELAXED);
	return 0;
}

int reactor_add_idle_hook(struct reactor *r, reactor_fn fn, void *arg)
{
	return hooks_add(&r->idle_hooks, fn, arg);
}

int reactor_add_wake_hook(struct reactor *r, reactor_fn fn, void *arg)
{
	return hooks_add(&r->wake_hooks, fn, arg);
}

int reactor_add_exit_hook(struct reactor *r, reactor_fn fn, void *arg)
{
	return hooks_add(&r->exit_hooks, fn, arg);
}

static void reactor_run_exit_hooks(struct reactor *r)
{
	struct reactor *prev = current_reactor;

	if (r->exit_hooks_ran)
		return;
	r->exit_hooks_ran = true;
	current_reactor = r;
	/* Last registered first: later layers depend on earlier ones. */
	for (int i = r->exit_hooks.n - 1; i >= 0; i--)
		r->exit_hooks.h[i].fn(r->exit_hooks.h[i].arg);
	current_reactor = prev;
}

void reactor_poll_once(struct reactor *r, int timeout_ms)
{
	struct epoll_event events[REACTOR_MAX_EVENTS];
	struct reactor *prev = current_reactor;
	int n, i;

	current_reactor = r;
	hooks_run(&r->idle_hooks);
	if (r->self_posted)
		timeout_ms = 0;          /* a hook posted to us: do not sleep on it */
	if (r->timers) {
		uint64_t now = reactor_now_ms();
		int until = r->timers->when <= now ? 0 : (int)(r->timers->when - now);
		if (timeout_ms < 0 || until < timeout_ms)
			timeout_ms = until;
	}
	timeout_ms = batch_pause(r, timeout_ms);
	n = epoll_wait(r->epfd, events, REACTOR_MAX_EVENTS, timeout_ms);
	if (n < 0 && errno != EINTR)
		qb_log(LOG_ERR, "reactor %s: epoll_wait: %s", r->name, strerror(errno));
	/* Completions first (the mailbox: other threads' results; the wake hooks:
	 * completion rings), then the fds: what they produce can then be sent
	 * before the sockets are read (see reactor_add_wake_hook). A peek without
	 * the lock is enough: a message it misses has its eventfd edge. */
	if (__atomic_load_n(&r->mbox_pending, __ATOMIC_RELAXED))
		reactor_drain_mbox(r);
	hooks_run(&r->wake_hooks);
	for (i = 0; i < n; i++) {
		int fd = events[i].data.fd;
		struct reactor_handler *h;

		/* An earlier handler in this batch may have removed this fd. */
		if (fd >= r->nhandlers || !(h = r->handlers[fd]))
			continue;
		h->cb(r, fd, events[i].events, h->arg);
	}
	if (r->self_posted)
		reactor_drain_mbox(r);
	reactor_run_timers(r);
	current_reactor = prev;
}

void reactor_run(struct reactor *r)
{
	while (!r->stop)
		reactor_poll_once(r, 1000);
}

static void *reactor_thread(void *arg)
{
	struct reactor *r = arg;

	current_reactor = r;
	/* batch pauses are tens of microseconds: without this the kernel's
	 * default timer slack (50 us) would stretch each of them */
	prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
	reactor_run(r);
	reactor_run_exit_hooks(r);
	buf_cache_release();
	return NULL;
}

int reactor_start(struct reactor *r)
{
	int rc = pthread_create(&r->thread, NULL, reactor_thread, r);

	if (rc)
		return -rc;
	pthread_setname_np(r->thread, r->name);
	r->thread_started = true;
	return 0;
}

static void reactor_stop_fn(void *arg)
{
	((struct reactor *)arg)->stop = true;
}

void reactor_stop(struct reactor *r)
{
	reactor_post(r, reactor_stop_fn, r);
	if (r->thread_started) {
		pthread_join(r->thread, NULL);
		r->thread_started = false;
	}
}

void reactor_destroy(struct reactor *r)
{
	struct reactor_msg *m;

	if (!r)
		return;
	reactor_run_exit_hooks(r);
	while (__atomic_load_n(&r->waking, __ATOMIC_ACQUIRE))
		sched_yield();      /* a poster's eventfd write still to come (reactor_post) */
	for (int fd = 0; fd < r->nhandlers; fd++)
		free(r->handlers[fd]);
	free(r->handlers);
	while (r->timers) {
		struct reactor_timer *t = r->timers;
		r->timers = t->next;
		free(t);
	}
	while ((m = r->mbox_head)) {
		r->mbox_head = m->next;
		free(m);
	}
	while ((m = r->msg_free)) {
		r->msg_free = m->next;
		free(m);
	}
	close(r->wakefd);
	close(r->epfd);
	pthread_mutex_destroy(&r->mbox_lock);
	free(r);
}

struct reactor *reactor_self(void) { return current_reactor; }
const char *reactor_name(const struct reactor *r) { return r->name; }

void *reactor_slot_get(struct reactor *r, int key)
{
	return key >= 0 && key < REACTOR_SLOT_MAX ? r->slots[key] : NULL;
}

void reactor_slot_set(struct reactor *r, int key, void *val)
{
	if (key >= 0 && key < REACTOR_SLOT_MAX)
		r->slots[key] = val;
}

/* --- the daemon's pool of I/O reactors --- */
static struct reactor *pool[REACTOR_POOL_MAX];
static int pool_size;
static unsigned pool_next;

int reactor_pool_start(int nthreads)
{
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > REACTOR_POOL_MAX)
		nthreads = REACTOR_POOL_MAX;
	for (int i = 0; i < nthreads; i++) {
		char name[24];
		snprintf(name, sizeof(name), "tandem-io%d", i);
		pool[i] = reactor_create(name);
		if (!pool[i] || reactor_start(pool[i]) < 0) {
			pool_size = i + (pool[i] != NULL);
			reactor_pool_stop();
			return -1;
		}
		pool_size = i + 1;
	}
	return 0;
}

void reactor_pool_stop(void)
{
	for (int i = 0; i < pool_size; i++) {
		if (!pool[i])
			continue;
		reactor_stop(pool[i]);
		reactor_destroy(pool[i]);
		pool[i] = NULL;
	}
	pool_size = 0;
}

int reactor_pool_size(void) { return pool_size; }

struct reactor *reactor_pool_get(int i)
{
	return i >= 0 && i < pool_size ? pool[i] : NULL;
}

struct reactor *reactor_pool_pick(void)
{
	if (!pool_size)
		return NULL;
	return pool[__atomic_fetch_add(&pool_next, 1, __ATOMIC_RELAXED) % (unsigned)pool_size];
}
