/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemd's side of the control channel: a libqb IPC service in the main
 * qb_loop that runs status/reload/log-level commands for tandemctl. */
#include "ctl/ctl.h"
#include "util/log.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>
#include <unistd.h>
#include <qb/qbipcs.h>

static qb_loop_t *ctl_loop;
static qb_ipcs_service_t *ctl_service;
static struct ctl_handlers ctl_h;

static void ctl_reply_error(struct json_writer *w, const char *msg)
{
	json_obj_begin(w, NULL);
	json_bool(w, "ok", false);
	json_str(w, "error", msg);
	json_obj_end(w);
}

static void ctl_cmd_status(const char *args, struct json_writer *w)
{
	json_obj_begin(w, NULL);
	json_bool(w, "ok", true);
	if (ctl_h.status)
		ctl_h.status(w);
	json_obj_end(w);
}

static void ctl_cmd_reload(const char *args, struct json_writer *w)
{
	char err[1024] = "";
	if (!ctl_h.reload)
		return ctl_reply_error(w, "reload is not supported");
	if (ctl_h.reload(err, sizeof(err)) != 0)
		return ctl_reply_error(w, err[0] ? err : "reload failed");
	json_obj_begin(w, NULL);
	json_bool(w, "ok", true);
	if (err[0])             /* applied, but not all of it is in service */
		json_str(w, "warning", err);
	json_obj_end(w);
}

static void ctl_cmd_log_level(const char *args, struct json_writer *w)
{
	char msg[128];
	if (!args || !*args)
		return ctl_reply_error(w, "log-level needs a level (error, warning, notice, info, debug, trace)");
	int level = tlog_level_from_name(args);
	if (level < 0) {
		snprintf(msg, sizeof(msg), "unknown log level '%.40s' (error, warning, notice, info, debug, trace)",
			 args);
		return ctl_reply_error(w, msg);
	}
	if (!ctl_h.set_log_level || ctl_h.set_log_level(level) != 0)
		return ctl_reply_error(w, "cannot change the log level");
	json_obj_begin(w, NULL);
	json_bool(w, "ok", true);
	json_str(w, "log_level", args);
	json_obj_end(w);
}

static void ctl_cmd_ping(const char *args, struct json_writer *w)
{
	json_obj_begin(w, NULL);
	json_bool(w, "ok", true);
	json_int(w, "pid", getpid());
	json_obj_end(w);
}

/* alua GROUP STATE (two arguments, checked here; names by the daemon). */
static void ctl_cmd_alua(const char *args, struct json_writer *w)
{
	char group[CTL_MAX_CMD + 1], err[256] = "";
	const char *sp = args ? strchr(args, ' ') : NULL;
	if (!sp || strchr(sp + 1, ' ') || (size_t)(sp - args) >= sizeof(group))
		return ctl_reply_error(w, "alua needs a group and a state: alua GROUP STATE "
				       "(active-optimized, active-nonoptimized, standby, unavailable, transitioning)");
	memcpy(group, args, (size_t)(sp - args));
	group[sp - args] = '\0';
	if (!ctl_h.alua_set)
		return ctl_reply_error(w, "alua is not supported");
	if (ctl_h.alua_set(group, sp + 1, err, sizeof(err)) != 0)
		return ctl_reply_error(w, err[0] ? err : "cannot change the ALUA state");
	json_obj_begin(w, NULL);
	json_bool(w, "ok", true);
	json_str(w, "group", group);
	json_str(w, "state", sp + 1);
	json_obj_end(w);
}

/* failover [NODE], standby, unstandby (cluster/, docs/CLUSTER.md) */
static void ctl_cmd_failover(const char *args, struct json_writer *w)
{
	char err[256] = "";
	if (!ctl_h.failover)
		return ctl_reply_error(w, "failover is not supported");
	if (ctl_h.failover(args, err, sizeof(err)) != 0)
		return ctl_reply_error(w, err[0] ? err : "failover refused");
	json_obj_begin(w, NULL);
	json_bool(w, "ok", true);
	json_str(w, "target", args ? args : "");
	json_obj_end(w);
}

static void ctl_cmd_standby_set(bool on, struct json_writer *w)
{
	char err[256] = "";
	if (!ctl_h.standby)
		return ctl_reply_error(w, "standby is not supported");
	if (ctl_h.standby(on, err, sizeof(err)) != 0)
		return ctl_reply_error(w, err[0] ? err : "refused");
	json_obj_begin(w, NULL);
	json_bool(w, "ok", true);
	json_bool(w, "standby", on);
	json_obj_end(w);
}

static void ctl_cmd_standby(const char *args, struct json_writer *w)
{
	ctl_cmd_standby_set(true, w);
}

static void ctl_cmd_unstandby(const char *args, struct json_writer *w)
{
	ctl_cmd_standby_set(false, w);
}

