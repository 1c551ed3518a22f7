/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small fixed pool of worker threads for calls that block (fdatasync,
 * fallocate, discard ioctls, buffered pread/pwrite), so reactors never do; the
 * result is handed back to the submitting reactor with reactor_post(). */
#ifndef TANDEM_UTIL_WORKQ_H
#define TANDEM_UTIL_WORKQ_H

struct reactor;

typedef void (*workq_fn)(void *arg);

#define WORKQ_DEFAULT_THREADS 4
#define WORKQ_DEFAULT_DEPTH   4096

/* Start the pool explicitly (otherwise the first workq_submit starts it with the
 * defaults). 0 or -errno; -EALREADY when already running. */
int workq_start(int nthreads, int depth);
/* Queue work(arg) on a worker thread; afterwards done(arg) runs on `owner`'s
 * thread via reactor_post() (on the worker when owner is NULL; done may be
 * NULL). Never blocks. Returns 0, -EAGAIN when the queue is full (retry later),
 * -ESHUTDOWN while the pool is stopping, or -errno when it cannot start. */
int workq_submit(struct reactor *owner, workq_fn work, workq_fn done, void *arg);
/* Run everything still queued, then join the workers. A later workq_submit
 * starts the pool again. */
void workq_stop(void);
/* Number of items queued or running (diagnostics, tests). */
unsigned workq_pending(void);
#endif
