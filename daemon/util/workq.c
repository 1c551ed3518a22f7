/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Worker thread pool with a bounded ring of work items: reactors hand blocking
 * system calls here and get the completion back through reactor_post(). */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "reactor.h"
#include "util/log.h"
#include "util/workq.h"

#define WORKQ_MAX_THREADS 64

struct workq_item {
	struct reactor *owner;
	workq_fn work;
	workq_fn done;
	void *arg;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;         /* workers wait for items or stop */
	struct workq_item *ring;
	unsigned depth;
	unsigned head;               /* next item to run */
	unsigned count;              /* items in the ring */
	unsigned running;            /* items taken by a worker, not yet finished */
	pthread_t threads[WORKQ_MAX_THREADS];
	int nthreads;
	bool started;
	bool stopping;
} wq = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void *workq_thread(void *unused)
{
	struct workq_item it;

	pthread_mutex_lock(&wq.lock);
	for (;;) {
		while (wq.count == 0 && !wq.stopping)
			pthread_cond_wait(&wq.cond, &wq.lock);
		if (wq.count == 0)
			break;  /* stopping and drained */
		it = wq.ring[wq.head];
		wq.head = (wq.head + 1) % wq.depth;
		wq.count--;
		wq.running++;
		pthread_mutex_unlock(&wq.lock);

		it.work(it.arg);
		if (it.done) {
			if (it.owner)
				reactor_post(it.owner, it.done, it.arg);
			else
				it.done(it.arg);
		}

		pthread_mutex_lock(&wq.lock);
		wq.running--;
	}
	pthread_mutex_unlock(&wq.lock);
	return NULL;
}

/* Called with wq.lock held. */
static int workq_start_locked(int nthreads, int depth)
{
	int i, rc;

	if (wq.started)
		return -EALREADY;
	if (nthreads <= 0)
		nthreads = WORKQ_DEFAULT_THREADS;
	if (nthreads > WORKQ_MAX_THREADS)
		nthreads = WORKQ_MAX_THREADS;
	if (depth <= 0)
		depth = WORKQ_DEFAULT_DEPTH;
	wq.ring = calloc((size_t)depth, sizeof(*wq.ring));
	if (!wq.ring)
		return -ENOMEM;
	wq.depth = (unsigned)depth;
	wq.head = wq.count = wq.running = 0;
	wq.stopping = false;
	for (i = 0; i < nthreads; i++) {
		rc = pthread_create(&wq.threads[i], NULL, workq_thread, NULL);
		if (rc)
			goto err_threads;
	}
	wq.nthreads = nthreads;
	wq.started = true;
	return 0;

err_threads:
	qb_log(LOG_ERR, "workq: cannot start worker thread: %s", strerror(rc));
	wq.stopping = true;
	pthread_cond_broadcast(&wq.cond);
	pthread_mutex_unlock(&wq.lock);
	while (i-- > 0)
		pthread_join(wq.threads[i], NULL);
	pthread_mutex_lock(&wq.lock);
	free(wq.ring);
	wq.ring = NULL;
	wq.stopping = false;
	return -rc;
}

int workq_start(int nthreads, int depth)
{
	int rc;

	pthread_mutex_lock(&wq.lock);
	if (wq.stopping)
		rc = -ESHUTDOWN;
	else
		rc = workq_start_locked(nthreads, depth);
	pthread_mutex_unlock(&wq.lock);
	return rc;
}

int workq_submit(struct reactor *owner, workq_fn work, workq_fn done, void *arg)
{
	int rc = 0;

	if (!work)
		return -EINVAL;
	pthread_mutex_lock(&wq.lock);
	if (wq.stopping) {
		rc = -ESHUTDOWN;
		goto out;
	}
	if (!wq.started) {
		rc = workq_start_locked(0, 0);
		if (rc)
			goto out;
	}
	if (wq.count == wq.depth) {
		rc = -EAGAIN;
		goto out;
	}
	wq.ring[(wq.head + wq.count) % wq.depth] = (struct workq_item){ owner, work, done, arg };
	wq.count++;
	pthread_cond_signal(&wq.cond);
out:
	pthread_mutex_unlock(&wq.lock);
	return rc;
}

void workq_stop(void)
{
	int i, n;

	pthread_mutex_lock(&wq.lock);
	if (!wq.started || wq.stopping) {
		pthread_mutex_unlock(&wq.lock);
		return;
	}
	wq.stopping = true;
	n = wq.nthreads;
	pthread_cond_broadcast(&wq.cond);
	pthread_mutex_unlock(&wq.lock);

	for (i = 0; i < n; i++)
		pthread_join(wq.threads[i], NULL);

	pthread_mutex_lock(&wq.lock);
	free(wq.ring);
	wq.ring = NULL;
	wq.nthreads = 0;
	wq.started = false;
	wq.stopping = false;
	pthread_mutex_unlock(&wq.lock);
}

unsigned workq_pending(void)
{
	unsigned n;

	pthread_mutex_lock(&wq.lock);
	n = wq.count + wq.running;
	pthread_mutex_unlock(&wq.lock);
	return n;
}
