/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the `replication { }` config section (daemon/config/schema.c):
 * defaults, every key, and each bad value naming file and line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/config.h"
#include "config_test.h"

static const char *base =
	"target iqn.2026-11.org.tandem:ha {\n lun 0 {\n backend: null\n size: 1M\n }\n}\n";

static const char *good =
	"replication {\n node: alpha\n listen: 198.51.100.1\n peer: 198.51.100.2:7791\n peer_name: beta\n"
	" secret: \"0123456789abcdef\"\n";

static struct tconf *load(const char *repl, char *err, size_t errlen)
{
	return config_test_load(base, repl, err, errlen);
}

START_TEST(test_defaults)
{
	char err[256] = "", text[1024];
	struct tconf *c;

	snprintf(text, sizeof(text), "%s}\n", good);
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(c->repl.enabled);
	ck_assert_str_eq(c->repl.node, "alpha");
	ck_assert_str_eq(c->repl.peer_name, "beta");
	ck_assert_str_eq(c->repl.listen.addr, "198.51.100.1");
	ck_assert_uint_eq(c->repl.listen.port, 7790);
	ck_assert_uint_eq(c->repl.peer.port, 7791);
	ck_assert_uint_eq(c->repl.resync_rate, 100ull << 20);
	ck_assert_uint_eq(c->repl.resync_min_rate, 250ull << 10);
	ck_assert_int_eq(c->repl.ping_interval_ms, 1000);
	ck_assert_int_eq(c->repl.timeout_ms, 6000);
	ck_assert_str_eq(c->repl.tcp_congestion, "cubic");
	tconf_free(c);
}
END_TEST

/* A replicated node answers STPG only when told to (alua_explicit: yes). */
START_TEST(test_alua_explicit_default)
{
	char err[256] = "", text[1024];
	struct tconf *c;

	snprintf(text, sizeof(text), "%s}\n", good);
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(!tconf_alua_explicit(c));
	tconf_free(c);
	snprintf(text, sizeof(text), "global {\n alua_explicit: yes\n}\n%s}\n", good);
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(tconf_alua_explicit(c));
	tconf_free(c);
}
END_TEST

START_TEST(test_keys)
{
	char err[256] = "", text[1024];
	struct tconf *c;

	snprintf(text, sizeof(text),
		 "%s resync_rate: 40M\n resync_min_rate: 1M\n ping_interval_ms: 200\n ping_timeout_ms: 100\n"
		 " timeout_ms: 3000\n connect_retry_ms: 250\n tcp_congestion: system\n}\n", good);
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_uint_eq(c->repl.resync_rate, 40ull << 20);
	ck_assert_uint_eq(c->repl.resync_min_rate, 1ull << 20);
	ck_assert_int_eq(c->repl.ping_interval_ms, 200);
	ck_assert_int_eq(c->repl.ping_timeout_ms, 100);
	ck_assert_int_eq(c->repl.timeout_ms, 3000);
	ck_assert_int_eq(c->repl.connect_retry_ms, 250);
	ck_assert_str_eq(c->repl.tcp_congestion, "system");
	tconf_free(c);
	snprintf(text, sizeof(text), "%s tcp_congestion: dctcp\n}\n", good);
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->repl.tcp_congestion, "dctcp");   /* availability is the kernel's business */
	tconf_free(c);
}
END_TEST

static const struct {
	const char *extra;      /* appended to `good` before the closing brace */
	const char *msg;
	int line;               /* where the error must point (0: not checked) */
} bad[] = {
	{ " tcp_congestion: Cubic\n", "invalid character 'C'", 13 },
	{ " tcp_congestion: cu bic\n", "invalid character ' '", 13 },
	{ " tcp_congestion: averyveryverylongname\n", "too long", 13 },
	{ " tcp_congestion: \"\"\n", "tcp_congestion", 13 },
	{ " ping_timeout_ms: 6000\n", "must be below timeout_ms", 7 },
	{ " resync_rate: 1M\n resync_min_rate: 2M\n", "resync_min_rate exceeds", 7 },
	{ " resync_rate: 1K\n", "out of range", 13 },
	{ " timeout_ms: 99\n", "out of range", 13 },
	{ " bogus: 1\n", "unknown key", 13 },
};

START_TEST(test_errors)
{
	char err[256] = "", text[1024];
	struct tconf *c;

	snprintf(text, sizeof(text), "%s%s}\n", good, bad[_i].extra);
	c = load(text, err, sizeof(err));
	config_test_refused(c, err, bad[_i].extra, bad[_i].msg, bad[_i].line);
}
END_TEST

static const struct {
	const char *text;
	const char *msg;
} bad_sections[] = {
	{ "replication {\n node: a\n listen: 198.51.100.1\n peer: 198.51.100.2\n peer_name: a\n"
	  " secret: \"0123456789abcdef\"\n}\n", "peer_name must differ" },
	{ "replication {\n node: a\n listen: 198.51.100.1\n peer: 198.51.100.1\n peer_name: b\n"
	  " secret: \"0123456789abcdef\"\n}\n", "own listen address" },
	{ "replication {\n node: a\n listen: 198.51.100.1\n peer: 198.51.100.2\n peer_name: b\n"
	  " secret: \"short\"\n}\n", "secret" },
	{ "replication {\n node: a\n listen: 198.51.100.1\n peer: host.example:7790\n peer_name: b\n"
	  " secret: \"0123456789abcdef\"\n}\n", "invalid replication address" },
	{ "replication {\n node: a\n listen: 198.51.100.1:70000\n peer: 198.51.100.2\n peer_name: b\n"
	  " secret: \"0123456789abcdef\"\n}\n", "invalid port" },
	{ "replication {\n listen: 198.51.100.1\n peer: 198.51.100.2\n peer_name: b\n"
	  " secret: \"0123456789abcdef\"\n}\n", "'node'" },
	{ "replication {\n node: a\n listen: 198.51.100.1\n peer: 198.51.100.2\n peer_name: b\n"
	  " secret: \"0123456789abcdef\"\n}\nreplication {\n node: a\n}\n", "duplicate section" },
};

START_TEST(test_section_errors)
{
	char err[256] = "";
	struct tconf *c = load(bad_sections[_i].text, err, sizeof(err));

	config_test_refused(c, err, bad_sections[_i].text, bad_sections[_i].msg, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("repl_config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_keys);
	tcase_add_test(tc, test_alua_explicit_default);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_loop_test(tc, test_section_errors, 0, (int)(sizeof(bad_sections) / sizeof(bad_sections[0])));
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
