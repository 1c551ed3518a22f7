/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the control channel: command dispatch, the libqb IPC round
 * trip between ctl_server_start() and ctl_request(), the JSON reader and the
 * human-readable status rendering. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <qb/qbloop.h>
#include "ctl/ctl.h"
#include "ctl/json_read.h"
#include <stdatomic.h>

#include "config/config.h"
#include "util/log.h"

/* ---- fake daemon ------------------------------------------------------- */

/* set on the server's loop thread, read by the test (atomic: ThreadSanitizer) */
static _Atomic int fake_level = -1;
static _Atomic int fake_reload_fail;
static _Atomic int fake_nsessions;
static _Atomic int fake_reloads;

static void fake_status(struct json_writer *w)
{
	json_str(w, "version", "9.9.9");
	json_int(w, "pid", 4242);
	json_int(w, "uptime", 90061);
	json_arr_begin(w, "targets");
	json_obj_begin(w, NULL);
	json_str(w, "name", "iqn.2026-11.org.tandem:default");
	json_arr_begin(w, "sessions");
	for (int i = 0; i < fake_nsessions; i++) {
		char name[64];
		snprintf(name, sizeof(name), "iqn.1993-08.org.debian:01:host%06d", i);
		json_obj_begin(w, NULL);
		json_str(w, "initiator", name);
		json_str(w, "isid", "0x023d00000001");
		json_int(w, "tsih", i + 1);
		json_str(w, "peer", "192.0.2.55:51234");
		json_int(w, "connections", 1);
		json_obj_end(w);
	}
	json_arr_end(w);
	json_obj_end(w);
	json_arr_end(w);
}

static int fake_reload(char *err, size_t errlen)
{
	fake_reloads++;
	if (fake_reload_fail) {
		snprintf(err, errlen, "/etc/tandem/tandem.conf:12: unknown key 'colour' in section 'lun'");
		return -1;
	}
	return 0;
}

static int fake_set_log_level(int level)
{
	fake_level = level;
	return 0;
}

static const struct ctl_handlers fake_handlers = {
	.status = fake_status,
	.reload = fake_reload,
	.set_log_level = fake_set_log_level,
};

/* ---- server thread ------------------------------------------------------- */

static qb_loop_t *loop;
static pthread_t loop_thread;
static int stop_pipe[2];
static char service[64];
static int start_rc;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static bool started;

static int32_t on_stop(int32_t fd, int32_t revents, void *data)
{
	ctl_server_stop();
	qb_loop_poll_del(loop, fd);
	qb_loop_stop(loop);
	return 0;
}

static void *loop_main(void *arg)
{
	const struct ctl_handlers *h = arg;
	loop = qb_loop_create();
	int rc = loop ? ctl_server_start(loop, service, h) : -ENOMEM;
	if (rc == 0)
		qb_loop_poll_add(loop, QB_LOOP_HIGH, stop_pipe[0], POLLIN, NULL, on_stop);
	pthread_mutex_lock(&start_lock);
	start_rc = rc;
	started = true;
	pthread_cond_signal(&start_cond);
	pthread_mutex_unlock(&start_lock);
	if (rc == 0)
		qb_loop_run(loop);
	qb_loop_destroy(loop);
	return NULL;
}

static void server_up(const struct ctl_handlers *h)
{
	snprintf(service, sizeof(service), "tandem-test-%d", (int)getpid());
	ck_assert_int_eq(pipe(stop_pipe), 0);
	started = false;
	ck_assert_int_eq(pthread_create(&loop_thread, NULL, loop_main, (void *)h), 0);
	pthread_mutex_lock(&start_lock);
	while (!started)
		pthread_cond_wait(&start_cond, &start_lock);
	pthread_mutex_unlock(&start_lock);
	ck_assert_int_eq(start_rc, 0);
}

static void server_down(void)
{
	ck_assert_int_eq(write(stop_pipe[1], "x", 1), 1);
	pthread_join(loop_thread, NULL);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
}

