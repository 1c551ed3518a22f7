/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Control channel between tandemctl and tandemd over libqb IPC: the server
 * side run in the daemon's qb_loop, the client request used by tandemctl, and
 * the wire/JSON conventions both sides agree on. */
#ifndef TANDEM_CTL_H
#define TANDEM_CTL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <qb/qbdefs.h>
#include <qb/qbipc_common.h>
#include <qb/qbloop.h>
#include "util/json.h"

struct tconf;
struct tconf_target;

/* Requests are a qb_ipc_request_header with id CTL_MSG_COMMAND followed by a
 * NUL-terminated command ("status", "reload", "log-level debug", "ping").
 * Responses are a qb_ipc_response_header (same id) followed by NUL-terminated
 * JSON: {"ok":true,...} or {"ok":false,"error":"..."}. */
#define CTL_MSG_COMMAND (QB_IPC_MSG_USER_START + 1)
#define CTL_MAX_MSG (1024 * 1024)           /* largest request or response */
#define CTL_MAX_CMD 256                     /* longest command string */
#define CTL_DEFAULT_SERVICE "tandem"
#define CTL_TIMEOUT_MS 30000

/* Callbacks provided by main.c; all run on the thread running the qb_loop. */
struct ctl_handlers {
	/* Fill members of the already open top-level object (after "ok":true).
	 * Expected layout (tandemctl renders what is there, ignores the rest):
	 *   "version": str, "pid": int, "uptime": int (s), "config": str,
	 *   "portal_groups": [ {"name", "tag", "listen": ["1.2.3.4:3260", "[::1]:3260"]} ],
	 *   "targets": [ {"name", "alias", "portal_groups": [str],
	 *       "luns": [ {"lun", "backend", "path", "size", "block_size", "cache",
	 *                  "readonly", "serial", "state"} ],
	 *       "sessions": [ {"initiator", "isid" (str, e.g. "0x023d00000001"), "tsih",
	 *                      "peer" (str), "connections" (int),
	 *                      "counters": { name: int, ... } } ] } ]
	 * tandemctl also accepts: version/pid/config/uptime_s inside a "daemon"
	 * object; "portals" instead of "portal_groups" (strings or objects with
	 * address/port/tag); a flat top-level "sessions" array whose entries name
	 * their "target"; a top-level "counters" object.
	 * ctl_status_config() writes the config part of this. */
	void (*status)(struct json_writer *w);
	/* Reload the configuration; 0 on success (a message left in err is a
	 * warning: applied, but not all of it in service), else -1 with a
	 * message in err. */
	int (*reload)(char *err, size_t errlen);
	/* Apply a syslog level (already validated); 0 on success. */
	int (*set_log_level)(int level);
	/* `alua GROUP STATE`: set an ALUA target port group (name or id) to a state
	 * name (docs/ALUA.md); 0, or -1 with a message in err. */
	int (*alua_set)(const char *group, const char *state, char *err, size_t errlen);
	/* `failover [NODE]` (NULL = the peer) and `standby` / `unstandby`
	 * (docs/CLUSTER.md); 0, or -1 with a message in err. */
	int (*failover)(const char *node, char *err, size_t errlen);
	int (*standby)(bool on, char *err, size_t errlen);
	/* Replication (docs/REPLICATION.md): cmd is "primary" (args "force" or
	 * NULL), "secondary", "connect"/"disconnect"/"discard-my-data" (args
	 * TARGET/LUN or NULL = all), "verify" (args "TARGET/LUN [resync]"), "debug"
	 * (args the action); 0, or -1 with a message in err. */
	int (*repl)(const char *cmd, const char *args, char *err, size_t errlen);
};

/* Register the IPC service `service_name` (NULL/"" = CTL_DEFAULT_SERVICE) on loop.
 * Only root (or the daemon's own uid) may connect. 0 or -errno. */
int ctl_server_start(qb_loop_t *loop, const char *service_name, const struct ctl_handlers *h);
void ctl_server_stop(void);

/* Handle one command string and write the JSON response into w (exposed for tests). */
void ctl_server_dispatch(const char *cmd, struct json_writer *w);

/* Client: send cmd and wait for the JSON answer (malloc'd into *json_out).
 * Returns 0 when a response arrived (even {"ok":false}), CTL_ECONNECT when the
 * daemon is not reachable, CTL_EPROTO on any other failure; err says why. */
enum { CTL_ECONNECT = -1, CTL_EPROTO = -2 };
int ctl_request(const char *service, const char *cmd, char **json_out, char *err, size_t errlen);

/* tandemctl's exit codes (every subcommand, docs in tandemctl --help). */
enum { CTL_EXIT_OK = 0, CTL_EXIT_FAILED = 1, CTL_EXIT_USAGE = 2, CTL_EXIT_NOCONN = 3 };
struct jr_value;
/* One tandemctl round trip: send request, print a connection or protocol
 * error, parse the answer. Returns CTL_EXIT_OK with *answer (malloc'd JSON)
 * and *v (its parse) set, *ok = the daemon's "ok"; a malformed answer is
 * reported and gives *v = NULL. Otherwise the exit code to stop with. */
int ctl_cli_call(const char *service, const char *request, char **answer, struct jr_value **v, bool *ok);

/* Status helper for main.c: writes "config", "portal_groups" and "targets"
 * (with "luns") from a loaded config. For every target, target_extra (may be
 * NULL) is called inside the open target object, e.g. to add "sessions". */
void ctl_status_config(struct json_writer *w, const struct tconf *c,
		       void (*target_extra)(struct json_writer *w, const struct tconf_target *t, void *arg),
		       void *arg);

/* Render a status answer (the JSON above) for humans, in the spirit of
 * `drbdadm status` / `tgtadm --op show`. 0, or -1 with err set when the JSON
 * cannot be parsed or says "ok":false. */
int ctl_print_status(FILE *out, const char *json, char *err, size_t errlen);
#endif
