/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the reactor (fd events, timers, cross-thread posts, idle
 * and wake hooks, the order of a loop turn) and the aligned buffer pool that
 * the I/O path relies on. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "reactor.h"
#include "util/bufpool.h"

static int fd_calls;
static uint64_t fd_value;

static void on_readable(struct reactor *r, int fd, uint32_t events, void *arg)
{
	uint64_t v;

	ck_assert(events & EPOLLIN);
	ck_assert_int_eq(read(fd, &v, sizeof(v)), (int)sizeof(v));
	fd_value += v;
	fd_calls++;
	ck_assert_ptr_eq(reactor_self(), r);
	ck_assert_ptr_eq(arg, &fd_calls);
}

START_TEST(test_fd_events)
{
	struct reactor *r = reactor_create("t");
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t three = 3;

	ck_assert_ptr_nonnull(r);
	fd_calls = 0;
	fd_value = 0;
	ck_assert_int_eq(reactor_add_fd(r, efd, EPOLLIN, on_readable, &fd_calls), 0);
	ck_assert_int_lt(reactor_add_fd(r, efd, EPOLLIN, on_readable, NULL), 0); /* twice: refused */
	reactor_poll_once(r, 0);
	ck_assert_int_eq(fd_calls, 0);
	ck_assert_int_eq(write(efd, &three, sizeof(three)), (int)sizeof(three));
	reactor_poll_once(r, 1000);
	ck_assert_int_eq(fd_calls, 1);
	ck_assert_uint_eq(fd_value, 3);
	reactor_del_fd(r, efd);
	ck_assert_int_eq(write(efd, &three, sizeof(three)), (int)sizeof(three));
	reactor_poll_once(r, 10);
	ck_assert_int_eq(fd_calls, 1);
	ck_assert_ptr_null(reactor_self());
	close(efd);
	reactor_destroy(r);
}
END_TEST

static int timer_runs[3];

static int timer_cb(struct reactor *r, void *arg)
{
	int *n = arg;

	(*n)++;
	return n == &timer_runs[0] && *n < 3 ? 1 : -1;
}

START_TEST(test_timers)
{
	struct reactor *r = reactor_create("t");
	struct reactor_timer *cancelled;
	uint64_t start = reactor_now_ms();

	timer_runs[0] = timer_runs[1] = timer_runs[2] = 0;
	ck_assert_ptr_nonnull(reactor_timer_add(r, 5, timer_cb, &timer_runs[0]));
	ck_assert_ptr_nonnull(reactor_timer_add(r, 1, timer_cb, &timer_runs[1]));
	cancelled = reactor_timer_add(r, 2, timer_cb, &timer_runs[2]);
	reactor_timer_cancel(r, cancelled);
	while (timer_runs[0] < 3 && reactor_now_ms() - start < 5000)
		reactor_poll_once(r, 100);
	ck_assert_int_eq(timer_runs[0], 3);  /* repeated until it returned -1 */
	ck_assert_int_eq(timer_runs[1], 1);  /* one-shot */
	ck_assert_int_eq(timer_runs[2], 0);  /* cancelled never runs */
	ck_assert_uint_ge(reactor_now_ms() - start, 5);
	reactor_destroy(r);
}
END_TEST

#define POSTS 10000
static int post_count;
static struct reactor *post_seen_on;

static void post_fn(void *arg)
{
	post_count++;
	post_seen_on = reactor_self();
}

static void *poster(void *arg)
{
	for (int i = 0; i < POSTS; i++)
		reactor_post(arg, post_fn, NULL);
	return NULL;
}

START_TEST(test_post_from_threads)
{
	struct reactor *r = reactor_create("t");
	pthread_t th[2];
	uint64_t start = reactor_now_ms();

	post_count = 0;
	ck_assert_int_eq(pthread_create(&th[0], NULL, poster, r), 0);
	ck_assert_int_eq(pthread_create(&th[1], NULL, poster, r), 0);
	while (post_count < 2 * POSTS && reactor_now_ms() - start < 10000)
		reactor_poll_once(r, 10);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	reactor_poll_once(r, 0);
	ck_assert_int_eq(post_count, 2 * POSTS);
	ck_assert_ptr_eq(post_seen_on, r);
	reactor_destroy(r);
}
END_TEST

static int hook_runs;
static void hook_fn(void *arg) { hook_runs += *(int *)arg; }

