/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Human-readable rendering of the daemon's status JSON for `tandemctl status`.
 * It is lenient: members may be missing or sit in a few documented places
 * (see ctl.h), anything unknown is ignored. */
#include "ctl/ctl.h"
#include "ctl/json_read.h"
#include "repl/repl.h"
#include "cluster/cluster.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void render_size(char *buf, size_t len, int64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	size_t u = 0;
	if (bytes < 1024) {
		snprintf(buf, len, "%" PRId64 " B", bytes);
		return;
	}
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
}

static void render_uptime(char *buf, size_t len, int64_t s)
{
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%" PRId64 "d %02d:%02d:%02d", s / 86400, (int)(s % 86400 / 3600),
			 (int)(s % 3600 / 60), (int)(s % 60));
	else
		snprintf(buf, len, "%02d:%02d:%02d", (int)(s / 3600), (int)(s % 3600 / 60), (int)(s % 60));
}

/* First member of obj among NULL-terminated alternative names. */
static const struct jr_value *get_any(const struct jr_value *obj, const char *const *names)
{
	for (; *names; names++) {
		const struct jr_value *v = jr_get(obj, *names);
		if (v && v->type != JR_NULL)
			return v;
	}
	return NULL;
}

#define ANY(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *str_any(const struct jr_value *obj, const char *const *names, const char *dflt)
{
	const struct jr_value *v = get_any(obj, names);
	return v && v->type == JR_STRING ? v->str : dflt;
}

static int64_t int_any(const struct jr_value *obj, const char *const *names, int64_t dflt)
{
	const struct jr_value *v = get_any(obj, names);
	if (v && v->type == JR_NUMBER)
		return v->i;
	if (v && v->type == JR_ARRAY)        /* e.g. "connections": [ ... ] */
		return (int64_t)v->n;
	return dflt;
}

static size_t count(const struct jr_value *arr)
{
	return arr && arr->type == JR_ARRAY ? arr->n : 0;
}

/* Print an array of strings joined by sep, or dflt when empty/missing. */
static void render_str_list(FILE *out, const struct jr_value *arr, const char *sep, const char *dflt)
{
	size_t printed = 0;
	for (size_t i = 0; i < count(arr); i++)
		if (arr->items[i].type == JR_STRING)
			fprintf(out, "%s%s", printed++ ? sep : "", arr->items[i].str);
	if (!printed)
		fputs(dflt, out);
}

/* name value pairs of an object of numbers ("counters"). */
static void render_counters(FILE *out, const char *indent, const struct jr_value *c)
{
	if (!c || c->type != JR_OBJECT || c->n == 0)
		return;
	fputs(indent, out);
	for (size_t i = 0; i < c->n; i++) {
		const struct jr_value *v = &c->items[i];
		if (v->type != JR_NUMBER)
			continue;
		if (strstr(c->keys[i], "bytes")) {
			char b[32];
			render_size(b, sizeof(b), v->i);
			fprintf(out, " %s %s", c->keys[i], b);
		} else {
			fprintf(out, " %s %" PRId64, c->keys[i], v->i);
		}
	}
	fputc('\n', out);
}

static void render_portal(FILE *out, const struct jr_value *pg)
{
	if (pg->type == JR_STRING) {
		fprintf(out, "portal %s\n", pg->str);
		return;
	}
	const char *name = str_any(pg, ANY("name", "portal_group"), NULL);
	int64_t tag = int_any(pg, ANY("tag", "tpgt"), -1);
	fputs("portal", out);
	if (name)
		fprintf(out, " group %s", name);
	if (tag >= 0)
		fprintf(out, " (tag %" PRId64 ")", tag);
	const struct jr_value *listen = get_any(pg, ANY("listen", "addresses"));
	const char *addr = str_any(pg, ANY("address", "addr"), NULL);
	if (listen) {
		fputs(": ", out);
		render_str_list(out, listen, ", ", "(no addresses)");
	} else if (addr) {
		int64_t port = int_any(pg, ANY("port"), -1);
		fprintf(out, strchr(addr, ':') && port >= 0 ? ": [%s]" : ": %s", addr);
		if (port >= 0)
			fprintf(out, ":%" PRId64, port);
	}
	fputc('\n', out);
}

/* Counters that are summed over a session's connections and shown per LUN. */
static const char *const counter_names[] = {
	"cmds", "reads", "writes", "read_bytes", "write_bytes", "errors", "pdus_in", "pdus_out", NULL,
};

/* One line of the well-known counters found in obj (or summed over the
 * objects of an array). Nothing when none is present. */
