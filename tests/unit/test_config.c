/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the config module: lexer/parser/schema on good and malformed
 * files, the embedded default, and the ACL/lookup helpers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include "config/config.h"
#include "util/log.h"

static const char *good =
	"# a comment\n"
	"global {\n"
	"    log_level: debug\n"
	"    threads: 3\n"
	"    nop_interval: 0   # off\n"
	"    nop_timeout: 20\n"
	"    login_timeout: 30\n"
	"    ctl_socket: tandem-test\n"
	"    max_sessions: 10\n"
	"    max_connections_per_session: 2\n"
	"    max_cmds_per_session: 64\n"
	"    max_recv_data_segment: 256K\n"
	"    max_burst: 512KiB\n"
	"    first_burst: 64K\n"
	"    sndbuf: 1M\n"
	"    rcvbuf: 0\n"
	"}\n"
	"discovery_chap {\n"
	"    user: disc\n"
	"    secret: \"discovery secret #1\"\n"
	"}\n"
	"portal_group pg1 {\n"
	"    tag: 1\n"
	"    listen: 192.0.2.1:3260\n"
	"    listen: [::1]:3261\n"
	"}\n"
	"portal_group pg2 { \n"
	"    tag: 7\n"
	"    listen: 0.0.0.0\n"
	"}\n"
	"target iqn.2026-11.org.example:store1 {\n"
	"    alias: \"Store One\"\n"
	"    portal_group: pg1\n"
	"    allow: iqn.1998-01.com.vmware:*\n"
	"    deny: iqn.1998-01.com.vmware:badhost*\n"
	"    chap {\n"
	"        user: esxi\n"
	"        secret: \"averylongsecret1\"\n"
	"        mutual_user: tandem\n"
	"        mutual_secret: \"anotherlongsecret2\"\n"
	"    }\n"
	"    lun 0 {\n"
	"        backend: blockio\n"
	"        path: /dev/vg0/store1\n"
	"        cache: write-back\n"
	"        serial: store1-lun0\n"
	"        naa: 6001405a1b2c3d4e5f60718293a4b5c6\n"
	"        vendor: TANDEM\n"
	"        product: store1\n"
	"    }\n"
	"    lun 3 {\n"
	"        backend: null\n"
	"        size: 2G\n"
	"        block_size: 4096\n"
	"        naa: 5001405a1b2c3d4e\n"
	"        readonly: yes\n"
	"        rotation_rate: 1\n"
	"        revision: 9.1\n"
	"        cache: nv-cache\n"
	"    }\n"
	"}\n"
	"target eui.0123456789ABCDEF {\n"
	"  lun 1 { backend: fileio\n"
	"    path: /var/lib/x.img\n"
	"    size: 10M\n"
	"    create: yes\n"
	"  }\n"
	"}\n";

