/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemd's entry point: command line, configuration, daemonizing, signals,
 * and the main thread's libqb loop (control socket, reload, shutdown). The I/O
 * itself runs on the reactor threads that the iSCSI layer is given. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <qb/qbloop.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "cluster/cluster.h"
#include "config/config.h"
#include "ctl/ctl.h"
#include "iscsi/iscsi.h"
#include "scsi/scsi.h"
#include "reactor.h"
#include "repl/repl.h"
#include "util/bufpool.h"
#include "util/json.h"
#include "util/log.h"
#include "util/workq.h"

#define TANDEM_VERSION "0.1.0"

struct daemon_opts {
	const char *config_path;    /* NULL: default path if it exists, else embedded */
	bool foreground;
	int log_level;              /* -1: from config */
	int threads;                /* 0: from config */
	bool check_only;
	bool release_ip;
	const char *pidfile;
};

/* Only the configuration in service is kept: a reload frees the one it
 * replaced once every layer has the new one. What outlives a reload copies
 * what it needs (SCSI LUNs, ALUA groups, portals, replication volumes); the
 * iSCSI layer's pointers into it (g_iscsi.conf, each target's conf) are
 * swapped under g_iscsi.lock, under which all their readers run, and a
 * removed target's is cleared (iscsi_reload); the cluster manager's is
 * replaced by cluster_reload. Before, every configuration ever applied
 * stayed allocated until shutdown, 50-70 KiB each (mostly the 4 KiB path
 * buffers of struct tconf_lun): test_reload_churn saw VmRSS grow by 6.5 MiB
 * over 110 reloads; a daemon reloaded by configuration management every few
 * minutes grew without bound. */
static struct {
	struct daemon_opts opts;
	struct tconf *conf;             /* in service */
	const char *loaded_from;        /* file path, or NULL for the embedded default */
	qb_loop_t *loop;
	time_t started;
} d;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tandemd [OPTIONS]\n"
		"  -c, --config FILE     configuration file (default " TCONF_DEFAULT_PATH
		" if it exists,\n"
		"                        else the embedded default: one 1 GiB LUN on 127.0.0.1:3260)\n"
		"  -f, --foreground      stay in the foreground, log to stderr\n"
		"  -l, --log-level LVL   error|warning|notice|info|debug|trace (overrides the config)\n"
		"  -t, --threads N       I/O reactor threads, 1..64 (overrides the config)\n"
		"      --check           validate the configuration and exit\n"
		"      --release-ip      remove the cluster's floating IP if this node has it\n"
		"                        configured, and exit (systemd ExecStopPost: a tandemd\n"
		"                        that died without its shutdown leaves it behind)\n"
		"  -p, --pidfile FILE    write the daemon's PID to FILE\n"
		"  -h, --help            this text\n"
		"  -V, --version         print the version\n");
}