static void render_known_counters(FILE *out, const char *indent, const struct jr_value *v)
{
	bool any = false;
	for (int k = 0; counter_names[k]; k++) {
		int64_t sum = 0;
		bool found = false;
		if (v && v->type == JR_OBJECT) {
			const struct jr_value *n = jr_get(v, counter_names[k]);
			if (n && n->type == JR_NUMBER) {
				sum = n->i;
				found = true;
			}
		}
		for (size_t i = 0; i < count(v); i++) {
			const struct jr_value *n = jr_get(&v->items[i], counter_names[k]);
			if (n && n->type == JR_NUMBER) {
				sum += n->i;
				found = true;
			}
		}
		if (!found)
			continue;
		if (!any)
			fputs(indent, out);
		any = true;
		if (strstr(counter_names[k], "bytes")) {
			char b[32];
			render_size(b, sizeof(b), sum);
			fprintf(out, " %s %s", counter_names[k], b);
		} else {
			fprintf(out, " %s %" PRId64, counter_names[k], sum);
		}
	}
	if (any)
		fputc('\n', out);
}

static void render_lun(FILE *out, const struct jr_value *l)
{
	char size[32];
	int64_t bytes = int_any(l, ANY("size", "size_bytes"), -1);
	if (bytes > 0)
		render_size(size, sizeof(size), bytes);
	else
		snprintf(size, sizeof(size), "%s", bytes == 0 ? "device size" : "?");
	const char *path = str_any(l, ANY("path"), "");
	fprintf(out, "  lun %" PRId64 ": %s%s%s  size %s  cache %s  serial %s", int_any(l, ANY("lun", "id"), -1),
		str_any(l, ANY("backend"), "?"), path[0] ? " " : "", path, size, str_any(l, ANY("cache"), "?"),
		str_any(l, ANY("serial"), "?"));
	if (jr_bool(l, "readonly", false))
		fputs("  readonly", out);
	const char *state = str_any(l, ANY("state"), NULL);
	if (state)
		fprintf(out, "  %s", state);
	fputc('\n', out);
	render_known_counters(out, "   ", l);
}

static void render_session(FILE *out, const struct jr_value *s)
{
	const char *type = str_any(s, ANY("type"), "");
	fprintf(out, "    %s%s\n", str_any(s, ANY("initiator", "initiator_name"), "?"),
		strcmp(type, "discovery") == 0 ? "  (discovery)" : "");
	fprintf(out, "      isid %s  tsih %" PRId64 "  peer ", str_any(s, ANY("isid"), "?"), int_any(s, ANY("tsih"), 0));
	const char *peer = str_any(s, ANY("peer", "peer_addr", "address"), NULL);
	const struct jr_value *conns = jr_get(s, "connections");
	size_t npeers = 0;
	if (peer) {
		fputs(peer, out);
		npeers = 1;
	}
	for (size_t i = 0; !peer && i < count(conns); i++) {
		const char *p = str_any(&conns->items[i], ANY("peer"), NULL);
		if (p)
			fprintf(out, "%s%s", npeers++ ? ", " : "", p);
	}
	if (!npeers)
		fputc('?', out);
	fprintf(out, "  connections %" PRId64 "\n", int_any(s, ANY("connections", "nconnections"), 0));
	const struct jr_value *c = jr_get(s, "counters");
	if (c && c->type == JR_OBJECT)
		render_counters(out, "     ", c);
	else
		render_known_counters(out, "     ", conns);
}

static const char *session_target(const struct jr_value *s)
{
	return str_any(s, ANY("target", "target_name"), NULL);
}

/* "alua_groups": [{"name","id","state","ports":[rel ids],"portal_groups":[..]}] */
static void render_alua_group(FILE *out, const struct jr_value *g)
{
	fprintf(out, "alua group %s (id %" PRId64 "): %s", str_any(g, ANY("name"), "?"), int_any(g, ANY("id"), 0),
		str_any(g, ANY("state"), "?"));
	const struct jr_value *ports = jr_get(g, "ports");
	for (size_t i = 0; i < count(ports); i++)
		if (ports->items[i].type == JR_NUMBER)
			fprintf(out, "%s%" PRId64, i ? "," : "  target ports ", ports->items[i].i);
	const struct jr_value *pgs = jr_get(g, "portal_groups");
	if (count(pgs)) {
		fputs("  portal groups ", out);
		render_str_list(out, pgs, ",", "");
	}
	fputc('\n', out);
}