START_TEST(test_idle_hook_and_thread)
{
	struct reactor *r = reactor_create("t");
	int inc = 2;

	hook_runs = 0;
	ck_assert_int_eq(reactor_add_idle_hook(r, hook_fn, &inc), 0);
	reactor_poll_once(r, 0);
	reactor_poll_once(r, 0);
	ck_assert_int_eq(hook_runs, 4);
	/* The same reactor on its own thread stops cleanly. */
	post_count = 0;
	ck_assert_int_eq(reactor_start(r), 0);
	reactor_post(r, post_fn, NULL);
	reactor_stop(r);
	ck_assert_int_eq(post_count, 1);
	ck_assert_ptr_eq(post_seen_on, r);
	reactor_destroy(r);
}
END_TEST

/* One loop turn: the mailbox and the wake hooks run before the fd handlers
 * (completions first, so that connections can send their responses before
 * they read: reactor.c), the idle hooks before epoll_wait. */
static char order[16];
static int norder;

static void note(char c)
{
	if (norder < (int)sizeof(order) - 1)
		order[norder++] = c;
}

static void order_msg(void *arg) { (void)arg; note('m'); }
static void order_wake(void *arg) { (void)arg; note('w'); }
static void order_idle(void *arg) { (void)arg; note('i'); }

static void order_fd(struct reactor *r, int fd, uint32_t events, void *arg)
{
	uint64_t v;

	(void)r; (void)events; (void)arg;
	ck_assert_int_eq(read(fd, &v, sizeof(v)), (int)sizeof(v));
	note('f');
}

START_TEST(test_turn_order)
{
	struct reactor *r = reactor_create("t");
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t one = 1;

	ck_assert_ptr_nonnull(r);
	memset(order, 0, sizeof(order));
	norder = 0;
	ck_assert_int_eq(reactor_add_fd(r, efd, EPOLLIN, order_fd, NULL), 0);
	ck_assert_int_eq(reactor_add_wake_hook(r, order_wake, NULL), 0);
	ck_assert_int_eq(reactor_add_idle_hook(r, order_idle, NULL), 0);
	/* the fd became readable before the message was posted: still second */
	ck_assert_int_eq(write(efd, &one, sizeof(one)), (int)sizeof(one));
	reactor_post(r, order_msg, NULL);
	reactor_poll_once(r, 1000);
	ck_assert_str_eq(order, "imwf");
	/* a turn with nothing ready still runs the wake hooks, and nothing else */
	reactor_poll_once(r, 0);
	ck_assert_str_eq(order, "imwfiw");
	for (int i = 0; i < 16; i++)
		if (reactor_add_wake_hook(r, order_wake, NULL) < 0)
			break;
	ck_assert_int_lt(reactor_add_wake_hook(r, order_wake, NULL), 0);  /* bounded */
	reactor_del_fd(r, efd);
	close(efd);
	reactor_destroy(r);
}
END_TEST

/* reactor_batch_hint: the pause is taken before a wait that would block, at
 * most once per hint, and never when the reactor has work of its own due
 * (a self-post, another thread's message, a timer). Counted through
 * reactor_batch_pauses; no timing. */
static int batch_msgs;
static void batch_msg(void *arg)
{
	(void)arg;
	batch_msgs++;
}

static int batch_timer(struct reactor *r, void *arg)
{
	(void)r;
	(*(int *)arg)++;
	return -1;
}

static void batch_post_self(void *arg)
{
	reactor_post(arg, batch_msg, NULL);
}

/* One turn of r after a hint of US microseconds, its wait bounded by
 * TIMEOUT_MS (a pause or work due ends it at once): the pauses it took. */
static uint64_t hinted_turn(struct reactor *r, unsigned us, int timeout_ms)
{
	uint64_t before = reactor_batch_pauses(r);

	reactor_batch_hint(r, us);
	reactor_poll_once(r, timeout_ms);
	return reactor_batch_pauses(r) - before;
}

