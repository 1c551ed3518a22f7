/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the `cluster { }` config section (daemon/config/schema.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config/config.h"
#include "config_test.h"

static const char *base =
	"alua_group float {\n id: 1\n state: standby\n}\n"
	"portal_group float {\n tag: 1\n listen: 192.0.2.100:3260\n alua_group: float\n}\n"
	"target iqn.2026-11.org.tandem:ha {\n lun 0 {\n backend: null\n size: 1M\n }\n}\n";

static struct tconf *load(const char *cluster, char *err, size_t errlen)
{
	return config_test_load(base, cluster, err, errlen);
}

/* alua_explicit (docs/ALUA.md): a cluster section makes the default implicit
 * only; "yes" is refused where a manager owns the states, "no" always works. */
START_TEST(test_alua_explicit)
{
	char err[256] = "";
	const char *cl = "cluster {\n node: alpha\n floating_ip: 192.0.2.100/24\n interface: a0\n"
			 " alua_group: float\n fencing: none\n}\n";
	char text[1024];
	struct tconf *c = load(cl, err, sizeof(err));

	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->global.alua_explicit, TCONF_ALUA_EXPLICIT_AUTO);
	ck_assert(!tconf_alua_explicit(c));
	tconf_free(c);

	/* base is 15 lines: global starts at 16, its key on 17, cluster at 19 */
	snprintf(text, sizeof(text), "global {\n alua_explicit: yes\n}\n%s", cl);
	c = load(text, err, sizeof(err));
	config_test_refused(c, err, text, "alua_explicit: yes conflicts with the cluster manager (section 'cluster' at line 19", 17);

	snprintf(text, sizeof(text), "global {\n alua_explicit: no\n}\n%s", cl);
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(!tconf_alua_explicit(c));
	tconf_free(c);

	/* manager none: the operator drives ALUA by hand, explicit may be asked for */
	snprintf(text, sizeof(text), "global {\n alua_explicit: yes\n}\n%s", "cluster {\n node: alpha\n manager: none\n fencing: none\n}\n");
	c = load(text, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(tconf_alua_explicit(c));
	tconf_free(c);

	c = load("global {\n alua_explicit: sometimes\n}\n", err, sizeof(err));
	config_test_refused(c, err, "sometimes", "invalid value 'sometimes' for 'alua_explicit' (expected one of: auto, yes, no)", 17);

	/* no cluster, no replication: a single node keeps explicit ALUA */
	c = load("", err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(tconf_alua_explicit(c));
	tconf_free(c);
}
END_TEST

START_TEST(test_defaults_and_keys)
{
	char err[256] = "";
	struct tconf *c = load("cluster {\n node: alpha\n floating_ip: 192.0.2.100/24\n interface: a0\n"
			       " alua_group: float\n fencing: none\n tickle_count: 2\n}\n", err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert(c->cluster.enabled);
	ck_assert_int_eq(c->cluster.manager, TCONF_CLUSTER_BUILTIN);
	ck_assert_str_eq(c->cluster.node, "alpha");
	ck_assert_str_eq(c->cluster.floating_addr, "192.0.2.100");
	ck_assert_uint_eq(c->cluster.floating_prefix, 24);
	ck_assert_str_eq(c->cluster.cpg_group, "tandem");
	ck_assert_int_eq(c->cluster.fencing, TCONF_FENCING_NONE);
	ck_assert_int_eq(c->cluster.arp_count, 5);
	ck_assert_int_eq(c->cluster.tickle_count, 2);
	ck_assert_int_eq(c->cluster.reconnect_ms, 1000);
	ck_assert_int_eq(c->cluster.fence_delay_ms, 500);
	tconf_free(c);
	c = load("cluster {\n node: alpha\n floating_ip: 192.0.2.100/24\n interface: a0\n fence_delay_ms: 0\n}\n",
		 err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->cluster.fence_delay_ms, 0);
	tconf_free(c);
	c = load("", err, sizeof(err));
	ck_assert_ptr_nonnull(c);
	ck_assert(!c->cluster.enabled);
	tconf_free(c);
	c = load("cluster {\n node: b\n manager: pacemaker\n}\n", err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->cluster.manager, TCONF_CLUSTER_PACEMAKER);
	ck_assert_str_eq(c->cluster.outdate_peer_command, "");
	tconf_free(c);
	c = load("cluster {\n node: b\n manager: pacemaker\n"
		 " outdate_peer_command: \"crm_attribute -N \\\"$TANDEM_PEER\\\" -n tandem-outdated-tandem -l forever -v 1\"\n}\n",
		 err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_str_eq(c->cluster.outdate_peer_command,
			 "crm_attribute -N \"$TANDEM_PEER\" -n tandem-outdated-tandem -l forever -v 1");
	tconf_free(c);
}
END_TEST

static const struct {
	const char *text;
	const char *msg;
} bad[] = {
	{ "cluster {\n floating_ip: 192.0.2.100/24\n interface: a0\n}\n", "'node'" },
	{ "cluster {\n node: a\n}\n", "floating_ip" },
	{ "cluster {\n node: a\n floating_ip: 192.0.2.100\n interface: a0\n}\n", "invalid floating_ip" },
	{ "cluster {\n node: a\n floating_ip: 192.0.2.100/33\n interface: a0\n}\n", "invalid floating_ip" },
	{ "cluster {\n node: a\n floating_ip: 300.0.2.1/24\n interface: a0\n}\n", "invalid floating_ip" },
	{ "cluster {\n node: a\n floating_ip: 192.0.2.100/24\n}\n", "interface" },
	{ "cluster {\n node: a\n floating_ip: 192.0.2.100/24\n interface: a0\n fencing: command\n}\n", "fence_command" },
	{ "cluster {\n node: a\n floating_ip: 192.0.2.100/24\n interface: a0\n fencing: stonith\n}\n", "expected one of" },
	{ "cluster {\n node: a\n floating_ip: 192.0.2.100/24\n interface: a0\n alua_group: nope\n}\n", "unknown alua_group" },
	{ "cluster {\n node: a\n peer: a\n floating_ip: 192.0.2.100/24\n interface: a0\n}\n", "peer must differ" },
	{ "cluster {\n node: a b\n floating_ip: 192.0.2.100/24\n interface: a0\n}\n", "invalid character" },
	{ "cluster {\n node: a\n manager: none\n}\ncluster {\n node: a\n manager: none\n}\n", "duplicate section" },
	{ "cluster {\n node: a\n manager: none\n arp_count: 1000\n}\n", "out of range" },
	{ "cluster {\n node: a\n manager: none\n bogus: 1\n}\n", "unknown key" },
	{ "cluster {\n node: a\n manager: none\n fence_delay_ms: -1\n}\n", "out of range" },
	{ "cluster {\n node: a\n manager: none\n fence_command: \"x\"\n}\n", "only used" },
	{ "cluster {\n node: a\n floating_ip: 192.0.2.100/24\n interface: a0\n outdate_peer_command: \"x\"\n}\n",
	  "only used with 'manager: pacemaker'" },
	{ "cluster {\n node: a\n manager: none\n outdate_peer_command: \"x\"\n}\n", "outdate_peer_command" },
};

START_TEST(test_errors)
{
	char err[256] = "";
	struct tconf *c = load(bad[_i].text, err, sizeof(err));
	config_test_refused(c, err, bad[_i].text, bad[_i].msg, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("cluster_config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, test_defaults_and_keys);
	tcase_add_test(tc, test_alua_explicit);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
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