/* Replication commands (repl/, docs/REPLICATION.md): one handler, the name says which. */
static void ctl_repl(const char *cmd, const char *args, struct json_writer *w)
{
	char err[512] = "";
	if (!ctl_h.repl)
		return ctl_reply_error(w, "replication is not supported");
	if (ctl_h.repl(cmd, args, err, sizeof(err)) != 0)
		return ctl_reply_error(w, err[0] ? err : "refused");
	json_obj_begin(w, NULL);
	json_bool(w, "ok", true);
	json_str(w, "command", cmd);
	json_obj_end(w);
}

#define CTL_REPL_CMD(fn, nm) \
	static void fn(const char *args, struct json_writer *w) { ctl_repl(nm, args, w); }
CTL_REPL_CMD(ctl_cmd_primary, "primary")
CTL_REPL_CMD(ctl_cmd_secondary, "secondary")
CTL_REPL_CMD(ctl_cmd_connect, "connect")
CTL_REPL_CMD(ctl_cmd_disconnect, "disconnect")
CTL_REPL_CMD(ctl_cmd_discard, "discard-my-data")
CTL_REPL_CMD(ctl_cmd_verify, "verify")
CTL_REPL_CMD(ctl_cmd_debug, "debug")

static const struct {
	const char *name;
	bool takes_arg;
	void (*fn)(const char *args, struct json_writer *w);
} ctl_commands[] = {
	{ .name = "status", .takes_arg = false, .fn = ctl_cmd_status },
	{ .name = "reload", .takes_arg = false, .fn = ctl_cmd_reload },
	{ .name = "log-level", .takes_arg = true, .fn = ctl_cmd_log_level },
	{ .name = "ping", .takes_arg = false, .fn = ctl_cmd_ping },
	{ .name = "alua", .takes_arg = true, .fn = ctl_cmd_alua },
	{ .name = "failover", .takes_arg = true, .fn = ctl_cmd_failover },
	{ .name = "standby", .takes_arg = false, .fn = ctl_cmd_standby },
	{ .name = "unstandby", .takes_arg = false, .fn = ctl_cmd_unstandby },
	{ .name = "primary", .takes_arg = true, .fn = ctl_cmd_primary },
	{ .name = "secondary", .takes_arg = false, .fn = ctl_cmd_secondary },
	{ .name = "connect", .takes_arg = true, .fn = ctl_cmd_connect },
	{ .name = "disconnect", .takes_arg = true, .fn = ctl_cmd_disconnect },
	{ .name = "discard-my-data", .takes_arg = true, .fn = ctl_cmd_discard },
	{ .name = "verify", .takes_arg = true, .fn = ctl_cmd_verify },
	{ .name = "debug", .takes_arg = true, .fn = ctl_cmd_debug },
};

void ctl_server_dispatch(const char *cmd, struct json_writer *w)
{
	char buf[CTL_MAX_CMD + 1], msg[CTL_MAX_CMD + 64];
	if (!cmd || strlen(cmd) > CTL_MAX_CMD)
		return ctl_reply_error(w, "command too long");
	strcpy(buf, cmd);
	for (char *e = buf + strlen(buf); e > buf && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n');)
		*--e = '\0';
	char *p = buf;
	while (*p == ' ' || *p == '\t')
		p++;
	char *name = p;
	while (*p && *p != ' ' && *p != '\t')
		p++;
	/* "NAME " with nothing after the blank (stripped above): an argument
	 * that came out empty (a script's unset "$LUN"), never "no argument",
	 * which for some commands means every LUN or the peer (review, session 15) */
	bool blank_arg = !*p && (cmd[p - buf] == ' ' || cmd[p - buf] == '\t');
	char *args = NULL;
	if (*p) {
		*p++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p)
			args = p;
	}
	for (const unsigned char *c = (const unsigned char *)cmd; *c; c++)
		if (*c < 0x20 && *c != '\t' && *c != '\n')
			return ctl_reply_error(w, "invalid character in command");
	for (size_t i = 0; i < sizeof(ctl_commands) / sizeof(ctl_commands[0]); i++) {
		if (strcmp(ctl_commands[i].name, name) != 0)
			continue;
		if (blank_arg && ctl_commands[i].takes_arg) {
			snprintf(msg, sizeof(msg), "command '%s': empty argument", name);
			return ctl_reply_error(w, msg);
		}
		if (args && !ctl_commands[i].takes_arg) {
			snprintf(msg, sizeof(msg), "command '%s' takes no argument", name);
			return ctl_reply_error(w, msg);
		}
		if (args && strchr(args, ' ') && ctl_commands[i].fn != ctl_cmd_alua && ctl_commands[i].fn != ctl_cmd_verify) {
			snprintf(msg, sizeof(msg), "command '%s' takes one argument", name);
			return ctl_reply_error(w, msg);
		}
		return ctl_commands[i].fn(args, w);
	}
	snprintf(msg, sizeof(msg), "unknown command '%s'", name);
	ctl_reply_error(w, msg);
}

/* ---- libqb IPC plumbing -------------------------------------------------- */

