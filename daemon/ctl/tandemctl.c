/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl: command line front end to a running tandemd (status, reload,
 * log level) over the libqb IPC control channel. */
#include "ctl/ctl.h"
#include "ctl/json_read.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TANDEM_VERSION
#define TANDEM_VERSION "0.1.0"
#endif

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_NOCONN = 3 };

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
};

static const struct ctl_cmd commands[] = {
	{ .name = "status", .nargs = 0 },
	{ .name = "reload", .nargs = 0 },
	{ .name = "log-level", .nargs = 1 },
	{ .name = "alua", .nargs = 2 },
	{ .name = "help", .nargs = 0 },
};

int main(int argc, char **argv)
{
	const char *service = CTL_DEFAULT_SERVICE;
	bool json = false;
	const char *pos[3];
	int npos = 0;

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
	if (npos - 1 < cmd->nargs)
		return usage_error("'%s' needs an argument", cmd->name);
	if (strcmp(cmd->name, "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}

	char request[CTL_MAX_CMD + 1];
	if (snprintf(request, sizeof(request), "%s%s%s", cmd->name, npos > 1 ? " " : "", npos > 1 ? pos[1] : "") >=
	    (int)sizeof(request))
		return usage_error("%s", "argument too long");
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

	char *answer = NULL, err[512];
	int rc = ctl_request(service, request, &answer, err, sizeof(err));
	if (rc == CTL_ECONNECT) {
		fprintf(stderr, "tandemctl: %s\n", err);
		return EXIT_NOCONN;
	}
	if (rc != 0) {
		fprintf(stderr, "tandemctl: %s\n", err);
		return EXIT_FAILED;
	}

	struct jr_value *v = jr_parse(answer, err, sizeof(err));
	bool ok = v && v->type == JR_OBJECT && jr_bool(v, "ok", false);
	int exit_code = ok ? EXIT_OK : EXIT_FAILED;
	if (json) {
		printf("%s\n", answer);
	} else if (!v) {
		fprintf(stderr, "tandemctl: malformed answer from tandemd: %s\n", err);
	} else if (!ok) {
		fprintf(stderr, "tandemctl: %s failed: %s\n", cmd->name, jr_str(v, "error", "unknown error"));
	} else if (strcmp(cmd->name, "status") == 0) {
		if (ctl_print_status(stdout, answer, err, sizeof(err)) < 0) {
			fprintf(stderr, "tandemctl: %s\n", err);
			exit_code = EXIT_FAILED;
		}
	} else if (strcmp(cmd->name, "reload") == 0) {
		printf("configuration reloaded\n");
	} else if (strcmp(cmd->name, "log-level") == 0) {
		printf("log level set to %s\n", jr_str(v, "log_level", pos[1]));
	} else if (strcmp(cmd->name, "alua") == 0) {
		printf("ALUA group %s is now %s\n", jr_str(v, "group", pos[1]), jr_str(v, "state", pos[2]));
	}
	jr_free(v);
	free(answer);
	if (fflush(stdout) != 0 && exit_code == EXIT_OK)
		exit_code = EXIT_FAILED;
	return exit_code;
}