int ctl_print_status(FILE *out, const char *json, char *err, size_t errlen)
{
	struct jr_value *root = jr_parse(json, err, errlen);
	if (!root)
		return -1;
	if (root->type != JR_OBJECT || !jr_bool(root, "ok", false)) {
		snprintf(err, errlen, "%s", jr_str(root, "error", "tandemd reported a failure"));
		jr_free(root);
		return -1;
	}
	/* daemon facts either at top level or in a "daemon" object */
	const struct jr_value *dm = jr_get(root, "daemon");
	if (!dm || dm->type != JR_OBJECT)
		dm = root;
	char up[48] = "?";
	int64_t uptime = int_any(dm, ANY("uptime", "uptime_s"), -1);
	if (uptime >= 0)
		render_uptime(up, sizeof(up), uptime);
	fprintf(out, "tandemd %s  pid %" PRId64 "  up %s\n", str_any(dm, ANY("version"), "?"),
		int_any(dm, ANY("pid"), 0), up);
	const char *conf = str_any(dm, ANY("config"), str_any(root, ANY("config"), NULL));
	if (conf)
		fprintf(out, "config: %s\n", conf);

	const struct jr_value *pgs = get_any(root, ANY("portal_groups", "portals"));
	for (size_t i = 0; i < count(pgs); i++) {
		if (i == 0)
			fputc('\n', out);
		render_portal(out, &pgs->items[i]);
	}
	const struct jr_value *alua = jr_get(root, "alua_groups");
	for (size_t i = 0; i < count(alua); i++)
		render_alua_group(out, &alua->items[i]);
	if (count(alua))
		fprintf(out, "alua: %s\n", jr_bool(root, "alua_explicit", true) ? "implicit and explicit (initiators may "
			"send SET TARGET PORT GROUPS)" : "implicit only (SET TARGET PORT GROUPS refused)");

	repl_print_status(out, root);          /* "replication" (repl/repl_cli.c) */
	cluster_print_status(out, root);       /* "cluster" (cluster/cluster_cli.c) */

	const struct jr_value *targets = jr_get(root, "targets");
	const struct jr_value *all_sess = jr_get(root, "sessions");   /* flat list with "target" */
	if (count(targets) == 0)
		fputs("\nno targets\n", out);
	for (size_t i = 0; i < count(targets); i++) {
		const struct jr_value *t = &targets->items[i];
		const char *tname = str_any(t, ANY("name", "iqn"), "?");
		const char *alias = str_any(t, ANY("alias"), "");
		fprintf(out, "\ntarget %s%s%s\n", tname, alias[0] ? "  alias " : "", alias);
		const struct jr_value *tpg = jr_get(t, "portal_groups");
		if (tpg) {
			fputs("  portal groups: ", out);
			render_str_list(out, tpg, ", ", "all");
			fputc('\n', out);
		}
		const struct jr_value *luns = jr_get(t, "luns");
		for (size_t j = 0; j < count(luns); j++)
			render_lun(out, &luns->items[j]);
		const struct jr_value *sess = jr_get(t, "sessions");
		size_t n = count(sess);
		for (size_t j = 0; j < count(all_sess); j++) {
			const char *st = session_target(&all_sess->items[j]);
			n += st && strcmp(st, tname) == 0;
		}
		if (n == 0) {
			fputs("  sessions: none\n", out);
			continue;
		}
		fprintf(out, "  sessions: %zu\n", n);
		for (size_t j = 0; j < count(sess); j++)
			render_session(out, &sess->items[j]);
		for (size_t j = 0; j < count(all_sess); j++) {
			const char *st = session_target(&all_sess->items[j]);
			if (st && strcmp(st, tname) == 0)
				render_session(out, &all_sess->items[j]);
		}
	}
	/* flat sessions that belong to no listed target (e.g. discovery) */
	size_t other = 0;
	for (size_t j = 0; j < count(all_sess); j++) {
		const struct jr_value *s = &all_sess->items[j];
		const char *st = session_target(s);
		bool listed = false;
		for (size_t i = 0; st && i < count(targets); i++)
			listed |= strcmp(str_any(&targets->items[i], ANY("name", "iqn"), ""), st) == 0;
		if (listed)
			continue;
		if (other++ == 0)
			fputs("\nother sessions:\n", out);
		render_session(out, s);
	}
	const struct jr_value *counters = jr_get(root, "counters");
	if (counters && counters->type == JR_OBJECT && counters->n) {
		fputs("\ncounters:\n", out);
		render_counters(out, " ", counters);
	}
	jr_free(root);
	return 0;
}