static int32_t ctl_accept(qb_ipcs_connection_t *c, uid_t uid, gid_t gid)
{
	if (uid != 0 && uid != geteuid()) {
		qb_log(LOG_WARNING, "ctl: refusing connection from uid %u", (unsigned)uid);
		return -EACCES;
	}
	/* shared memory files readable by root only */
	qb_ipcs_connection_auth_set(c, 0, 0, 0600);
	return 0;
}

static void ctl_send(qb_ipcs_connection_t *c, const char *json)
{
	size_t len = strlen(json) + 1;
	struct qb_ipc_response_header hdr = { .id = CTL_MSG_COMMAND, .error = 0 };
	hdr.size = (int32_t)(sizeof(hdr) + len);
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)json, .iov_len = len },
	};
	ssize_t r = qb_ipcs_response_sendv(c, iov, 2);
	if (r < 0)
		qb_log(LOG_WARNING, "ctl: cannot send response: %s", strerror((int)-r));
}

static int32_t ctl_msg_process(qb_ipcs_connection_t *c, void *data, size_t size)
{
	const struct qb_ipc_request_header *req = data;
	struct json_writer w;
	char cmd[CTL_MAX_CMD + 1];
	json_init(&w);
	if (size < sizeof(*req) || req->id != CTL_MSG_COMMAND || (size_t)req->size != size) {
		ctl_reply_error(&w, "malformed request");
	} else {
		size_t n = size - sizeof(*req);
		const char *payload = (const char *)data + sizeof(*req);
		if (n > 0 && payload[n - 1] == '\0')
			n--;
		if (n > CTL_MAX_CMD || memchr(payload, '\0', n)) {
			ctl_reply_error(&w, n > CTL_MAX_CMD ? "command too long" : "malformed request");
		} else {
			memcpy(cmd, payload, n);
			cmd[n] = '\0';
			qb_log(LOG_DEBUG, "ctl: command '%s'", cmd);
			ctl_server_dispatch(cmd, &w);
		}
	}
	const char *json = json_result(&w);
	if (!json) {
		ctl_send(c, "{\"ok\":false,\"error\":\"out of memory\"}");
	} else if (strlen(json) + 1 + sizeof(struct qb_ipc_response_header) > CTL_MAX_MSG) {
		ctl_send(c, "{\"ok\":false,\"error\":\"response too large\"}");
	} else {
		ctl_send(c, json);
	}
	json_free(&w);
	return 0;
}

static int32_t ctl_job_add(enum qb_loop_priority p, void *data, qb_loop_job_dispatch_fn fn)
{
	return qb_loop_job_add(ctl_loop, p, data, fn);
}

static int32_t ctl_dispatch_add(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
				qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_add(ctl_loop, p, fd, evts, data, fn);
}

static int32_t ctl_dispatch_mod(enum qb_loop_priority p, int32_t fd, int32_t evts, void *data,
				qb_ipcs_dispatch_fn_t fn)
{
	return qb_loop_poll_mod(ctl_loop, p, fd, evts, data, fn);
}

static int32_t ctl_dispatch_del(int32_t fd)
{
	return qb_loop_poll_del(ctl_loop, fd);
}

int ctl_server_start(qb_loop_t *loop, const char *service_name, const struct ctl_handlers *h)
{
	static struct qb_ipcs_service_handlers sh = {
		.connection_accept = ctl_accept,
		.msg_process = ctl_msg_process,
	};
	static struct qb_ipcs_poll_handlers ph = {
		.job_add = ctl_job_add,
		.dispatch_add = ctl_dispatch_add,
		.dispatch_mod = ctl_dispatch_mod,
		.dispatch_del = ctl_dispatch_del,
	};
	if (ctl_service || !loop)
		return -EINVAL;
	if (!service_name || !*service_name)
		service_name = CTL_DEFAULT_SERVICE;
	memset(&ctl_h, 0, sizeof(ctl_h));
	if (h)
		ctl_h = *h;
	ctl_loop = loop;
	ctl_service = qb_ipcs_create(service_name, 0, QB_IPC_SHM, &sh);
	if (!ctl_service) {
		int e = errno ? errno : ENOMEM;
		qb_log(LOG_ERR, "ctl: cannot create IPC service '%s': %s", service_name, strerror(e));
		return -e;
	}
	qb_ipcs_enforce_buffer_size(ctl_service, CTL_MAX_MSG);
	qb_ipcs_poll_handlers_set(ctl_service, &ph);
	int r = qb_ipcs_run(ctl_service);
	if (r != 0) {
		qb_log(LOG_ERR, "ctl: cannot start IPC service '%s': %s (another tandemd with this ctl_socket?)",
		       service_name, strerror(-r));
		/* libqb's qb_ipcs_run already dropped the service's reference on
		 * failure: destroying it again would trip its ref_count assertion. */
		ctl_service = NULL;
		return r;
	}
	qb_log(LOG_INFO, "ctl: listening on IPC service '%s'", service_name);
	return 0;
}

void ctl_server_stop(void)
{
	if (!ctl_service)
		return;
	qb_ipcs_destroy(ctl_service);
	ctl_service = NULL;
	ctl_loop = NULL;
}