START_TEST(test_good_file)
{
	char err[512] = "x";
	struct tconf *c = tconf_load_string("good.conf", good, err, sizeof(err));
	ck_assert_msg(c != NULL, "error: %s", err);
	ck_assert_str_eq(err, "");
	ck_assert_str_eq(c->path, "good.conf");
	const struct tconf_global *g = &c->global;
	ck_assert_int_eq(g->log_level, LOG_DEBUG);
	ck_assert_int_eq(g->threads, 3);
	ck_assert_int_eq(g->nop_interval, 0);
	ck_assert_int_eq(g->nop_timeout, 20);
	ck_assert_int_eq(g->login_timeout, 30);
	ck_assert_str_eq(g->ctl_socket, "tandem-test");
	ck_assert_int_eq(g->max_sessions, 10);
	ck_assert_int_eq(g->max_connections_per_session, 2);
	ck_assert_int_eq(g->max_cmds_per_session, 64);
	/* batching under load (docs/ARCHITECTURE.md) */
	struct tconf *c2 = tconf_load_string("co.conf", "global {\n  coalesce_us: 0\n  coalesce_depth: 4\n}\n", err,
					    sizeof(err));
	ck_assert_msg(c2 != NULL, "error: %s", err);
	ck_assert_int_eq(c2->global.coalesce_us, 0);
	ck_assert_int_eq(c2->global.coalesce_depth, 4);
	tconf_free(c2);
	ck_assert_uint_eq(g->max_recv_data_segment, 256 * 1024);
	ck_assert_uint_eq(g->max_burst, 512 * 1024);
	ck_assert_uint_eq(g->first_burst, 64 * 1024);
	ck_assert_int_eq(g->sndbuf, 1 << 20);
	ck_assert_int_eq(g->rcvbuf, 0);
	ck_assert(g->discovery_chap);
	ck_assert_str_eq(g->discovery_chap_cred.user, "disc");
	ck_assert_str_eq(g->discovery_chap_cred.secret, "discovery secret #1");
	ck_assert_str_eq(g->discovery_chap_cred.mutual_user, "");

	ck_assert_uint_eq(c->nportal_groups, 2);
	const struct tconf_portal_group *pg = tconf_find_portal_group(c, "pg1");
	ck_assert_ptr_nonnull(pg);
	ck_assert_uint_eq(pg->tag, 1);
	ck_assert_uint_eq(pg->nlisten, 2);
	ck_assert_str_eq(pg->listen[0].addr, "192.0.2.1");
	ck_assert_uint_eq(pg->listen[0].port, 3260);
	ck_assert_str_eq(pg->listen[1].addr, "::1");
	ck_assert_uint_eq(pg->listen[1].port, 3261);
	ck_assert_int_eq(pg->listen[1].line, 25);
	const struct tconf_portal_group *pg2 = tconf_find_portal_group(c, "pg2");
	ck_assert_ptr_nonnull(pg2);
	ck_assert_uint_eq(pg2->tag, 7);
	ck_assert_str_eq(pg2->listen[0].addr, "0.0.0.0");
	ck_assert_uint_eq(pg2->listen[0].port, 3260);
	ck_assert_ptr_null(tconf_find_portal_group(c, "default"));

	ck_assert_uint_eq(c->ntargets, 2);
	const struct tconf_target *t = tconf_find_target(c, "iqn.2026-11.org.example:store1");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->line, 31);
	ck_assert_str_eq(t->alias, "Store One");
	ck_assert_uint_eq(t->nportal_groups, 1);
	ck_assert_str_eq(t->portal_groups[0], "pg1");
	ck_assert(tconf_target_in_portal_group(t, pg));
	ck_assert(!tconf_target_in_portal_group(t, pg2));
	ck_assert_uint_eq(t->nallow, 1);
	ck_assert_str_eq(t->allow[0], "iqn.1998-01.com.vmware:*");
	ck_assert_uint_eq(t->ndeny, 1);
	ck_assert(t->chap_enabled);
	ck_assert_str_eq(t->chap.user, "esxi");
	ck_assert_str_eq(t->chap.secret, "averylongsecret1");
	ck_assert_str_eq(t->chap.mutual_user, "tandem");
	ck_assert_str_eq(t->chap.mutual_secret, "anotherlongsecret2");
	ck_assert_uint_eq(t->nluns, 2);
	const struct tconf_lun *l = &t->luns[0];
	ck_assert_uint_eq(l->lun, 0);
	ck_assert_int_eq(l->backend, TCONF_BACKEND_BLOCKIO);
	ck_assert_str_eq(l->path, "/dev/vg0/store1");
	ck_assert_uint_eq(l->size, 0);
	ck_assert(!l->create);
	ck_assert_uint_eq(l->block_size, 512);
	ck_assert_int_eq(l->cache, TCONF_CACHE_WRITE_BACK);
	ck_assert_str_eq(l->serial, "store1-lun0");
	ck_assert_uint_eq(l->naa_len, 16);
	static const uint8_t naa6[16] = { 0x60, 0x01, 0x40, 0x5a, 0x1b, 0x2c, 0x3d, 0x4e,
					  0x5f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6 };
	ck_assert_mem_eq(l->naa, naa6, 16);
	ck_assert_str_eq(l->vendor, "TANDEM");
	ck_assert_str_eq(l->product, "store1");
	ck_assert_str_eq(l->revision, "0001");
	l = &t->luns[1];
	ck_assert_uint_eq(l->lun, 3);
	ck_assert_int_eq(l->backend, TCONF_BACKEND_NULL);
	ck_assert_str_eq(l->path, "");
	ck_assert_uint_eq(l->size, 2ull << 30);
	ck_assert_uint_eq(l->block_size, 4096);
	ck_assert(l->readonly);
	ck_assert_int_eq(l->rotation_rate, 1);
	ck_assert_str_eq(l->revision, "9.1");
	ck_assert_int_eq(l->cache, TCONF_CACHE_NV);
	ck_assert_uint_eq(l->naa_len, 8);
	static const uint8_t naa5[8] = { 0x50, 0x01, 0x40, 0x5a, 0x1b, 0x2c, 0x3d, 0x4e };
	ck_assert_mem_eq(l->naa, naa5, 8);
	ck_assert_str_eq(l->product, "tandem-disk");
	/* default serial from a non-simple alias uses a hash of the target name */
	ck_assert(strncmp(l->serial, "tandem-", 7) == 0);
	ck_assert(strcmp(l->serial + strlen(l->serial) - 2, "-3") == 0);

	t = tconf_find_target(c, "eui.0123456789abcdef");   /* case-insensitive lookup */
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->nportal_groups, 0);
	ck_assert(tconf_target_in_portal_group(t, pg));
	ck_assert(tconf_target_in_portal_group(t, pg2));
	ck_assert(!t->chap_enabled);
	l = &t->luns[0];
	ck_assert_int_eq(l->backend, TCONF_BACKEND_FILEIO);
	ck_assert_uint_eq(l->size, 10 << 20);
	ck_assert(l->create);
	ck_assert_int_eq(l->cache, TCONF_CACHE_WRITE_THROUGH);
	ck_assert_uint_eq(l->naa_len, 16);
	ck_assert_uint_eq(l->naa[0] >> 4, 6);
	ck_assert_ptr_null(tconf_find_target(c, "iqn.2026-11.org.example:nope"));
	tconf_free(c);
}
END_TEST

