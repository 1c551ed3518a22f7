/* SPDX-License-Identifier: GPL-2.0-or-later */
/* tandemctl's replication commands: role changes and operator actions sent to
 * tandemd over the control socket, `create-md` which runs offline from the
 * configuration file, and the "replication" part of `tandemctl status`
 * rendered in the spirit of `drbdadm status`. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "ctl/ctl.h"
#include "ctl/json_read.h"
#include "repl/md.h"
#include "repl/repl.h"

enum { EXIT_OK = CTL_EXIT_OK, EXIT_FAILED = CTL_EXIT_FAILED, EXIT_USAGE = CTL_EXIT_USAGE, EXIT_NOCONN = CTL_EXIT_NOCONN };

static const char *const repl_cmds[] = {
	"primary", "secondary", "connect", "disconnect", "discard-my-data", "verify", "debug", "create-md",
};

bool repl_cli_handles(const char *cmd)
{
	for (size_t i = 0; i < sizeof(repl_cmds) / sizeof(repl_cmds[0]); i++)
		if (strcmp(cmd, repl_cmds[i]) == 0)
			return true;
	return false;
}

static int usage_err(const char *msg, const char *arg)
{
	fprintf(stderr, "tandemctl: ");
	fprintf(stderr, msg, arg);
	fprintf(stderr, "\nreplication commands (docs/REPLICATION.md):\n"
		"  primary [--force]                     promote this node\n"
		"  secondary                             demote this node\n"
		"  connect [TARGET/LUN]                  (re)connect replication\n"
		"  disconnect [TARGET/LUN]               stop replicating (StandAlone)\n"
		"  discard-my-data [TARGET/LUN]          after split brain: this node becomes SyncTarget\n"
		"  verify TARGET/LUN [--resync]          online verify against the peer\n"
		"  debug corrupt-next-crc                test aid: corrupt the next data CRC\n"
		"  create-md TARGET/LUN [--new-device] [--force] [-c CONFIG]   create metadata (offline)\n");
	return EXIT_USAGE;
}

/* ---------------------------------------------------------------- create-md */