static int parse_args(int argc, char **argv, struct daemon_opts *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "threads", required_argument, NULL, 't' },
		{ "check", no_argument, NULL, 'C' },
		{ "release-ip", no_argument, NULL, 'R' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->log_level = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:fl:t:p:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': o->config_path = optarg; break;
		case 'f': o->foreground = true; break;
		case 'l':
			o->log_level = tlog_level_from_name(optarg);
			if (o->log_level < 0) {
				fprintf(stderr, "tandemd: unknown log level '%s'\n", optarg);
				return 2;
			}
			break;
		case 't': {
			char *end;
			long v;
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 1 || v > 64) {
				fprintf(stderr, "tandemd: --threads wants a number from 1 to 64, not '%s'\n", optarg);
				return 2;
			}
			o->threads = (int)v;
			break;
		}
		case 'C': o->check_only = true; break;
		case 'R': o->release_ip = true; break;
		case 'p': o->pidfile = optarg; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("tandemd " TANDEM_VERSION "\n"); exit(0);
		case ':':
			fprintf(stderr, "tandemd: option '%s' needs an argument\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		default:
			fprintf(stderr, "tandemd: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "tandemd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

/* How logs and status name the configuration: its file, or the embedded default. */
static const char *config_name(const char *path)
{
	return path ? path : "(embedded default)";
}

/* Which file to read: -c, else the default path if it exists, else none. */
static const char *config_source(const struct daemon_opts *o)
{
	if (o->config_path)
		return o->config_path;
	if (access(TCONF_DEFAULT_PATH, F_OK) == 0)
		return TCONF_DEFAULT_PATH;
	return NULL;
}

static struct tconf *load_config(const char *path, char *err, size_t errlen)
{
	struct tconf *c = path ? tconf_load_file(path, err, errlen) : tconf_default();

	if (!c && !path)
		snprintf(err, errlen, "cannot build the embedded default configuration");
	return c;
}

static struct tconf *current_conf(void) { return d.conf; }

/* --- control handlers (main thread) --- */

static void ctl_status(struct json_writer *w)
{
	const struct tconf *c = current_conf();

	json_obj_begin(w, "daemon");
	json_str(w, "version", TANDEM_VERSION);
	json_int(w, "pid", getpid());
	json_str(w, "config", config_name(d.loaded_from));
	json_int(w, "uptime_s", (int64_t)(time(NULL) - d.started));
	json_int(w, "reactors", reactor_pool_size());
	if (c)
		json_int(w, "log_level", c->global.log_level);
	json_obj_end(w);
	iscsi_status(w);
	scsi_alua_status(w);
	repl_status(w);
	cluster_status(w);
}

static int ctl_reload(char *err, size_t errlen)
{
	const char *path = config_source(&d.opts);
	struct tconf *old = d.conf;
	struct tconf *c;

	c = load_config(path, err, errlen);
	if (!c) {
		qb_log(LOG_ERR, "reload refused, keeping the running configuration: %s", err);
		return -1;
	}
	if (repl_add_volumes(c, err, errlen) < 0)
		qb_log(LOG_ERR, "reload: %s", err);     /* that LUN then fails to open, with a reason */
	int applied = iscsi_reload(c, err, errlen);
	if (applied < 0) {
		qb_log(LOG_ERR, "reload failed, keeping the running configuration: %s", err);
		tconf_free(c);
		return -1;
	}
	char partial[512] = "";
	if (applied > 0)        /* in use now; the operator hears what is missing */
		snprintf(partial, sizeof(partial), "%s", err);
	if (scsi_alua_configure(c, err, errlen) < 0)
		qb_log(LOG_ERR, "reload: ALUA groups not updated: %s", err);
	d.conf = c;
	d.loaded_from = path;
	if (old)
		repl_reload(old, c);
	cluster_reload(c);
	tconf_free(old);        /* nothing points into it any more (see struct d) */
	if (d.opts.log_level < 0)
		tlog_set_level(c->global.log_level);
	err[0] = '\0';
	if (partial[0]) {
		/* applied: 0, with a warning that tandemctl prints */
		qb_log(LOG_WARNING, "configuration reloaded from %s, but not all of it is in service: %s",
		       config_name(path), partial);
		snprintf(err, errlen, "not all of the configuration is in service: %s", partial);
		return 0;
	}
	qb_log(LOG_NOTICE, "configuration reloaded from %s", config_name(path));
	return 0;
}

/* Every half second: devices of LUNs a reload removed while commands were
 * still running close once the last one ended (iscsi_reap). */
#define REAP_INTERVAL_NS (500ull * 1000 * 1000)
static qb_loop_timer_handle reap_timer;

static void reap_tick(void *arg)
{
	iscsi_reap();
	qb_loop_timer_add(d.loop, QB_LOOP_LOW, REAP_INTERVAL_NS, NULL, reap_tick, &reap_timer);
}

static int ctl_set_log_level(int level)
{
	tlog_set_level(level);
	qb_log(LOG_NOTICE, "log level set to %d", level);
	return 0;
}

/* tandemctl alua GROUP STATE: the operator's (or cluster agent's) way in to
 * scsi_alua_set_state(), the one owner of ALUA state. */
static int ctl_alua_set(const char *group, const char *state, char *err, size_t errlen)
{
	uint16_t id;
	enum scsi_alua_state st;

	if (scsi_alua_find_group(group, &id) < 0) {
		snprintf(err, errlen, "unknown ALUA group '%.64s' (see tandemctl status)", group);
		return -1;
	}
	if (scsi_alua_state_from_name(state, &st) < 0) {
		snprintf(err, errlen, "unknown ALUA state '%.40s' (active-optimized, active-nonoptimized, "
			 "standby, unavailable, transitioning)", state);
		return -1;
	}
	if (scsi_alua_set_state(id, st) < 0) {
		snprintf(err, errlen, "cannot set ALUA group '%.64s' to %s", group, state);
		return -1;
	}
	return 0;
}

/* tandemctl failover [NODE] / standby / unstandby (docs/CLUSTER.md) */
static int ctl_failover(const char *node, char *err, size_t errlen)
{
	return cluster_failover(node, err, errlen);
}

static int ctl_standby(bool on, char *err, size_t errlen)
{
	return cluster_set_standby(on, err, errlen);
}

/* tandemctl primary|secondary|connect|disconnect|discard-my-data|verify|debug
 * (repl/, docs/REPLICATION.md). */
static int ctl_repl(const char *cmd, const char *args, char *err, size_t errlen)
{
	if (strcmp(cmd, "primary") == 0 || strcmp(cmd, "secondary") == 0) {
		bool force = args && strcmp(args, "force") == 0;
		if (args && (!force || cmd[0] == 's')) {
			snprintf(err, errlen, "%s takes no argument but 'force'", cmd);
			return -1;
		}
		return repl_set_role(cmd[0] == 'p' ? REPL_ROLE_PRIMARY : REPL_ROLE_SECONDARY, force, err, errlen);
	}
	if (strcmp(cmd, "connect") == 0)
		return repl_connect(args, err, errlen);
	if (strcmp(cmd, "disconnect") == 0)
		return repl_disconnect(args, err, errlen);
	if (strcmp(cmd, "discard-my-data") == 0)
		return repl_discard_my_data(args, err, errlen);
	if (strcmp(cmd, "debug") == 0)
		return repl_debug(args, err, errlen);
	if (strcmp(cmd, "verify") == 0) {
		char lun[CTL_MAX_CMD + 1];
		const char *sp = args ? strchr(args, ' ') : NULL;
		if (!args || (sp && strcmp(sp + 1, "resync") != 0)) {
			snprintf(err, errlen, "verify needs TARGET/LUN [resync]");
			return -1;
		}
		snprintf(lun, sizeof(lun), "%.*s", sp ? (int)(sp - args) : (int)strlen(args), args);
		return repl_verify_ex(lun, sp != NULL, err, errlen);
	}
	snprintf(err, errlen, "unknown replication command '%s'", cmd);
	return -1;
}

/* Primary serves (its ALUA groups Active/Optimized), Secondary answers Standby:
 * every group that holds one of this node's portal groups (the implicit group 1
 * without an alua config). */
static void on_repl_role(enum repl_role role, void *arg)
{
	const struct tconf *c = current_conf();
	enum scsi_alua_state st = role == REPL_ROLE_PRIMARY ? SCSI_ALUA_ACTIVE_OPTIMIZED : SCSI_ALUA_STANDBY;
	uint16_t done[64];
	size_t ndone = 0;

	/* With a cluster section the manager owns the ALUA states (the floating
	 * port's group follows the primary wherever it runs: docs/PORTALS.md). */
	if (cluster_enabled())
		return;

	for (size_t i = 0; c && i < c->nportal_groups; i++) {
		uint16_t id = c->portal_groups[i].alua_group_id ? c->portal_groups[i].alua_group_id : 1;
		bool seen = false;
		for (size_t j = 0; j < ndone; j++)
			seen |= done[j] == id;
		if (seen)
			continue;
		if (ndone < sizeof(done) / sizeof(done[0]))
			done[ndone++] = id;
		if (scsi_alua_set_state(id, st) < 0)
			qb_log(LOG_WARNING, "repl: cannot set ALUA group %u to %s", id, scsi_alua_state_name(st));
		else
			qb_log(LOG_NOTICE, "ALUA group %u is now %s (replication role %s)", id, scsi_alua_state_name(st),
			       repl_role_name(role));
	}
}

static const struct ctl_handlers handlers = {
	.status = ctl_status,
	.reload = ctl_reload,
	.set_log_level = ctl_set_log_level,
	.alua_set = ctl_alua_set,
	.repl = ctl_repl,
	.failover = ctl_failover,
	.standby = ctl_standby,
};

/* --- signals --- */

static int32_t on_sighup(int32_t sig, void *data)
{
	char err[512];

	ctl_reload(err, sizeof(err));
	return 0;
}

static int32_t on_sigterm(int32_t sig, void *data)
{
	qb_log(LOG_NOTICE, "signal %d: shutting down", sig);
	qb_loop_stop(d.loop);
	return 0;
}

/* --- daemonizing --- */

static int daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0)
		return -1;
	umask(022);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f, "%d\n", getpid());
	return fclose(f);
}

