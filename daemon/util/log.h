/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Logging goes through libqb's qb_log (stderr in the foreground, syslog as a
 * daemon). This header only sets it up; code calls qb_log(LOG_x, fmt, ...). */
#ifndef TANDEM_UTIL_LOG_H
#define TANDEM_UTIL_LOG_H
#include <qb/qblog.h>
#include <syslog.h>
#include <stdbool.h>

/* Start logging: to stderr when foreground, else syslog. Level is a syslog level. */
void tlog_init(const char *ident, bool foreground, int level);
/* Change the level at run time (config reload, CLI). */
void tlog_set_level(int level);
/* Parse "error|warning|notice|info|debug|trace" into a syslog level; -1 when unknown. */
int tlog_level_from_name(const char *name);
void tlog_fini(void);
#endif
