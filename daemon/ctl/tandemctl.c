/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl: command line front end to a running tandemd (status, reload,
 * log level) over the libqb IPC control channel. */
#include "ctl/ctl.h"
#include "ctl/json_read.h"
#include "repl/repl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef TANDEM_VERSION
#define TANDEM_VERSION "0.1.0"
#endif

enum { EXIT_OK = CTL_EXIT_OK, EXIT_FAILED = CTL_EXIT_FAILED, EXIT_USAGE = CTL_EXIT_USAGE, EXIT_NOCONN = CTL_EXIT_NOCONN };

static void usage(FILE *f)
{
	fputs("usage: tandemctl [-s SERVICE] [--json] COMMAND\n"
	      "\n"
	      "commands:\n"
	      "  status            targets, LUNs, portals and sessions of the running tandemd\n"
	      "  reload            re-read the configuration file\n"
	      "  log-level LEVEL   error | warning | notice | info | debug | trace\n"
	      "  alua GROUP STATE  set an ALUA target port group (name or id) to active-optimized |\n"
	      "                    active-nonoptimized | standby | unavailable | transitioning\n"
	      "  failover [NODE]   planned failover to NODE (default: the non-primary node); waits\n"
	      "                    until it finished (cluster manager, docs/CLUSTER.md)\n"
	      "  standby           this node never promotes (the primary hands over first)\n"
	      "  unstandby         leave standby\n"
	      "  primary [--force] | secondary      replication role of this node (docs/REPLICATION.md)\n"
	      "  connect|disconnect [TARGET/LUN]  replication link of a LUN (default: all)\n"
	      "  discard-my-data [TARGET/LUN]     split brain: drop this node's changes on connect\n"
	      "  verify TARGET/LUN [--resync]     online verify against the peer\n"
	      "  create-md TARGET/LUN [--new-device] [--force] [-c CONFIG]  create replication metadata\n"
	      "  debug corrupt-next-crc           test aid: next replicated data carries a bad CRC\n"
	      "  help              this text\n"
	      "\n"
	      "options:\n"
	      "  -s, --service NAME  IPC service name (default: " CTL_DEFAULT_SERVICE ")\n"
	      "  -j, --json          print the daemon's JSON answer as is\n"
	      "  -V, --version       print the version\n"
	      "\n"
	      "exit status: 0 success, 1 tandemd reported a failure, 2 usage error,\n"
	      "             3 tandemd not reachable\n",
	      f);
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("tandemctl: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\n", stderr);
	usage(stderr);
	return EXIT_USAGE;
}

struct ctl_cmd {
	const char *name;
	int nargs;
	bool optional;          /* the argument may be left out */
};

static const struct ctl_cmd commands[] = {
	{ .name = "status", .nargs = 0 },
	{ .name = "reload", .nargs = 0 },
	{ .name = "log-level", .nargs = 1 },
	{ .name = "alua", .nargs = 2 },
	{ .name = "failover", .nargs = 1, .optional = true },
	{ .name = "standby", .nargs = 0 },
	{ .name = "unstandby", .nargs = 0 },
	{ .name = "help", .nargs = 0 },
};

/* The cluster's failover progress: "state", "last_result"/"last_ms" and the
 * count of finished failovers ("finished", -1 from a tandemd that has none)
 * of status.cluster.failover; false when tandemd does not answer. */
static bool failover_progress(const char *service, char *state, size_t slen, char *result, size_t rlen, int64_t *ms,
			      int64_t *seq)
{
	char *answer = NULL, err[256];
	bool ok = false;
	if (ctl_request(service, "status", &answer, err, sizeof(err)) == 0) {
		struct jr_value *v = jr_parse(answer, err, sizeof(err));
		const struct jr_value *fo = jr_get(jr_get(v, "cluster"), "failover");
		if (fo) {
			snprintf(state, slen, "%s", jr_str(fo, "state", ""));
			snprintf(result, rlen, "%s", jr_str(fo, "last_result", ""));
			*ms = jr_int(fo, "last_ms", 0);
			*seq = jr_int(fo, "finished", -1);
			ok = true;
		}
		jr_free(v);
	}
	free(answer);
	return ok;
}

/* Wait (at most 30 s) until a failover started after (before_result,
 * before_ms, before_seq) ended: the finished count moved on (two failovers in
 * a row may well end with the same result in the same milliseconds). */
