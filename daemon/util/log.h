/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging goes through libqb's qb_log (stderr in the foreground, syslog as a
 * daemon). This header sets it up; code calls qb_log(LOG_x, fmt, ...). */
#ifndef TANDEM_UTIL_LOG_H
#define TANDEM_UTIL_LOG_H
#include <qb/qblog.h>
#include <syslog.h>
#include <stdbool.h>
#include <stdint.h>

/* libqb drops a message when another thread is inside qb_log at the same
 * moment (one process-wide "in_logger" flag taken by compare-and-swap,
 * without waiting; its threaded mode too): tandemd logs from its reactors,
 * the work queue and the main thread, and lost lines at random under load
 * (test_reload_churn: a reload's "configuration reloaded" went missing while
 * a reactor logged a session's end; 4 threads logging 20000 lines each kept
 * 22476 of them). Every qb_log of tandemd goes through tlog_log_, which
 * serialises them with tlog_set_level's filter changes (util/log.c). */
void tlog_log_(const char *message_id, const char *function, const char *file, const char *fmt,
	       uint8_t priority, uint32_t lineno, uint32_t tags, ...)
	__attribute__((format(printf, 4, 8)));
#undef qb_logt2
#define qb_logt2(message_id, priority, tags, fmt, args...) \
	tlog_log_(message_id, __func__, __FILE__, fmt, priority, __LINE__, tags, ##args)

/* Start logging: to stderr when foreground, else syslog. Level is a syslog level. */
void tlog_init(const char *ident, bool foreground, int level);
/* Change the level at run time (config reload, CLI). */
void tlog_set_level(int level);
/* Parse "error|warning|notice|info|debug|trace" into a syslog level; -1 when unknown. */
int tlog_level_from_name(const char *name);
void tlog_fini(void);
#endif