static int dev_size(const struct tconf_lun *l, uint64_t *size, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (l->size) {
		*size = l->size;
		return 0;
	}
	if (stat(l->path, &st) < 0) {
		snprintf(err, errlen, "cannot stat %.512s: %s (give the LUN a size, or create the device first)", l->path,
			 strerror(errno));
		return -1;
	}
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		return 0;
	}
	fd = open(l->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || ioctl(fd, BLKGETSIZE64, size) < 0) {
		snprintf(err, errlen, "cannot get the size of %.512s: %s", l->path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int create_md(const char *lun_name, const char *config, bool new_device, bool force)
{
	char err[1024], tname[TCONF_NAME_MAX + 16];
	const char *slash = strrchr(lun_name, '/');
	struct tconf *c;
	const struct tconf_target *t;
	const struct tconf_lun *l = NULL;
	uint64_t size;
	char *end;
	unsigned long lun;

	if (!slash || slash == lun_name || (size_t)(slash - lun_name) >= sizeof(tname))
		return usage_err("create-md wants TARGET/LUN, not '%s'", lun_name);
	memcpy(tname, lun_name, (size_t)(slash - lun_name));
	tname[slash - lun_name] = '\0';
	errno = 0;
	lun = strtoul(slash + 1, &end, 10);
	if (!slash[1] || *end || errno)
		return usage_err("invalid LUN number in '%s'", lun_name);
	c = tconf_load_file(config, err, sizeof(err));
	if (!c) {
		fprintf(stderr, "tandemctl: %s\n", err);
		return EXIT_FAILED;
	}
	t = tconf_find_target(c, tname);
	for (size_t i = 0; t && i < t->nluns; i++)
		if (t->luns[i].lun == lun)
			l = &t->luns[i];
	if (!l) {
		fprintf(stderr, "tandemctl: %s: no LUN %s in %s\n", lun_name, lun_name, config);
		tconf_free(c);
		return EXIT_FAILED;
	}
	if (!l->replicated) {
		fprintf(stderr, "tandemctl: %s is not replicated (set 'replicated: yes' in its lun section)\n",
			lun_name);
		tconf_free(c);
		return EXIT_FAILED;
	}
	if (dev_size(l, &size, err, sizeof(err)) < 0) {
		fprintf(stderr, "tandemctl: %s\n", err);
		tconf_free(c);
		return EXIT_FAILED;
	}
	if (repl_md_create(l->meta, size, REPL_MD_DEFAULT_CHUNK,
			   new_device ? REPL_DISK_UPTODATE : REPL_DISK_INCONSISTENT, force, err, sizeof(err)) < 0) {
		fprintf(stderr, "tandemctl: create-md %s: %s\n", lun_name, err);
		tconf_free(c);
		return EXIT_FAILED;
	}
	printf("created replication metadata %s for %s (%" PRIu64 " bytes, %s)\n", l->meta, lun_name, size,
	       new_device ? "UpToDate: no initial sync with a peer created the same way" :
			    "Inconsistent: a full sync from the peer follows");
	tconf_free(c);
	return EXIT_OK;
}

/* ---------------------------------------------------------------- online commands */

int repl_cli_main(int argc, char **argv)
{
	const char *service = CTL_DEFAULT_SERVICE, *config = TCONF_DEFAULT_PATH;
	const char *pos[3] = { NULL, NULL, NULL };
	bool json = false, force = false, new_device = false, resync = false;
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-s") == 0 || strcmp(a, "--service") == 0) {
			if (++i >= argc)
				return usage_err("option '%s' needs a service name", a);
			service = argv[i];
		} else if (strncmp(a, "--service=", 10) == 0) {
			service = a + 10;
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i >= argc)
				return usage_err("option '%s' needs a file", a);
			config = argv[i];
		} else if (strcmp(a, "-j") == 0 || strcmp(a, "--json") == 0) {
			json = true;
		} else if (strcmp(a, "--force") == 0 || strcmp(a, "-f") == 0) {
			force = true;
		} else if (strcmp(a, "--new-device") == 0) {
			new_device = true;
		} else if (strcmp(a, "--resync") == 0) {
			resync = true;
		} else if (a[0] == '-' && a[1]) {
			return usage_err("unknown option '%s'", a);
		} else if (npos < 3) {
			pos[npos++] = a;
		} else {
			return usage_err("too many arguments ('%s')", a);
		}
	}
	if (!pos[0] || !repl_cli_handles(pos[0]))
		return usage_err("unknown command '%s'", pos[0] ? pos[0] : "");
	const char *cmd = pos[0], *arg = pos[1];
	if (strcmp(cmd, "create-md") == 0) {
		if (!arg || npos > 2)
			return usage_err("%s", "create-md needs exactly one TARGET/LUN");
		return create_md(arg, config, new_device, force);
	}
	if (npos > 2 || ((strcmp(cmd, "primary") == 0 || strcmp(cmd, "secondary") == 0) && arg))
		return usage_err("too many arguments for '%s'", cmd);
	if ((strcmp(cmd, "verify") == 0 || strcmp(cmd, "debug") == 0) && !arg)
		return usage_err("'%s' needs an argument", cmd);
	if ((force && strcmp(cmd, "primary") != 0) || (resync && strcmp(cmd, "verify") != 0) || new_device)
		return usage_err("option not valid for '%s'", cmd);
	if (arg && !*arg)                   /* not "no argument": that means every LUN */
		return usage_err("empty argument for '%s'", cmd);
	if (arg && strpbrk(arg, " \t\n"))
		return usage_err("invalid argument '%s'", arg);

	char request[CTL_MAX_CMD + 1];
	if (snprintf(request, sizeof(request), "%s%s%s%s", cmd, arg ? " " : force ? " force" : "", arg ? arg : "",
		     resync ? " resync" : "") >= (int)sizeof(request))
		return usage_err("%s", "argument too long");

	char *answer = NULL;
	struct jr_value *v;
	bool ok;
	int rc = ctl_cli_call(service, request, &answer, &v, &ok);
	if (rc != CTL_EXIT_OK)
		return rc;
	if (json)
		printf("%s\n", answer);
	else if (!v)
		; /* reported by ctl_cli_call */
	else if (!ok)
		fprintf(stderr, "tandemctl: %s failed: %s\n", cmd, jr_str(v, "error", "unknown error"));
	else if (strcmp(cmd, "primary") == 0 || strcmp(cmd, "secondary") == 0)
		printf("this node is now %s\n", cmd);
	else
		printf("%s %s: done\n", cmd, arg ? arg : "(all)");
	jr_free(v);
	free(answer);
	return ok ? EXIT_OK : EXIT_FAILED;
}