static int failover_wait(const char *service, const char *before_result, int64_t before_ms, int64_t before_seq)
{
	char state[64], result[256];
	int64_t ms = 0, seq = -1;
	for (int i = 0; i < 300; i++) {
		if (!failover_progress(service, state, sizeof(state), result, sizeof(result), &ms, &seq))
			break;
		bool moved = seq >= 0 && before_seq >= 0 ? seq != before_seq
							  : strcmp(result, before_result) != 0 || ms != before_ms;
		if (strcmp(state, "idle") == 0 && strcmp(result, "requested") != 0 && moved) {
			if (strcmp(result, "ok") == 0) {
				printf("failover done (%lld ms)\n", (long long)ms);
				return EXIT_OK;
			}
			fprintf(stderr, "tandemctl: failover %s\n", result);
			return EXIT_FAILED;
		}
		struct timespec ts = { .tv_nsec = 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "tandemctl: failover did not finish within 30 s (see tandemctl status)\n");
	return EXIT_FAILED;
}

int main(int argc, char **argv)
{
	const char *service = CTL_DEFAULT_SERVICE;
	bool json = false;
	const char *pos[3];
	int npos = 0;

	/* replication commands have options of their own (repl/repl_cli.c) */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-s") == 0 || strcmp(argv[i], "--service") == 0) {
			i++;
			continue;
		}
		if (argv[i][0] == '-')
			continue;
		if (repl_cli_handles(argv[i]))
			return repl_cli_main(argc, argv);
		break;
	}

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-s") == 0 || strcmp(a, "--service") == 0) {
			if (i + 1 >= argc)
				return usage_error("option '%s' needs a service name", a);
			service = argv[++i];
		} else if (strncmp(a, "--service=", 10) == 0) {
			service = a + 10;
		} else if (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("tandemctl %s\n", TANDEM_VERSION);
			return EXIT_OK;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (a[0] == '-' && a[1] != '\0') {
			return usage_error("unknown option '%s'", a);
		} else if (npos < 3) {
			pos[npos++] = a;
		} else {
			return usage_error("too many arguments ('%s')", a);
		}
	}
	if (!*service || strlen(service) > 100)
		return usage_error("invalid service name '%s'", service);
	if (npos == 0)
		return usage_error("%s", "missing command");

	const struct ctl_cmd *cmd = NULL;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, pos[0]) == 0)
			cmd = &commands[i];
	if (!cmd)
		return usage_error("unknown command '%s'", pos[0]);
	if (npos - 1 > cmd->nargs)
		return usage_error("too many arguments for '%s'", cmd->name);
	if (npos - 1 < cmd->nargs && !cmd->optional)
		return usage_error("'%s' needs an argument", cmd->name);
	if (strcmp(cmd->name, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}

	char request[CTL_MAX_CMD + 1];
	if (snprintf(request, sizeof(request), "%s%s%s", cmd->name, npos > 1 ? " " : "", npos > 1 ? pos[1] : "") >=
	    (int)sizeof(request))
		return usage_error("%s", "argument too long");
	if (npos > 1 && !pos[1][0])         /* not "no argument": that can mean every LUN */
		return usage_error("empty argument for '%s'", cmd->name);
	if (npos > 1 && strpbrk(pos[1], " \t\n"))
		return usage_error("invalid argument '%s'", pos[1]);
	if (npos > 2) {
		/* alua GROUP STATE: the state names are fixed, check them here */
		static const char *const states[] = { "active-optimized", "active-nonoptimized", "standby",
						      "unavailable", "transitioning" };
		bool known = false;
		for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
			known |= strcmp(pos[2], states[i]) == 0;
		if (!known)
			return usage_error("unknown ALUA state '%s'", pos[2]);
		size_t used = strlen(request);
		if (snprintf(request + used, sizeof(request) - used, " %s", pos[2]) >= (int)(sizeof(request) - used))
			return usage_error("%s", "argument too long");
	}

	char fo_state[64] = "", fo_result[256] = "";
	int64_t fo_ms = 0, fo_seq = -1;
	if (strcmp(cmd->name, "failover") == 0 || strcmp(cmd->name, "standby") == 0)
		failover_progress(service, fo_state, sizeof(fo_state), fo_result, sizeof(fo_result), &fo_ms, &fo_seq);

	char *answer = NULL, err[512];
	struct jr_value *v;
	bool ok;
	int rc = ctl_cli_call(service, request, &answer, &v, &ok);
	if (rc != CTL_EXIT_OK)
		return rc;

	int exit_code = ok ? EXIT_OK : EXIT_FAILED;
	if (json) {
		printf("%s\n", answer);
	} else if (!v) {
		/* reported by ctl_cli_call */
	} else if (!ok) {
		fprintf(stderr, "tandemctl: %s failed: %s\n", cmd->name, jr_str(v, "error", "unknown error"));
	} else if (strcmp(cmd->name, "status") == 0) {
		if (ctl_print_status(stdout, answer, err, sizeof(err)) < 0) {
			fprintf(stderr, "tandemctl: %s\n", err);
			exit_code = EXIT_FAILED;
		}
	} else if (strcmp(cmd->name, "reload") == 0) {
		printf("configuration reloaded\n");
		if (jr_str(v, "warning", NULL))
			fprintf(stderr, "tandemctl: warning: %s\n", jr_str(v, "warning", ""));
	} else if (strcmp(cmd->name, "log-level") == 0) {
		printf("log level set to %s\n", jr_str(v, "log_level", pos[1]));
	} else if (strcmp(cmd->name, "alua") == 0) {
		printf("ALUA group %s is now %s\n", jr_str(v, "group", pos[1]), jr_str(v, "state", pos[2]));
	} else if (strcmp(cmd->name, "failover") == 0) {
		exit_code = failover_wait(service, fo_result, fo_ms, fo_seq);
	} else if (strcmp(cmd->name, "standby") == 0 || strcmp(cmd->name, "unstandby") == 0) {
		char st[64] = "", res[256] = "";
		int64_t ms = 0, seq = -1;
		/* standby on the primary hands over first: wait for it */
		if (cmd->name[0] == 's' && failover_progress(service, st, sizeof(st), res, sizeof(res), &ms, &seq) &&
		    (strcmp(st, "idle") != 0 || seq != fo_seq || strcmp(res, fo_result) != 0 || ms != fo_ms))
			exit_code = failover_wait(service, fo_result, fo_ms, fo_seq);
		printf("%s\n", cmd->name[0] == 's' ? "standby: this node will not promote" : "standby left");
	}
	jr_free(v);
	free(answer);
	if (fflush(stdout) != 0 && exit_code == EXIT_OK)
		exit_code = EXIT_FAILED;
	return exit_code;
}