START_TEST(test_batch_pause)
{
	struct reactor *r = reactor_create("b");
	int fired = 0;

	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(reactor_batch_pauses(r), 0);
	/* a turn without a hint: no pause (the wait times out at once) */
	reactor_poll_once(r, 0);
	ck_assert_uint_eq(reactor_batch_pauses(r), 0);
	/* a hint: one pause, and the wait after it does not block (a 10 s
	 * timeout would hang the test) */
	ck_assert_uint_eq(hinted_turn(r, 50, 10000), 1);
	/* the hint lasted one turn only */
	reactor_poll_once(r, 0);
	ck_assert_uint_eq(reactor_batch_pauses(r), 1);
	/* a hint for a turn that would not sleep anyway: no pause */
	ck_assert_uint_eq(hinted_turn(r, 50, 0), 0);
	/* a message the reactor posted to itself from a hook: no pause, the
	 * message runs in that turn */
	ck_assert_int_eq(reactor_add_idle_hook(r, batch_post_self, r), 0);
	batch_msgs = 0;
	ck_assert_uint_eq(hinted_turn(r, 50, 10000), 0);
	ck_assert_int_ge(batch_msgs, 1);
	reactor_destroy(r);

	/* a message from another thread (this one: not the reactor's loop)
	 * waiting in the mailbox: no pause, the message runs in that turn */
	r = reactor_create("b1");
	ck_assert_ptr_nonnull(r);
	batch_msgs = 0;
	reactor_post(r, batch_msg, NULL);
	ck_assert_uint_eq(hinted_turn(r, 50, 10000), 0);
	ck_assert_int_eq(batch_msgs, 1);
	reactor_destroy(r);

	/* a timer due before the pause would end: no pause, the timer runs */
	r = reactor_create("b2");
	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(reactor_timer_add(r, 0, batch_timer, &fired));
	ck_assert_uint_eq(hinted_turn(r, 1000, 10000), 0);
	ck_assert_int_eq(fired, 1);
	reactor_destroy(r);
}
END_TEST

START_TEST(test_pool)
{
	ck_assert_int_eq(reactor_pool_start(3), 0);
	ck_assert_int_eq(reactor_pool_size(), 3);
	struct reactor *a = reactor_pool_pick(), *b = reactor_pool_pick(), *c = reactor_pool_pick();
	ck_assert(a != b && b != c && a != c);
	ck_assert_ptr_eq(reactor_pool_pick(), a);
	ck_assert_ptr_null(reactor_pool_get(3));
	reactor_pool_stop();
	ck_assert_int_eq(reactor_pool_size(), 0);
	ck_assert_ptr_null(reactor_pool_pick());
}
END_TEST

START_TEST(test_bufpool)
{
	void *a = buf_alloc(512), *b, *big;

	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq((uintptr_t)a % 4096, 0);
	ck_assert_uint_eq(buf_capacity(512), 4096);
	ck_assert_uint_eq(buf_capacity(4097), 8192);
	ck_assert_uint_eq(buf_capacity(1 << 20), 1 << 20);
	ck_assert_uint_eq(buf_capacity(0), 4096);
	buf_free(a, 512);
#ifndef __SANITIZE_ADDRESS__
	b = buf_alloc(4000);                 /* same class: the cached buffer comes back */
	ck_assert_ptr_eq(a, b);
	((char *)b)[4095] = 1;               /* whole class is usable */
#else
	/* sanitizer builds: exact sizes and no cache (bufpool.c), so that ASan
	 * sees any use past the length asked for or after buf_free */
	b = buf_alloc(4000);
	ck_assert_ptr_nonnull(b);
	((char *)b)[3999] = 1;
#endif
	buf_free(b, 4000);
	big = buf_alloc((32u << 20) + 1);    /* beyond the cached classes */
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq((uintptr_t)big % 4096, 0);
	buf_free(big, (32u << 20) + 1);
	buf_free(NULL, 10);
	ck_assert_ptr_null(buf_alloc(SIZE_MAX));
	buf_cache_release();
}
END_TEST

static Suite *reactor_suite(void)
{
	Suite *s = suite_create("reactor");
	TCase *tc = tcase_create("loop");

	tcase_add_test(tc, test_fd_events);
	tcase_add_test(tc, test_timers);
	tcase_add_test(tc, test_post_from_threads);
	tcase_add_test(tc, test_idle_hook_and_thread);
	tcase_add_test(tc, test_turn_order);
	tcase_add_test(tc, test_batch_pause);
	tcase_add_test(tc, test_pool);
	suite_add_tcase(s, tc);
	tc = tcase_create("bufpool");
	tcase_add_test(tc, test_bufpool);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(reactor_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