/* ---------------------------------------------------------------- status rendering */

void repl_print_status(FILE *out, const struct jr_value *root)
{
	const struct jr_value *r = jr_get(root, "replication"), *luns;

	if (!r || r->type != JR_OBJECT)
		return;
	fprintf(out, "\nreplication: node %s role:%s  peer %s role:%s  link:%s (tcp %s)\n", jr_str(r, "node", "?"),
		jr_str(r, "role", "?"), jr_str(r, "peer", "?"), jr_str(r, "peer_role", "?"),
		jr_bool(r, "link_up", false) ? "up" : "down", jr_str(r, "tcp_congestion", "?"));
	luns = jr_get(r, "luns");
	for (size_t i = 0; luns && luns->type == JR_ARRAY && i < luns->n; i++) {
		const struct jr_value *l = &luns->items[i];
		const char *conn = jr_str(l, "connection", "?");

		if (!jr_bool(l, "open", true)) {
			fprintf(out, "  %s not open on this node (see the log)\n", jr_str(l, "name", "?"));
			continue;
		}
		fprintf(out, "  %s role:%s disk:%s\n", jr_str(l, "name", "?"), jr_str(l, "role", "?"),
			jr_str(l, "disk", "?"));
		fprintf(out, "    peer connection:%s peer-disk:%s", conn, jr_str(l, "peer_disk", "?"));
		if (jr_bool(l, "split_brain", false))
			fprintf(out, " SPLIT-BRAIN");
		fputc('\n', out);
		if (!jr_bool(l, "known_current", true) && strcmp(jr_str(l, "disk", ""), "UpToDate") == 0)
			fprintf(out, "    data not compared with the peer's since start or quorum loss: may be behind it\n");
		if (strncmp(conn, "Sync", 4) == 0) {
			int64_t eta = jr_int(l, "eta_s", -1);
			fprintf(out, "    done:%.1f%%", (double)jr_int(l, "sync_permille", 0) / 10.0);
			if (eta >= 0)
				fprintf(out, " eta:%" PRId64 "s", eta);
			fputc('\n', out);
		}
		fprintf(out, "    out-of-sync:%" PRId64 " KiB  resync-sent:%" PRId64 " KiB  resync-received:%" PRId64 " KiB\n",
			jr_int(l, "out_of_sync_kib", 0), jr_int(l, "resync_bytes_sent", 0) / 1024,
			jr_int(l, "resync_bytes_received", 0) / 1024);
		const struct jr_value *vf = jr_get(l, "verify");
		if (vf && (jr_bool(vf, "running", false) || jr_int(vf, "runs", 0)))
			fprintf(out, "    verify:%s %" PRId64 "%% differing:%" PRId64 " KiB\n",
				jr_bool(vf, "running", false) ? "running" : "done", jr_int(vf, "percent", 0),
				jr_int(vf, "mismatched_kib", 0));
	}
}
