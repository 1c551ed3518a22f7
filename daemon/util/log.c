/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libqb logging set-up shared by tandemd, tandemctl and the unit tests. */
#include "util/log.h"
#include <string.h>
#include <strings.h>

static bool log_foreground;

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
	qb_log_filter_ctl(t, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*", LOG_TRACE);
	qb_log_filter_ctl(t, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", level);
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
