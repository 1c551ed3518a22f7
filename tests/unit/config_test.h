/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the config section unit tests (test_repl_config.c, test_cluster_config.c)
 * share: load a section after a fixed prefix of valid configuration, and check
 * a refusal: no configuration, the expected words, and file:line first. */
#ifndef TANDEM_TESTS_CONFIG_TEST_H
#define TANDEM_TESTS_CONFIG_TEST_H
#include <check.h>
#include <stdio.h>
#include <string.h>
#include "config/config.h"

/* tconf_load_string("t.conf", base + tail) */
static inline struct tconf *config_test_load(const char *base, const char *tail, char *err, size_t errlen)
{
	char text[4096];

	snprintf(text, sizeof(text), "%s%s", base, tail);
	return tconf_load_string("t.conf", text, err, errlen);
}

/* c (the load of `what`) was refused with an error naming `msg`, starting
 * with "t.conf:LINE:" (line > 0) or at least "t.conf:" (line 0). */
static inline void config_test_refused(const struct tconf *c, const char *err, const char *what,
				       const char *msg, int line)
{
	char at[32];

	ck_assert_msg(c == NULL, "accepted: %s", what);
	ck_assert_msg(strstr(err, msg) != NULL, "'%s' lacks '%s'", err, msg);
	if (line > 0)
		snprintf(at, sizeof(at), "t.conf:%d:", line);
	else
		snprintf(at, sizeof(at), "t.conf:");
	ck_assert_msg(strncmp(err, at, strlen(at)) == 0, "'%s' does not start with '%s'", err, at);
}
#endif