/* Send cmd and return the parsed answer (asserting transport success). */
static struct jr_value *ask(const char *cmd, char **raw)
{
	char *json = NULL, err[256];
	int rc = ctl_request(service, cmd, &json, err, sizeof(err));
	ck_assert_msg(rc == 0, "ctl_request(%s): %d %s", cmd, rc, err);
	ck_assert_ptr_nonnull(json);
	struct jr_value *v = jr_parse(json, err, sizeof(err));
	ck_assert_msg(v != NULL, "bad JSON: %s", err);
	if (raw)
		*raw = json;
	else
		free(json);
	return v;
}

/* ---- IPC round trips ---------------------------------------------------- */

START_TEST(test_ipc_status)
{
	fake_nsessions = 2;
	server_up(&fake_handlers);
	char *raw;
	struct jr_value *v = ask("status", &raw);
	ck_assert(strncmp(raw, "{\"ok\":true,\"version\":\"9.9.9\"", 28) == 0);
	ck_assert(jr_bool(v, "ok", false));
	ck_assert_int_eq(jr_int(v, "pid", 0), 4242);
	const struct jr_value *t = jr_get(v, "targets");
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(t->n, 1);
	const struct jr_value *s = jr_get(&t->items[0], "sessions");
	ck_assert_uint_eq(s->n, 2);
	ck_assert_str_eq(jr_str(&s->items[1], "initiator", ""), "iqn.1993-08.org.debian:01:host000001");
	jr_free(v);
	free(raw);
	/* a second connection works as well */
	v = ask("ping", NULL);
	ck_assert(jr_bool(v, "ok", false));
	jr_free(v);
	server_down();
}
END_TEST

START_TEST(test_ipc_reload)
{
	fake_reload_fail = 0;
	fake_reloads = 0;
	server_up(&fake_handlers);
	struct jr_value *v = ask("reload", NULL);
	ck_assert(jr_bool(v, "ok", false));
	ck_assert_int_eq(fake_reloads, 1);
	jr_free(v);
	fake_reload_fail = 1;
	v = ask("reload", NULL);
	ck_assert(!jr_bool(v, "ok", true));
	ck_assert_str_eq(jr_str(v, "error", ""), "/etc/tandem/tandem.conf:12: unknown key 'colour' in section 'lun'");
	ck_assert_int_eq(fake_reloads, 2);
	jr_free(v);
	server_down();
}
END_TEST

START_TEST(test_ipc_log_level)
{
	fake_level = -1;
	server_up(&fake_handlers);
	struct jr_value *v = ask("log-level debug", NULL);
	ck_assert(jr_bool(v, "ok", false));
	ck_assert_str_eq(jr_str(v, "log_level", ""), "debug");
	ck_assert_int_eq(fake_level, LOG_DEBUG);
	jr_free(v);
	v = ask("log-level loud", NULL);
	ck_assert(!jr_bool(v, "ok", true));
	ck_assert(strstr(jr_str(v, "error", ""), "unknown log level 'loud'") != NULL);
	ck_assert_int_eq(fake_level, LOG_DEBUG);
	jr_free(v);
	v = ask("log-level", NULL);
	ck_assert(!jr_bool(v, "ok", true));
	ck_assert(strstr(jr_str(v, "error", ""), "needs a level") != NULL);
	jr_free(v);
	server_down();
}
END_TEST

START_TEST(test_ipc_bad_commands)
{
	server_up(&fake_handlers);
	struct jr_value *v = ask("frobnicate", NULL);
	ck_assert(!jr_bool(v, "ok", true));
	ck_assert_str_eq(jr_str(v, "error", ""), "unknown command 'frobnicate'");
	jr_free(v);
	v = ask("status now", NULL);
	ck_assert_str_eq(jr_str(v, "error", ""), "command 'status' takes no argument");
	jr_free(v);
	v = ask("", NULL);
	ck_assert_str_eq(jr_str(v, "error", ""), "unknown command ''");
	jr_free(v);
	char *json = NULL, err[128];
	char longcmd[CTL_MAX_CMD + 10];
	memset(longcmd, 'a', sizeof(longcmd) - 1);
	longcmd[sizeof(longcmd) - 1] = '\0';
	ck_assert_int_eq(ctl_request(service, longcmd, &json, err, sizeof(err)), CTL_EPROTO);
	ck_assert_ptr_null(json);
	ck_assert_str_eq(err, "command too long");
	server_down();
}
END_TEST