static void print_banner(const struct tconf *c)
{
	for (size_t i = 0; i < c->ntargets; i++) {
		const struct tconf_target *t = &c->targets[i];

		printf("tandemd: target %s", t->name);
		for (size_t l = 0; l < t->nluns; l++)
			printf("%s LUN %u (%s %s)", l ? "," : ":", t->luns[l].lun,
			       tconf_backend_name(t->luns[l].backend),
			       t->luns[l].path[0] ? t->luns[l].path : "-");
		printf("\n");
	}
	for (size_t i = 0; i < c->nportal_groups; i++)
		for (size_t a = 0; a < c->portal_groups[i].nlisten; a++) {
			const struct tconf_listen *l = &c->portal_groups[i].listen[a];
			bool v6 = strchr(l->addr, ':') != NULL;
			printf("tandemd: portal %s%s%s:%u (group %s, tag %u)\n", v6 ? "[" : "", l->addr,
			       v6 ? "]" : "", l->port, c->portal_groups[i].name, c->portal_groups[i].tag);
		}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	char err[1024];
	struct tconf *conf;
	int rc, threads, level;

	rc = parse_args(argc, argv, &d.opts);
	if (rc)
		return rc;

	d.loaded_from = config_source(&d.opts);
	conf = load_config(d.loaded_from, err, sizeof(err));
	if (!conf) {
		fprintf(stderr, "tandemd: %s\n", err);
		return 1;
	}
	if (d.opts.release_ip) {
		/* a tandemd that answers owns whatever it holds (another instance
		 * of the unit that failed to start must not take its address) */
		char *json = NULL, cerr[256];
		if (ctl_request(conf->global.ctl_socket, "ping", &json, cerr, sizeof(cerr)) != CTL_ECONNECT) {
			free(json);
			fprintf(stderr, "tandemd: a tandemd answers on control socket '%s': the floating IP is its to "
				"release; nothing removed\n", conf->global.ctl_socket);
			tconf_free(conf);
			return 1;
		}
		rc = cluster_release_stale_ip(conf, err, sizeof(err));
		fprintf(rc < 0 ? stderr : stdout, "tandemd: %s: %s%s\n", config_name(d.loaded_from),
			rc < 0 ? "cannot remove the floating IP: " : "", err);
		tconf_free(conf);
		return rc < 0 ? 1 : 0;
	}
	if (d.opts.check_only) {
		printf("tandemd: %s: configuration OK (%zu target(s))\n",
		       config_name(d.loaded_from), conf->ntargets);
		tconf_free(conf);
		return 0;
	}
	level = d.opts.log_level >= 0 ? d.opts.log_level : conf->global.log_level;
	threads = d.opts.threads ? d.opts.threads : conf->global.threads;

	print_banner(conf);
	if (!d.opts.foreground && daemonize() < 0) {
		fprintf(stderr, "tandemd: cannot daemonize: %s\n", strerror(errno));
		return 1;
	}
	tlog_init("tandemd", d.opts.foreground, level);
	d.started = time(NULL);
	signal(SIGPIPE, SIG_IGN);

	if (d.opts.pidfile && write_pidfile(d.opts.pidfile) < 0) {
		qb_log(LOG_ERR, "cannot write pidfile %s: %s", d.opts.pidfile, strerror(errno));
		return 1;
	}
	if (reactor_pool_start(threads) < 0) {
		qb_log(LOG_ERR, "cannot start %d reactor threads", threads);
		return 1;
	}
	scsi_set_state_dir(conf->global.state_dir);   /* APTPL reservations (scsi/pr_store.c) */
	/* replication wraps the replicated LUNs' backends: before iscsi_init opens them */
	if (scsi_alua_configure(conf, err, sizeof(err)) < 0 || repl_init(conf, err, sizeof(err)) < 0 ||
	    iscsi_init(conf, err, sizeof(err)) < 0) {
		qb_log(LOG_ERR, "cannot start: %s", err);
		if (d.opts.foreground)
			fprintf(stderr, "tandemd: cannot start: %s\n", err);
		iscsi_shutdown();
		repl_shutdown();
		reactor_pool_stop();
		tconf_free(conf);
		return 1;
	}
	d.conf = conf;
	if (repl_enabled()) {
		/* a replicated node starts Secondary: its ports answer Standby until promoted */
		repl_on_role_change(on_repl_role, NULL);
		on_repl_role(repl_get_role(), NULL);
	}

	d.loop = qb_loop_create();
	if (!d.loop || ctl_server_start(d.loop, conf->global.ctl_socket, &handlers) < 0) {
		qb_log(LOG_ERR, "cannot start the control socket '%s'", conf->global.ctl_socket);
		iscsi_shutdown();
		reactor_pool_stop();
		return 1;
	}
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGHUP, NULL, on_sighup, NULL);
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGTERM, NULL, on_sigterm, NULL);
	qb_loop_signal_add(d.loop, QB_LOOP_HIGH, SIGINT, NULL, on_sigterm, NULL);
	qb_loop_timer_add(d.loop, QB_LOOP_LOW, REAP_INTERVAL_NS, NULL, reap_tick, &reap_timer);
	if (cluster_init(conf, d.loop, err, sizeof(err)) < 0) {
		qb_log(LOG_ERR, "cannot start: %s", err);
		if (d.opts.foreground)
			fprintf(stderr, "tandemd: cannot start: %s\n", err);
		ctl_server_stop();
		iscsi_shutdown();
		reactor_pool_stop();
		return 1;
	}

	qb_log(LOG_NOTICE, "tandemd " TANDEM_VERSION " running: %zu target(s), %d reactor thread(s), config %s",
	       conf->ntargets, threads, config_name(d.loaded_from));
#ifdef HAVE_SYSTEMD
	sd_notify(0, "READY=1");
#endif
	qb_loop_run(d.loop);

#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	cluster_shutdown();     /* releases the floating IP first */
	ctl_server_stop();
	iscsi_shutdown();
	repl_shutdown();        /* after the LUNs closed: flushes and closes their metadata */
	workq_stop();           /* drains: its completions still reach live reactors */
	reactor_pool_stop();    /* exit hooks free per-reactor bdev/iscsi state */
	qb_loop_destroy(d.loop);
	tconf_free(d.conf);
	d.conf = NULL;
	if (d.opts.pidfile)
		unlink(d.opts.pidfile);
	buf_cache_release();
	qb_log(LOG_NOTICE, "tandemd stopped");
	tlog_fini();
	return 0;
}