/* The same text twice gives the same derived identities (both nodes agree). */
START_TEST(test_identity_deterministic)
{
	char err[256];
	const char *txt = "target iqn.2026-11.org.a:x { lun 0 { backend: null\n size: 1M\n }\n"
			  " lun 1 { backend: null\n size: 1M\n } }\n";
	struct tconf *a = tconf_load_string("a", txt, err, sizeof(err));
	struct tconf *b = tconf_load_string("b", txt, err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_mem_eq(a->targets[0].luns[0].naa, b->targets[0].luns[0].naa, 16);
	ck_assert_str_eq(a->targets[0].luns[0].serial, b->targets[0].luns[0].serial);
	ck_assert(memcmp(a->targets[0].luns[0].naa, a->targets[0].luns[1].naa, 16) != 0);
	ck_assert_str_ne(a->targets[0].luns[0].serial, a->targets[0].luns[1].serial);
	/* no portal_group in the file: the default one */
	ck_assert_uint_eq(a->nportal_groups, 1);
	ck_assert_str_eq(a->portal_groups[0].name, "default");
	ck_assert_str_eq(a->portal_groups[0].listen[0].addr, "127.0.0.1");
	ck_assert_uint_eq(a->portal_groups[0].listen[0].port, 3260);
	ck_assert_uint_eq(a->portal_groups[0].tag, 1);
	tconf_free(a);
	tconf_free(b);
}
END_TEST

START_TEST(test_defaults_for_unspecified)
{
	char err[256];
	struct tconf *c = tconf_load_string("e.conf", "", err, sizeof(err));
	struct tconf *d = tconf_default();
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(c->ntargets, 0);
	ck_assert_mem_eq(&c->global, &d->global, sizeof(c->global));
	ck_assert_int_eq(c->global.log_level, LOG_INFO);
	ck_assert_int_ge(c->global.threads, 1);
	ck_assert_int_le(c->global.threads, 4);
	ck_assert_str_eq(c->global.ctl_socket, "tandem");
	ck_assert_int_eq(c->global.nop_interval, 5);
	ck_assert_int_eq(c->global.nop_timeout, 10);
	ck_assert_int_eq(c->global.login_timeout, 15);
	ck_assert_int_eq(c->global.max_sessions, 64);
	ck_assert_int_eq(c->global.max_connections_per_session, 4);
	ck_assert_int_eq(c->global.max_cmds_per_session, 128);
	ck_assert_int_eq(c->global.coalesce_us, 30);
	ck_assert_int_eq(c->global.coalesce_depth, 16);
	ck_assert_uint_eq(c->global.max_recv_data_segment, 1 << 20);
	ck_assert_uint_eq(c->global.max_burst, 1 << 20);
	ck_assert_uint_eq(c->global.first_burst, 256 << 10);
	ck_assert_int_eq(c->global.sndbuf, 4 << 20);
	ck_assert_int_eq(c->global.rcvbuf, 4 << 20);
	ck_assert(!c->global.discovery_chap);
	tconf_free(c);
	tconf_free(d);
	/* a lun with only path gets the LUN defaults */
	c = tconf_load_string("l.conf", "target iqn.2026-11.org.tandem:default { alias: default\n lun 0 { path: /x } }",
			      err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	const struct tconf_lun *l = &c->targets[0].luns[0];
	d = tconf_default();
	const struct tconf_lun *dl = &d->targets[0].luns[0];
	ck_assert_int_eq(l->backend, TCONF_BACKEND_BLOCKIO);
	ck_assert_uint_eq(l->block_size, 512);
	ck_assert_int_eq(l->cache, TCONF_CACHE_WRITE_THROUGH);
	ck_assert_str_eq(l->vendor, "TANDEM");
	ck_assert_str_eq(l->product, "tandem-disk");
	ck_assert_str_eq(l->revision, "0001");
	ck_assert_int_eq(l->rotation_rate, 0);
	ck_assert(!l->readonly);
	/* same target name and lun => same identity as the embedded default */
	ck_assert_str_eq(l->serial, dl->serial);
	ck_assert_mem_eq(l->naa, dl->naa, 16);
	tconf_free(c);
	tconf_free(d);
}
END_TEST

START_TEST(test_embedded_default)
{
	struct tconf *c = tconf_default();
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->path, "(embedded default)");
	ck_assert_uint_eq(c->ntargets, 1);
	const struct tconf_target *t = &c->targets[0];
	ck_assert_str_eq(t->name, "iqn.2026-11.org.tandem:default");
	ck_assert_str_eq(t->alias, "default");
	ck_assert_uint_eq(c->nportal_groups, 1);
	ck_assert_str_eq(c->portal_groups[0].name, "default");
	ck_assert_uint_eq(c->portal_groups[0].tag, 1);
	ck_assert_uint_eq(c->portal_groups[0].nlisten, 1);
	ck_assert_str_eq(c->portal_groups[0].listen[0].addr, "127.0.0.1");
	ck_assert_uint_eq(c->portal_groups[0].listen[0].port, 3260);
	ck_assert(tconf_target_in_portal_group(t, &c->portal_groups[0]));
	ck_assert_uint_eq(t->nluns, 1);
	const struct tconf_lun *l = &t->luns[0];
	ck_assert_uint_eq(l->lun, 0);
	ck_assert_int_eq(l->backend, TCONF_BACKEND_BLOCKIO);
	ck_assert_str_eq(l->path, "/var/lib/tandem/lun0.img");
	ck_assert_uint_eq(l->size, 1ull << 30);
	ck_assert(l->create);
	ck_assert_int_eq(l->cache, TCONF_CACHE_WRITE_THROUGH);
	ck_assert_uint_eq(l->block_size, 512);
	ck_assert_str_eq(l->serial, "tandem-default-0");
	ck_assert_uint_eq(l->naa_len, 16);
	ck_assert_uint_eq(l->naa[0] >> 4, 6);
	ck_assert(!t->chap_enabled);
	ck_assert(tconf_initiator_allowed(t, "iqn.1993-08.org.debian:01:abc"));
	/* deterministic */
	struct tconf *d = tconf_default();
	ck_assert_mem_eq(d->targets[0].luns[0].naa, l->naa, 16);
	tconf_free(d);
	tconf_free(c);
}
END_TEST

static char *example_path(void)
{
	/* __FILE__ is .../tests/unit/test_config.c */
	static char p[4096];
	snprintf(p, sizeof(p), "%s", __FILE__);
	char *s = strstr(p, "tests/unit/test_config.c");
	if (!s)
		return NULL;
	strcpy(s, "conf/tandem.conf.example");
	return p;
}

START_TEST(test_shipped_example)
{
	char err[512];
	const char *p = example_path();
	ck_assert_ptr_nonnull(p);
	struct tconf *c = tconf_load_file(p, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->global.threads, 2);
	ck_assert_int_eq(c->global.nop_interval, 5);
	ck_assert_int_eq(c->global.nop_timeout, 10);
	ck_assert_uint_eq(c->nportal_groups, 1);
	ck_assert_uint_eq(c->portal_groups[0].nlisten, 2);
	ck_assert_uint_eq(c->ntargets, 1);
	ck_assert_str_eq(c->targets[0].name, "iqn.2026-11.org.example:store1");
	ck_assert_str_eq(c->targets[0].luns[0].serial, "store1-lun0");
	ck_assert_int_eq(c->targets[0].luns[0].cache, TCONF_CACHE_WRITE_BACK);
	ck_assert_str_eq(c->path, p);
	tconf_free(c);
}
END_TEST

START_TEST(test_file_errors)
{
	char err[512];
	ck_assert_ptr_null(tconf_load_file("/nonexistent/tandem.conf", err, sizeof(err)));
	ck_assert_str_eq(err, "cannot open /nonexistent/tandem.conf: No such file or directory");
	ck_assert_ptr_null(tconf_load_file("/", err, sizeof(err)));
	ck_assert_msg(strstr(err, "Is a directory") != NULL, "%s", err);

	char tmpl[] = "/tmp/tandem-conf-XXXXXX";
	int fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	static const char body[] = "global {\n  threads: 2\n\0 }\n";
	ck_assert_int_eq(write(fd, body, sizeof(body) - 1), (ssize_t)sizeof(body) - 1);
	close(fd);
	ck_assert_ptr_null(tconf_load_file(tmpl, err, sizeof(err)));
	char want[128];
	snprintf(want, sizeof(want), "%s:3: NUL byte", tmpl);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

	fd = open(tmpl, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	static const char body2[] = "global {\n  threads: 0\n}\n";
	ck_assert_int_eq(write(fd, body2, sizeof(body2) - 1), (ssize_t)sizeof(body2) - 1);
	close(fd);
	ck_assert_ptr_null(tconf_load_file(tmpl, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s:2: ", tmpl);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0 && strstr(err, "range"), "%s", err);
	unlink(tmpl);

	/* tiny error buffers are never overrun; NULL buffer is fine */
	char small[8];
	ck_assert_ptr_null(tconf_load_string("x.conf", "bogus: 1\n", small, sizeof(small)));
	ck_assert_uint_lt(strlen(small), sizeof(small));
	ck_assert_ptr_null(tconf_load_string("x.conf", "bogus: 1\n", NULL, 0));
	ck_assert_ptr_null(tconf_load_string("x.conf", NULL, err, sizeof(err)));
	tconf_free(NULL);
}
END_TEST

/* ---- malformed configs ---------------------------------------------------- */

#define T "target iqn.2026-11.org.t:a {\n"
#define L0 "  lun 0 {\n    path: /x\n"

struct bad_case {
	const char *text;
	int line;
	const char *word;
};

static const struct bad_case bad_cases[] = {
	/* lexer / parser */
	{ .text = "global {\n  threads: 2\n", .line = 1, .word = "missing '}'" },
	{ .text = "global {\n}\n}\n", .line = 3, .word = "unexpected '}'" },
	{ .text = "global {\n  threads\n}\n", .line = 2, .word = "expected ':' or '{'" },
	{ .text = "global {\n  threads:\n}\n", .line = 2, .word = "missing value" },
	{ .text = "global {\n  ctl_socket: \"abc\n}\n", .line = 2, .word = "unterminated" },
	{ .text = "global {\n  ctl_socket: \"a\\qb\"\n}\n", .line = 2, .word = "invalid escape" },
	{ .text = "global {\n  ctl_socket: \"ab\" x\n}\n", .line = 2, .word = "after quoted string" },
	{ .text = "global {\n  ctl_socket: a{b\n}\n", .line = 2, .word = "quote" },
	{ .text = "\n\nglobal {\n  threads: 2\x01\n}\n", .line = 4, .word = "control character" },
	{ .text = "{\n}\n", .line = 1, .word = "unexpected '{'" },
	{ .text = "target a b {\n}\n", .line = 1, .word = "expected '{'" },
	{ .text = "a {b {c {d {e {f {g {h {i {}}}}}}}}}\n", .line = 1, .word = "nested" },
	/* schema: unknown things */
	{ .text = "global {\n  thread: 2\n}\n", .line = 2, .word = "unknown key 'thread' in section 'global'" },
	{ .text = "globel {\n}\n", .line = 1, .word = "unknown section 'globel'" },
	{ .text = "threads: 2\n", .line = 1, .word = "unknown key 'threads'" },
	{ .text = T L0 "    colour: red\n  }\n}\n", .line = 4, .word = "unknown key 'colour' in section 'lun'" },
	{ .text = T "  lun 0 {\n    path: /x\n    chap {\n    }\n  }\n}\n", .line = 4,
	  .word = "unknown section 'chap' in section 'lun'" },
	{ .text = T "  lun: 0\n}\n", .line = 2, .word = "is a section, not a key" },
	{ .text = "global {\n  threads {\n  }\n}\n", .line = 2, .word = "is a key, not a section" },
	{ .text = "global x {\n}\n", .line = 1, .word = "takes no argument" },
	/* duplicates */
	{ .text = "global {\n  threads: 2\n  threads: 3\n}\n", .line = 3, .word = "duplicate key 'threads'" },
	{ .text = "global {\n  coalesce_us: 1001\n}\n", .line = 2, .word = "value 1001 for 'coalesce_us' is out of range (0..1000)" },
	{ .text = "global {\n\n  coalesce_depth: 0\n}\n", .line = 3, .word = "'coalesce_depth' is out of range (1..16384)" },
	{ .text = "global {\n  coalesce_us: -5\n}\n", .line = 2, .word = "coalesce_us" },
	{ .text = "global {\n}\nglobal {\n}\n", .line = 3, .word = "duplicate section 'global'" },
	{ .text = T L0 "  }\n  lun 0 {\n    path: /y\n  }\n}\n", .line = 5, .word = "duplicate lun 0" },
	{ .text = T L0 "  }\n}\n" T L0 "  }\n}\n", .line = 6, .word = "duplicate target" },
	{ .text = "portal_group a {\n tag: 1\n listen: 1.2.3.4\n}\nportal_group a {\n tag: 2\n listen: 1.2.3.5\n}\n",
	  .line = 5, .word = "duplicate portal_group 'a'" },
	{ .text = "portal_group a {\n tag: 1\n listen: 1.2.3.4\n}\nportal_group b {\n tag: 1\n listen: 1.2.3.5\n}\n",
	  .line = 5, .word = "duplicate portal group tag 1" },
	{ .text = "portal_group a {\n tag: 1\n listen: 1.2.3.4\n}\nportal_group b {\n tag: 2\n listen: 1.2.3.4:3260\n}\n",
	  .line = 7, .word = "duplicate listen address" },
	{ .text = T "  chap {\n user: a\n secret: 123456789012\n }\n  chap {\n }\n" L0 "  }\n}\n", .line = 6,
	  .word = "duplicate section 'chap'" },
	{ .text = T L0 "    serial: s1\n  }\n  lun 1 {\n    path: /y\n    serial: s1\n  }\n}\n", .line = 6,
	  .word = "duplicate serial 's1'" },
	/* two targets with one alias: the serials derived from it collide; the error
	 * says where the value came from (the file has no 'serial:') */
	{ .text = "target iqn.2026-11.org.tandem:a {\n alias: store\n lun 0 {\n  path: /x\n }\n}\n"
		  "target iqn.2026-11.org.tandem:b {\n alias: store\n lun 0 {\n  path: /y\n }\n}\n",
	  .line = 9, .word = "takes 'tandem-ALIAS-LUN' from its target's alias" },
	{ .text = T L0 "    naa: 5001405a1b2c3d4e\n  }\n  lun 1 {\n    path: /y\n    naa: 0x5001405A1B2C3D4E\n  }\n}\n",
	  .line = 6, .word = "duplicate naa" },
	/* missing required */
	{ .text = "portal_group a {\n  listen: 1.2.3.4\n}\n", .line = 1, .word = "missing required key 'tag'" },
	{ .text = "portal_group a {\n  tag: 3\n}\n", .line = 1, .word = "missing required key 'listen'" },
	{ .text = T "  lun 0 {\n    backend: fileio\n  }\n}\n", .line = 2, .word = "missing required key 'path'" },
	{ .text = T "}\n", .line = 1, .word = "has no lun" },
	{ .text = "target {\n}\n", .line = 1, .word = "needs a name" },
	{ .text = "portal_group {\n}\n", .line = 1, .word = "needs a name" },
	{ .text = T "  lun {\n  }\n}\n", .line = 2, .word = "needs a LUN number" },
	{ .text = T "  chap {\n    user: a\n  }\n" L0 "  }\n}\n", .line = 2, .word = "missing required key 'secret'" },
	{ .text = "discovery_chap {\n  secret: 123456789012\n}\n", .line = 1, .word = "missing required key 'user'" },
	{ .text = "global {\n discovery_chap {\n  user: a\n  secret: 123456789012\n }\n}\n"
		  "discovery_chap {\n  user: a\n  secret: 123456789012\n}\n",
	  .line = 7, .word = "duplicate section 'discovery_chap'" },
	{ .text = "discovery_chap x {\n}\n", .line = 1, .word = "takes no argument" },
	{ .text = "discovery_chap {\n  user: a\n  secret: 123456789012\n  colour: 1\n}\n", .line = 4,
	  .word = "unknown key 'colour' in section 'discovery_chap'" },
	/* ranges and values */
	{ .text = "global {\n  threads: 0\n}\n", .line = 2, .word = "out of range" },
	{ .text = "global {\n  threads: 65\n}\n", .line = 2, .word = "out of range" },
	{ .text = "global {\n  threads: two\n}\n", .line = 2, .word = "expected an integer" },
	{ .text = "global {\n  threads: 2x\n}\n", .line = 2, .word = "expected an integer" },
	{ .text = "global {\n  threads: 99999999999999999999999\n}\n", .line = 2, .word = "out of range" },
	{ .text = "global {\n  log_level: loud\n}\n", .line = 2, .word = "invalid log_level" },
	{ .text = "global {\n  max_burst: 16M\n}\n", .line = 2, .word = "out of range" },
	{ .text = "global {\n  max_burst: 1Q\n}\n", .line = 2, .word = "invalid size" },
	{ .text = "global {\n  max_burst: 64K\n  first_burst: 128K\n}\n", .line = 1, .word = "first_burst" },
	{ .text = "global {\n  ctl_socket: a/b\n}\n", .line = 2, .word = "invalid character" },
	{ .text = "global {\n  nop_interval: -1\n}\n", .line = 2, .word = "out of range" },
	{ .text = T L0 "    size: 99999999T\n  }\n}\n", .line = 4, .word = "out of range" },
	{ .text = T L0 "    size: 1000\n  }\n}\n", .line = 2, .word = "not a multiple of block_size" },
	{ .text = T L0 "    block_size: 1024\n  }\n}\n", .line = 4, .word = "expected 512 or 4096" },
	{ .text = T L0 "    cache: write-around\n  }\n}\n", .line = 4, .word = "write-through" },
	{ .text = T L0 "    backend: iscsi\n  }\n}\n", .line = 4, .word = "blockio" },
	{ .text = T L0 "    create: maybe\n  }\n}\n", .line = 4, .word = "yes or no" },
	{ .text = T L0 "    create: yes\n  }\n}\n", .line = 2, .word = "needs 'size'" },
	{ .text = T "  lun 0 {\n    backend: null\n  }\n}\n", .line = 2, .word = "null backend needs 'size'" },
	{ .text = T "  lun 0 {\n    backend: fileio\n    path: /x\n    cache: nv-cache\n  }\n}\n", .line = 2,
	  .word = "'cache: nv-cache' needs a backend that writes past" },
	{ .text = T "  lun 0 {\n    backend: null\n    size: 1M\n    path: /x\n  }\n}\n", .line = 2,
	  .word = "not used by the null backend" },
	{ .text = T "  lun 0 {\n    path: relative/x\n  }\n}\n", .line = 3, .word = "absolute" },
	{ .text = T "  lun 16384 {\n    path: /x\n  }\n}\n", .line = 2, .word = "invalid lun number" },
	{ .text = T "  lun -1 {\n    path: /x\n  }\n}\n", .line = 2, .word = "invalid lun number" },
	{ .text = T L0 "    rotation_rate: 7200x\n  }\n}\n", .line = 4, .word = "integer" },
	{ .text = T L0 "    rotation_rate: 500\n  }\n}\n", .line = 4, .word = "rotation_rate" },
	/* identity strings */
	{ .text = T L0 "    vendor: TANDEMXYZ\n  }\n}\n", .line = 4, .word = "too long" },
	{ .text = T L0 "    product: 12345678901234567\n  }\n}\n", .line = 4, .word = "too long" },
	{ .text = T L0 "    revision: 12345\n  }\n}\n", .line = 4, .word = "too long" },
	{ .text = T L0 "    serial: \"01234567890123456789012345678901234567890123456789012345678901234\"\n  }\n}\n",
	  .line = 4, .word = "too long" },
	{ .text = T L0 "    serial: \"tab\\there\"\n  }\n}\n", .line = 4, .word = "printable" },
	{ .text = T L0 "    serial: s\xc3\xa9rie\n  }\n}\n", .line = 4, .word = "printable" },
	{ .text = T L0 "    naa: 6001405a1b2c3d4e\n  }\n}\n", .line = 4, .word = "must start with 5" },
	{ .text = T L0 "    naa: 5001405a1b2c3d4e5f60718293a4b5c6\n  }\n}\n", .line = 4, .word = "must start with 6" },
	{ .text = T L0 "    naa: 5001405a1b2c3d\n  }\n}\n", .line = 4, .word = "16 (NAA 5) or 32" },
	{ .text = T L0 "    naa: 5001405a1b2c3dzz\n  }\n}\n", .line = 4, .word = "hexadecimal" },
	/* iSCSI names */
	{ .text = "target iqn.2026-11.org.Example:a {\n}\n", .line = 1, .word = "lowercase" },
	{ .text = "target IQN.2026-11.org.example:a {\n}\n", .line = 1, .word = "lowercase" },
	{ .text = "target iqn.26-11.org.example:a {\n}\n", .line = 1, .word = "iqn.yyyy-mm" },
	{ .text = "target iqn.2026-13.org.example:a {\n}\n", .line = 1, .word = "month" },
	{ .text = "target iqn.2026-11:a {\n}\n", .line = 1, .word = "iqn.yyyy-mm" },
	{ .text = "target iqn.2026-11.:a {\n}\n", .line = 1, .word = "naming authority" },
	{ .text = "target iqn.2026-11.org..x {\n}\n", .line = 1, .word = "empty label" },
	{ .text = "target iqn.2026-11.org.x_y {\n}\n", .line = 1, .word = "invalid character" },
	{ .text = "target iqn.2026-11.org.x: {\n}\n", .line = 1, .word = "after ':'" },
	{ .text = "target eui.0123 {\n}\n", .line = 1, .word = "16 hex" },
	{ .text = "target naa.0123456789abcdef01 {\n}\n", .line = 1, .word = "16 or 32" },
	{ .text = "target eui.0123456789abcdeg {\n}\n", .line = 1, .word = "hexadecimal" },
	{ .text = "target foo.bar {\n}\n", .line = 1, .word = "iqn., eui. or naa." },
	/* chap */
	{ .text = T "  chap {\n    user: a\n    secret: short\n  }\n" L0 "  }\n}\n", .line = 4, .word = "too short" },
	{ .text = T "  chap {\n    user: a\n    secret: 123456789012\n    mutual_user: b\n  }\n" L0 "  }\n}\n",
	  .line = 2, .word = "given together" },
	{ .text = T "  chap {\n    user: a\n    secret: 123456789012\n    mutual_user: b\n"
		  "    mutual_secret: 123456789012\n  }\n" L0 "  }\n}\n",
	  .line = 2, .word = "must differ" },
	/* portals */
	{ .text = "portal_group a {\n  tag: 0\n  listen: 1.2.3.4\n}\n", .line = 2, .word = "out of range" },
	{ .text = "portal_group a {\n  tag: 65536\n  listen: 1.2.3.4\n}\n", .line = 2, .word = "out of range" },
	{ .text = "portal_group a {\n  tag: 1\n  listen: localhost:3260\n}\n", .line = 3, .word = "invalid listen" },
	{ .text = "portal_group a {\n  tag: 1\n  listen: 1.2.3.4:0\n}\n", .line = 3, .word = "invalid port" },
	{ .text = "portal_group a {\n  tag: 1\n  listen: 1.2.3.4:65536\n}\n", .line = 3, .word = "invalid port" },
	{ .text = "portal_group a {\n  tag: 1\n  listen: 1.2.3.4:\n}\n", .line = 3, .word = "invalid port" },
	{ .text = "portal_group a {\n  tag: 1\n  listen: 1.2.3.256\n}\n", .line = 3, .word = "invalid listen" },
	{ .text = "portal_group a {\n  tag: 1\n  listen: [::1\n}\n", .line = 3, .word = "missing ']'" },
	{ .text = "portal_group a {\n  tag: 1\n  listen: [::1]3260\n}\n", .line = 3, .word = "':port'" },
	{ .text = "portal_group a {\n  tag: 1\n  listen: [1.2.3.4]:3260\n}\n", .line = 3, .word = "invalid listen" },
	{ .text = "portal_group a/b {\n  tag: 1\n}\n", .line = 1, .word = "invalid character" },
	{ .text = T "  portal_group: nope\n" L0 "  }\n}\n", .line = 2, .word = "unknown portal_group 'nope'" },
	{ .text = "portal_group p {\n tag: 2\n listen: ::1\n}\n" T "  portal_group: p\n  portal_group: p\n" L0 "  }\n}\n",
	  .line = 7, .word = "duplicate portal_group 'p'" },
	{ .text = T "  allow: \"iqn.x *\"\n" L0 "  }\n}\n", .line = 2, .word = "spaces" },
	{ .text = T "  deny: \"\"\n" L0 "  }\n}\n", .line = 2, .word = "empty" },
};

START_TEST(test_bad_config)
{
	const struct bad_case *bc = &bad_cases[_i];
	char err[512] = "";
	struct tconf *c = tconf_load_string("bad.conf", bc->text, err, sizeof(err));
	ck_assert_msg(c == NULL, "case %d accepted:\n%s", _i, bc->text);
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "bad.conf:%d: ", bc->line);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "case %d: want prefix '%s', got '%s'", _i, prefix,
		      err);
	ck_assert_msg(strstr(err, bc->word) != NULL, "case %d: want '%s' in '%s'", _i, bc->word, err);
}
END_TEST

/* ---- helpers -------------------------------------------------------------- */

START_TEST(test_acl)
{
	char err[256];
	struct tconf *c = tconf_load_string("acl.conf",
		"target iqn.2026-11.org.t:open {\n  lun 0 { path: /a\n }\n}\n"
		"target iqn.2026-11.org.t:acl {\n"
		"  allow: iqn.1998-01.com.vmware:*\n"
		"  allow: iqn.1993-08.org.debian:01:host?\n"
		"  deny: iqn.1998-01.com.vmware:badhost*\n"
		"  lun 0 { path: /b\n }\n}\n"
		"target iqn.2026-11.org.t:denyonly {\n  deny: *evil*\n  lun 0 { path: /c\n }\n}\n",
		err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	const struct tconf_target *open = tconf_find_target(c, "iqn.2026-11.org.t:open");
	const struct tconf_target *acl = tconf_find_target(c, "iqn.2026-11.org.t:acl");
	const struct tconf_target *deny = tconf_find_target(c, "iqn.2026-11.org.t:denyonly");
	ck_assert(tconf_initiator_allowed(open, "iqn.2000-01.com.x:y"));
	ck_assert(!tconf_initiator_allowed(open, ""));
	ck_assert(!tconf_initiator_allowed(open, NULL));
	ck_assert(!tconf_initiator_allowed(NULL, "iqn.2000-01.com.x:y"));
	ck_assert(tconf_initiator_allowed(acl, "iqn.1998-01.com.vmware:esx1"));
	ck_assert(tconf_initiator_allowed(acl, "IQN.1998-01.COM.VMWARE:ESX1"));
	ck_assert(!tconf_initiator_allowed(acl, "iqn.1998-01.com.vmware:badhost7"));
	ck_assert(tconf_initiator_allowed(acl, "iqn.1993-08.org.debian:01:host1"));
	ck_assert(!tconf_initiator_allowed(acl, "iqn.1993-08.org.debian:01:host12"));
	ck_assert(!tconf_initiator_allowed(acl, "iqn.2000-01.com.other:x"));
	ck_assert(tconf_initiator_allowed(deny, "iqn.2000-01.com.good:x"));
	ck_assert(!tconf_initiator_allowed(deny, "iqn.2000-01.com.evilcorp:x"));
	tconf_free(c);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(tconf_backend_name(TCONF_BACKEND_BLOCKIO), "blockio");
	ck_assert_str_eq(tconf_backend_name(TCONF_BACKEND_FILEIO), "fileio");
	ck_assert_str_eq(tconf_backend_name(TCONF_BACKEND_NULL), "null");
	ck_assert_str_eq(tconf_backend_name((enum tconf_backend)42), "unknown");
	ck_assert_str_eq(tconf_cache_name(TCONF_CACHE_WRITE_THROUGH), "write-through");
	ck_assert_str_eq(tconf_cache_name(TCONF_CACHE_WRITE_BACK), "write-back");
	ck_assert_str_eq(tconf_cache_name(TCONF_CACHE_NV), "nv-cache");
	ck_assert_str_eq(tconf_cache_name((enum tconf_cache)42), "unknown");
	ck_assert_ptr_null(tconf_find_target(NULL, "x"));
	ck_assert_ptr_null(tconf_find_portal_group(NULL, "x"));
	ck_assert(!tconf_target_in_portal_group(NULL, NULL));
}
END_TEST

START_TEST(test_syntax_variants)
{
	char err[256];
	/* CRLF, tabs, comments after values, braces on their own lines, "key : value",
	 * quoted section argument, empty quoted alias, suffix spellings, IPv6 forms */
	struct tconf *c = tconf_load_string("v.conf",
		"global\r\n{\r\n\tthreads : 4 # four\r\n\tmax_burst: 1MiB\r\n\tfirst_burst: 8kb\r\n}\r\n"
		"portal_group p1 {\n tag: 9\n listen: [2001:db8::1]\n listen: 2001:db8::2\n listen: 10.0.0.1:3261\n}\n"
		"target \"iqn.2026-11.org.t:q\"\n{\n  alias: \"\"\n  lun 0 { backend: null\n size: 1T\n }\n}\n",
		err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	ck_assert_int_eq(c->global.threads, 4);
	ck_assert_uint_eq(c->global.max_burst, 1 << 20);
	ck_assert_uint_eq(c->global.first_burst, 8 << 10);
	ck_assert_str_eq(c->portal_groups[0].listen[0].addr, "2001:db8::1");
	ck_assert_uint_eq(c->portal_groups[0].listen[0].port, 3260);
	ck_assert_str_eq(c->portal_groups[0].listen[1].addr, "2001:db8::2");
	ck_assert_uint_eq(c->portal_groups[0].listen[2].port, 3261);
	ck_assert_str_eq(c->targets[0].name, "iqn.2026-11.org.t:q");
	ck_assert_str_eq(c->targets[0].alias, "");
	ck_assert_uint_eq(c->targets[0].luns[0].size, 1ull << 40);
	tconf_free(c);
}
END_TEST

/* Truncations and single-byte corruptions of a good file never crash and
 * always either load or report "name:line: ...". */
START_TEST(test_mutations)
{
	char err[512];
	size_t len = strlen(good);
	char *buf = malloc(len + 1);
	static const char repl[] = { '{', '}', ':', '"', '#', '\n', ' ', 'x', '\\', '\x01' };
	for (size_t i = 0; i <= len; i++) {
		memcpy(buf, good, i);
		buf[i] = '\0';
		struct tconf *c = tconf_load_string("m.conf", buf, err, sizeof(err));
		if (!c)
			ck_assert_msg(strncmp(err, "m.conf:", 7) == 0, "prefix %zu: %s", i, err);
		tconf_free(c);
	}
	for (size_t i = 0; i < len; i++)
		for (size_t r = 0; r < sizeof(repl); r++) {
			memcpy(buf, good, len + 1);
			buf[i] = repl[r];
			struct tconf *c = tconf_load_string("m.conf", buf, err, sizeof(err));
			if (!c)
				ck_assert_msg(strncmp(err, "m.conf:", 7) == 0, "byte %zu: %s", i, err);
			tconf_free(c);
		}
	free(buf);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("good");
	tcase_add_test(tc, test_good_file);
	tcase_add_test(tc, test_identity_deterministic);
	tcase_add_test(tc, test_defaults_for_unspecified);
	tcase_add_test(tc, test_embedded_default);
	tcase_add_test(tc, test_shipped_example);
	tcase_add_test(tc, test_syntax_variants);
	suite_add_tcase(s, tc);
	tc = tcase_create("malformed");
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_mutations);
	tcase_add_loop_test(tc, test_bad_config, 0, (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("helpers");
	tcase_add_test(tc, test_acl);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