START_TEST(test_ipc_large_response)
{
	/* ~150 bytes per session: 5000 sessions are ~750 KiB, below the limit */
	fake_nsessions = 5000;
	server_up(&fake_handlers);
	char *raw;
	struct jr_value *v = ask("status", &raw);
	ck_assert(jr_bool(v, "ok", false));
	ck_assert_uint_gt(strlen(raw), 500 * 1024);
	const struct jr_value *s = jr_get(&jr_get(v, "targets")->items[0], "sessions");
	ck_assert_uint_eq(s->n, 5000);
	ck_assert_int_eq(jr_int(&s->items[4999], "tsih", 0), 5000);
	jr_free(v);
	free(raw);
	/* too large for one message: a clean error, not a hang */
	fake_nsessions = 20000;
	v = ask("status", NULL);
	ck_assert(!jr_bool(v, "ok", true));
	ck_assert_str_eq(jr_str(v, "error", ""), "response too large");
	jr_free(v);
	server_down();
}
END_TEST

START_TEST(test_ipc_not_running)
{
	char *json = (char *)1, err[256];
	int rc = ctl_request("tandem-test-nobody-here", "status", &json, err, sizeof(err));
	ck_assert_int_eq(rc, CTL_ECONNECT);
	ck_assert_ptr_null(json);
	ck_assert_str_eq(err, "cannot connect to tandemd (service 'tandem-test-nobody-here'): is it running?");
	/* no handlers at all: still answers */
	server_up(NULL);
	struct jr_value *v = ask("status", NULL);
	ck_assert(jr_bool(v, "ok", false));
	jr_free(v);
	v = ask("reload", NULL);
	ck_assert(!jr_bool(v, "ok", true));
	jr_free(v);
	/* a second server with the same loop is refused */
	ck_assert_int_eq(ctl_server_start(loop, "x", NULL), -EINVAL);
	server_down();
	ck_assert_int_eq(ctl_server_start(NULL, "x", NULL), -EINVAL);
}
END_TEST

/* ---- dispatch without IPC ----------------------------------------------- */

static struct jr_value *dispatch(const char *cmd)
{
	struct json_writer w;
	char err[128];
	json_init(&w);
	ctl_server_dispatch(cmd, &w);
	struct jr_value *v = jr_parse(json_result(&w), err, sizeof(err));
	ck_assert_msg(v != NULL, "%s: %s", cmd ? cmd : "(null)", err);
	json_free(&w);
	return v;
}

