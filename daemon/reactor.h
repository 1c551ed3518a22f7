/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Reactor threads: one epoll loop per thread. Every connection, its tasks and
 * their backend I/O belong to one reactor, so the I/O path takes no lock.
 * Other threads talk to a reactor only through reactor_post(). */
#ifndef TANDEM_REACTOR_H
#define TANDEM_REACTOR_H
#include <stdint.h>
#include <stdbool.h>
#include <sys/epoll.h>

struct reactor;
struct reactor_timer;

typedef void (*reactor_fd_cb)(struct reactor *r, int fd, uint32_t events, void *arg);
/* A timer callback returns the delay in ms until it runs again, or -1 to stop
 * (the timer is then freed by the reactor). */
typedef int (*reactor_timer_cb)(struct reactor *r, void *arg);
typedef void (*reactor_fn)(void *arg);

/* Create a reactor (not yet running). */
struct reactor *reactor_create(const char *name);
/* Run it on a new thread / stop and join it / free it. */
int reactor_start(struct reactor *r);
void reactor_stop(struct reactor *r);
void reactor_destroy(struct reactor *r);
/* Run the loop in the calling thread until reactor_stop() (used by tests). */
void reactor_run(struct reactor *r);
/* Run one iteration: wait at most timeout_ms for events (tests). */
void reactor_poll_once(struct reactor *r, int timeout_ms);

/* fd registration: events are EPOLLIN/EPOLLOUT/...; must be called on r's thread
 * (or before it starts). */
int reactor_add_fd(struct reactor *r, int fd, uint32_t events, reactor_fd_cb cb, void *arg);
int reactor_mod_fd(struct reactor *r, int fd, uint32_t events);
void reactor_del_fd(struct reactor *r, int fd);

/* Timers (ms resolution). Owner thread only. */
struct reactor_timer *reactor_timer_add(struct reactor *r, uint64_t delay_ms, reactor_timer_cb cb, void *arg);
void reactor_timer_cancel(struct reactor *r, struct reactor_timer *t);

/* Run fn(arg) on r's thread soon. Thread-safe; this is the only cross-thread entry. */
void reactor_post(struct reactor *r, reactor_fn fn, void *arg);
/* Register a hook run once per loop iteration before sleeping (batching: flush
 * io_submit queues, corked sockets). Owner thread only. */
int reactor_add_idle_hook(struct reactor *r, reactor_fn fn, void *arg);

/* Register a hook run on every loop iteration right after epoll_wait returns,
 * before the fd handlers: completions that need no system call to collect (a
 * completion ring in memory) are taken here, so that their responses can leave
 * before the sockets are read (see iscsi/conn.c). Owner thread only. */
int reactor_add_wake_hook(struct reactor *r, reactor_fn fn, void *arg);

/* Batching under load (adaptive coalescing, as a NIC's interrupt moderation):
 * a layer that saw a deep pipeline this turn (many commands outstanding on a
 * connection that sent more) asks for a pause of up to US microseconds before
 * the next wait. The loop then sleeps that long instead of waking for each
 * arriving command, and its next turn takes a batch: one wait, one read, one
 * submission and one send for many commands instead of one or two. Skipped
 * when work of the reactor's own is due sooner (a self-post, a mailbox
 * message, a timer). Owner thread only; the hint lasts one turn. */
void reactor_batch_hint(struct reactor *r, unsigned us);
/* Pauses taken so far (status). */
uint64_t reactor_batch_pauses(const struct reactor *r);

/* Register a hook run once on r's thread when its loop ends (reactor_stop), or
 * by reactor_destroy when it never ran on a thread of its own: layers free their
 * per-reactor state there. Owner thread only. */
int reactor_add_exit_hook(struct reactor *r, reactor_fn fn, void *arg);

/* The reactor that owns the calling thread, or NULL. */
struct reactor *reactor_self(void);
uint64_t reactor_now_ms(void);
const char *reactor_name(const struct reactor *r);

/* Per-reactor slots for layers that keep per-thread state (e.g. the aio context
 * of bdev, buffer caches). Keys are small integers handed out once. */
enum { REACTOR_SLOT_BDEV = 0, REACTOR_SLOT_ISCSI, REACTOR_SLOT_SCSI, REACTOR_SLOT_REPL, REACTOR_SLOT_MAX = 8 };
void *reactor_slot_get(struct reactor *r, int key);
void reactor_slot_set(struct reactor *r, int key, void *val);

/* The pool of I/O reactors used by the daemon. */
int reactor_pool_start(int nthreads);
void reactor_pool_stop(void);
int reactor_pool_size(void);
struct reactor *reactor_pool_get(int i);
/* Pick the reactor for a new connection (round-robin). */
struct reactor *reactor_pool_pick(void);
#endif
