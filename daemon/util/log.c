/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libqb logging set-up shared by tandemd, tandemctl and the unit tests. */
#include "util/log.h"
#include <pthread.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

static bool log_foreground;
/* one message at a time into libqb, which drops concurrent ones (log.h) */
static pthread_mutex_t tlog_lock = PTHREAD_MUTEX_INITIALIZER;

void tlog_log_(const char *message_id, const char *function, const char *file, const char *fmt,
	       uint8_t priority, uint32_t lineno, uint32_t tags, ...)
{
	struct qb_log_callsite *cs;
	va_list ap;

	pthread_mutex_lock(&tlog_lock);
	cs = qb_log_callsite_get2(message_id, function, file, fmt, priority, lineno, tags);
	if (cs) {
		va_start(ap, tags);
		qb_log_real_va_(cs, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&tlog_lock);
}

void tlog_init(const char *ident, bool foreground, int level)
{
	log_foreground = foreground;
	qb_log_init(ident, LOG_DAEMON, level);
	qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, foreground ? QB_FALSE : QB_TRUE);
	qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, foreground ? QB_TRUE : QB_FALSE);
	tlog_set_level(level);
	qb_log_format_set(QB_LOG_STDERR, "%t %p [%N] %b");
}

void tlog_set_level(int level)
{
	int t = log_foreground ? QB_LOG_STDERR : QB_LOG_SYSLOG;
	/* between the two no message would pass: none is logged meanwhile */
	pthread_mutex_lock(&tlog_lock);
	qb_log_filter_ctl(t, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*", LOG_TRACE);
	qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
	pthread_mutex_unlock(&tlog_lock);
}

int tlog_level_from_name(const char *name)
{
	static const struct { const char *n; int l; } levels[] = {
		{ "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
		{ "info", LOG_INFO }, { "debug", LOG_DEBUG }, { "trace", LOG_TRACE },
	};
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(name, levels[i].n) == 0)
			return levels[i].l;
	return -1;
}

void tlog_fini(void) { qb_log_fini(); }