START_TEST(test_dispatch_parsing)
{
	static const struct {
		const char *cmd;
		bool ok;
		const char *error;
	} cases[] = {
		{ "  ping  ", true, NULL },
		{ "ping\n", true, NULL },
		{ "ping x", false, "command 'ping' takes no argument" },
		/* an argument that came out empty is not "no argument" (every
		 * LUN, the peer): refused; blanks after a command without one
		 * stay harmless */
		{ "failover ", false, "command 'failover': empty argument" },
		{ " discard-my-data \t\n", false, "command 'discard-my-data': empty argument" },
		{ "disconnect\t", false, "command 'disconnect': empty argument" },
		{ "status ", true, NULL },
		{ "log-level a b", false, "command 'log-level' takes one argument" },
		{ "stat\x01us", false, "invalid character in command" },
		{ "STATUS", false, "unknown command 'STATUS'" },
		{ "status\"", false, "unknown command 'status\"'" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jr_value *v = dispatch(cases[i].cmd);
		ck_assert_msg(jr_bool(v, "ok", !cases[i].ok) == cases[i].ok, "case %zu", i);
		if (cases[i].error)
			ck_assert_str_eq(jr_str(v, "error", ""), cases[i].error);
		jr_free(v);
	}
	struct jr_value *v = dispatch(NULL);
	ck_assert_str_eq(jr_str(v, "error", ""), "command too long");
	jr_free(v);
}
END_TEST

/* ---- JSON reader ------------------------------------------------------------ */

START_TEST(test_json_read_values)
{
	char err[128];
	struct jr_value *v = jr_parse(" {\"a\": [1, -2, 3.5, 1e3, true, false, null, \"x\\ty\\u00e9\\ud83d\\ude00\"],"
				      " \"b\": {}, \"c\": [], \"big\": 18446744073709551615 } ", err, sizeof(err));
	ck_assert_msg(v != NULL, "%s", err);
	const struct jr_value *a = jr_get(v, "a");
	ck_assert_uint_eq(a->n, 8);
	ck_assert_int_eq(a->items[0].i, 1);
	ck_assert_int_eq(a->items[1].i, -2);
	ck_assert(a->items[2].num == 3.5);
	ck_assert_int_eq(a->items[3].i, 1000);
	ck_assert(a->items[4].type == JR_BOOL && a->items[4].b);
	ck_assert(a->items[5].type == JR_BOOL && !a->items[5].b);
	ck_assert(a->items[6].type == JR_NULL);
	ck_assert_str_eq(a->items[7].str, "x\ty\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert_uint_eq(jr_get(v, "b")->n, 0);
	ck_assert(jr_get(v, "c")->type == JR_ARRAY);
	ck_assert_int_eq(jr_int(v, "big", 0), INT64_MAX);
	ck_assert_ptr_null(jr_get(v, "missing"));
	ck_assert_str_eq(jr_str(v, "a", "dflt"), "dflt");
	ck_assert_int_eq(jr_int(v, "b", 7), 7);
	jr_free(v);
	jr_free(NULL);
}
END_TEST

START_TEST(test_json_read_roundtrip)
{
	struct json_writer w;
	char err[128];
	json_init(&w);
	json_obj_begin(&w, NULL);
	json_str(&w, "s", "quote\" back\\ nl\n ctl\x01 utf8 \xc3\xbc");
	json_int(&w, "n", -12345678901234LL);
	json_obj_end(&w);
	struct jr_value *v = jr_parse(json_result(&w), err, sizeof(err));
	ck_assert_msg(v != NULL, "%s", err);
	ck_assert_str_eq(jr_str(v, "s", ""), "quote\" back\\ nl\n ctl\x01 utf8 \xc3\xbc");
	ck_assert_int_eq(jr_int(v, "n", 0), -12345678901234LL);
	jr_free(v);
	json_free(&w);
}
END_TEST

START_TEST(test_json_read_bad)
{
	static const char *const bad[] = {
		"", "{", "}", "[1,]", "{\"a\" 1}", "{\"a\":}", "{a:1}", "[1 2]", "\"abc", "\"a\\x\"",
		"\"\\ud800\"", "\"\\u00zz\"", "\"\\u0000\"", "tru", "nul", "-", "01", "1.", "1e", "[1]x",
		"\"a\nb\"", "{\"a\":1,}", NULL,
	};
	char err[128];
	for (int i = 0; bad[i]; i++) {
		err[0] = '\0';
		struct jr_value *v = jr_parse(bad[i], err, sizeof(err));
		ck_assert_msg(v == NULL, "accepted '%s'", bad[i]);
		ck_assert_msg(strncmp(err, "invalid JSON: ", 14) == 0, "'%s': %s", bad[i], err);
	}
	char deep[200];
	memset(deep, '[', sizeof(deep) - 1);
	deep[sizeof(deep) - 1] = '\0';
	ck_assert_ptr_null(jr_parse(deep, err, sizeof(err)));
	ck_assert(strstr(err, "deeply") != NULL);
	ck_assert_ptr_null(jr_parse(NULL, err, sizeof(err)));
}
END_TEST

/* ---- status rendering ----------------------------------------------------- */

static char *render(const char *json, int *rc)
{
	char *buf = NULL, err[256] = "";
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	*rc = ctl_print_status(f, json, err, sizeof(err));
	fclose(f);
	if (*rc < 0) {
		free(buf);
		return strdup(err);
	}
	return buf;
}

static void extra_sessions(struct json_writer *w, const struct tconf_target *t, void *arg)
{
	int *calls = arg;
	(*calls)++;
	json_arr_begin(w, "sessions");
	json_obj_begin(w, NULL);
	json_str(w, "initiator", "iqn.1998-01.com.vmware:esx1");
	json_str(w, "isid", "0x023d00000001");
	json_int(w, "tsih", 7);
	json_str(w, "peer", "[2001:db8::5]:51234");
	json_int(w, "connections", 2);
	json_obj_begin(w, "counters");
	json_uint(w, "read_cmds", 10);
	json_uint(w, "read_bytes", 3u << 20);
	json_obj_end(w);
	json_obj_end(w);
	json_arr_end(w);
}

START_TEST(test_render_status)
{
	char err[256];
	struct tconf *c = tconf_load_string("r.conf",
		"portal_group pg1 {\n tag: 3\n listen: 192.0.2.1:3260\n listen: [::1]:3261\n}\n"
		"target iqn.2026-11.org.example:store1 {\n alias: store1\n lun 0 {\n path: /dev/vg0/s\n size: 100G\n"
		" cache: write-back\n serial: s-lun0\n }\n lun 1 { backend: null\n size: 512\n readonly: yes\n }\n}\n"
		"target iqn.2026-11.org.example:idle {\n lun 0 { path: /x }\n}\n",
		err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	struct json_writer w;
	int calls = 0, rc;
	json_init(&w);
	json_obj_begin(&w, NULL);
	json_bool(&w, "ok", true);
	json_str(&w, "version", "1.2.3");
	json_int(&w, "pid", 99);
	json_int(&w, "uptime", 90061);
	ctl_status_config(&w, c, extra_sessions, &calls);
	json_obj_end(&w);
	ck_assert_int_eq(calls, 2);
	char *out = render(json_result(&w), &rc);
	ck_assert_msg(rc == 0, "%s", out);
	ck_assert_msg(strstr(out, "tandemd 1.2.3  pid 99  up 1d 01:01:01\n") != NULL, "%s", out);
	ck_assert(strstr(out, "config: r.conf\n") != NULL);
	ck_assert_msg(strstr(out, "portal group pg1 (tag 3): 192.0.2.1:3260, [::1]:3261\n") != NULL, "%s", out);
	ck_assert(strstr(out, "target iqn.2026-11.org.example:store1  alias store1\n") != NULL);
	ck_assert(strstr(out, "  portal groups: pg1\n") != NULL);
	ck_assert_msg(strstr(out, "  lun 0: blockio /dev/vg0/s  size 100.0 GiB  cache write-back  serial s-lun0\n") != NULL,
		      "%s", out);
	ck_assert_msg(strstr(out, "  lun 1: null  size 512 B  cache write-through  serial tandem-store1-1  readonly\n") != NULL,
		      "%s", out);
	ck_assert(strstr(out, "size device size") != NULL);
	ck_assert(strstr(out, "  sessions: 1\n    iqn.1998-01.com.vmware:esx1\n") != NULL);
	ck_assert(strstr(out, "isid 0x023d00000001  tsih 7  peer [2001:db8::5]:51234  connections 2\n") != NULL);
	ck_assert_msg(strstr(out, "read_cmds 10 read_bytes 3.0 MiB") != NULL, "%s", out);
	free(out);
	json_free(&w);
	tconf_free(c);

	/* the alternative layout: "daemon" object, flat sessions, portals, counters */
	out = render("{\"ok\":true,\"daemon\":{\"version\":\"2.0\",\"pid\":7,\"config\":\"/etc/t.conf\",\"uptime_s\":59},"
		     "\"portals\":[{\"address\":\"::1\",\"port\":3260,\"tag\":1},\"10.0.0.1:3260\"],"
		     "\"targets\":[{\"name\":\"iqn.2026-11.org.a:b\",\"luns\":[{\"lun\":0,\"backend\":\"null\",\"size\":2048}]}],"
		     "\"sessions\":[{\"target\":\"iqn.2026-11.org.a:b\",\"initiator\":\"iqn.x:1\",\"connections\":[{},{}]},"
		     "{\"initiator\":\"iqn.x:disc\"}],\"counters\":{\"logins\":3}}", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strstr(out, "tandemd 2.0  pid 7  up 00:00:59\nconfig: /etc/t.conf\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "portal (tag 1): [::1]:3260\nportal 10.0.0.1:3260\n") != NULL, "%s", out);
	ck_assert(strstr(out, "  lun 0: null  size 2.0 KiB") != NULL);
	ck_assert_msg(strstr(out, "  sessions: 1\n    iqn.x:1\n      isid ?  tsih 0  peer ?  connections 2\n") != NULL,
		      "%s", out);
	ck_assert(strstr(out, "other sessions:\n    iqn.x:disc\n") != NULL);
	ck_assert(strstr(out, "counters:\n  logins 3\n") != NULL);
	free(out);
	/* what iscsi_status() writes: per-connection peers and counters, summed */
	out = render("{\"ok\":true,\"portals\":[{\"portal_group\":\"p\",\"tag\":2,\"address\":\"127.0.0.1\",\"port\":13260}],"
		     "\"targets\":[{\"name\":\"iqn.2026-11.org.a:b\",\"luns\":[{\"lun\":0,\"backend\":\"null\",\"size\":0,"
		     "\"reads\":4,\"write_bytes\":1024}]}],"
		     "\"sessions\":[{\"target\":\"iqn.2026-11.org.a:b\",\"initiator\":\"iqn.x:1\",\"isid\":\"0x1\",\"tsih\":3,"
		     "\"type\":\"normal\",\"connections\":[{\"cid\":0,\"peer\":\"10.0.0.9:1000\",\"cmds\":5,\"read_bytes\":2048},"
		     "{\"cid\":1,\"peer\":\"10.0.0.9:1001\",\"cmds\":6,\"read_bytes\":2048}]},"
		     "{\"initiator\":\"iqn.x:d\",\"type\":\"discovery\",\"target\":\"\",\"connections\":[]}]}", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strstr(out, "portal group p (tag 2): 127.0.0.1:13260\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "  lun 0: null  size device size  cache ?  serial ?\n    reads 4 write_bytes 1.0 KiB\n") != NULL,
		      "%s", out);
	ck_assert_msg(strstr(out, "      isid 0x1  tsih 3  peer 10.0.0.9:1000, 10.0.0.9:1001  connections 2\n"
				  "      cmds 11 read_bytes 4.0 KiB\n") != NULL, "%s", out);
	ck_assert_msg(strstr(out, "other sessions:\n    iqn.x:d  (discovery)\n      isid ?  tsih 0  peer ?  connections 0\n") != NULL,
		      "%s", out);
	free(out);

	out = render("{\"ok\":true}", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert(strstr(out, "no targets") != NULL);
	free(out);
	out = render("{\"ok\":false,\"error\":\"boom\"}", &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_str_eq(out, "boom");
	free(out);
	out = render("{\"ok\":tru", &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert(strncmp(out, "invalid JSON", 12) == 0);
	free(out);
	/* wrong types everywhere: rendered with placeholders, no crash */
	out = render("{\"ok\":true,\"targets\":[1,{\"name\":5,\"luns\":{},\"sessions\":[null,{\"counters\":[]}]}],"
		     "\"portal_groups\":\"x\"}", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert(strstr(out, "target ?") != NULL);
	free(out);
}
END_TEST

static Suite *ctl_suite(void)
{
	Suite *s = suite_create("ctl");
	TCase *tc = tcase_create("ipc");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_ipc_status);
	tcase_add_test(tc, test_ipc_reload);
	tcase_add_test(tc, test_ipc_log_level);
	tcase_add_test(tc, test_ipc_bad_commands);
	tcase_add_test(tc, test_ipc_large_response);
	tcase_add_test(tc, test_ipc_not_running);
	suite_add_tcase(s, tc);
	tc = tcase_create("dispatch");
	tcase_add_test(tc, test_dispatch_parsing);
	suite_add_tcase(s, tc);
	tc = tcase_create("json_read");
	tcase_add_test(tc, test_json_read_values);
	tcase_add_test(tc, test_json_read_roundtrip);
	tcase_add_test(tc, test_json_read_bad);
	suite_add_tcase(s, tc);
	tc = tcase_create("render");
	tcase_add_test(tc, test_render_status);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ctl_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
